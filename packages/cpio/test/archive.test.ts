import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChecksumError, FormatError, LimitError, LsvmError } from '@lsvm/core';
import {
  type CpioEntry,
  decompress,
  deviceEntry,
  directoryEntry,
  fileEntry,
  compress,
  mergedView,
  modeString,
  normalizeName,
  parseCpio,
  parseInitramfs,
  parseNewcHeader,
  resolveHardLinks,
  safeExtractPath,
  serializeCpio,
  serializeNewcHeader,
  symlinkEntry,
} from '@lsvm/cpio';
import { sharedVectors } from '@lsvm/testkit';
import fc from 'fast-check';

const vectors = join(sharedVectors, 'lsvmtools');
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('lsvmtools test vectors', () => {
  test('a.cpio (namesize 11 for the 12-byte name etc/lsvmload) is a clear FormatError', () => {
    const bytes = readFileSync(join(vectors, 'a.cpio'));
    let err: unknown;
    try {
      parseCpio(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect(err).toMatchObject({ code: 'CPIO_BAD_NAME', offset: 338 });
    expect((err as Error).message).toContain('not NUL-terminated at its stated size 11');
  });

  test('b.cpio lists dir1/file1 and dir1/file2 and re-serialises byte-identically', () => {
    const bytes = new Uint8Array(readFileSync(join(vectors, 'b.cpio')));
    const a = parseCpio(bytes);
    expect(a.entries.map((e) => [e.name, modeString(e.mode), e.data.length])).toEqual([
      ['.', 'drwxr-xr-x', 0],
      ['dir1', 'drwxr-xr-x', 0],
      ['dir1/file2', '-rwxr-xr-x', 1272],
      ['dir1/file1', '-rwxr-xr-x', 1272],
    ]);
    expect(serializeCpio(a.entries)).toEqual(bytes);
  });

  test('c.cpio.gz is a one-segment gzip initramfs', async () => {
    const img = await parseInitramfs(new Uint8Array(readFileSync(join(vectors, 'c.cpio.gz'))));
    expect(img.segments.map((s) => s.compression)).toEqual(['gzip']);
    expect(mergedView(img).map((m) => `${m.path}:${m.data.length}`)).toEqual([
      '.:0',
      'dir2:0',
      'dir2/file2:1272',
      'dir2/file1:1272',
      'dir3:0',
      'dir3/file2:0',
      'dir3/file1:0',
    ]);
  });
});

describe('newc headers and archives', () => {
  test('header round trip and hex checks', () => {
    const h = {
      format: 'crc' as const,
      ino: 0xdeadbeef,
      mode: 0o100644,
      uid: 1000,
      gid: 100,
      nlink: 1,
      mtime: 1_700_000_000,
      fileSize: 5,
      devMajor: 8,
      devMinor: 1,
      rdevMajor: 0,
      rdevMinor: 0,
      nameSize: 6,
      check: 0x1f4,
    };
    const b = serializeNewcHeader(h);
    expect(String.fromCharCode(...b.subarray(0, 14))).toBe('070702DEADBEEF');
    expect(parseNewcHeader(b)).toEqual(h);
    b[20] = 0x47; // 'G'
    expect(() => parseNewcHeader(b)).toThrow(
      expect.objectContaining({ code: 'CPIO_BAD_HEADER', offset: 20 }),
    );
  });

  test('"crc" archives verify the data checksum', () => {
    const bytes = serializeCpio([fileEntry('f', text('hello'))], { format: 'crc' });
    expect(parseCpio(bytes).entries[0]!.data).toEqual(text('hello'));
    const at = bytes.indexOf(0x68); // 'h'
    bytes[at] = 0x48;
    expect(() => parseCpio(bytes)).toThrow(ChecksumError);
  });

  test('truncation, a missing trailer and trailing data are FormatErrors', () => {
    const bytes = serializeCpio([fileEntry('f', new Uint8Array(100))], { blockSize: 0 });
    expect(() => parseCpio(bytes.subarray(0, 150))).toThrow(
      expect.objectContaining({ code: 'CPIO_TRUNCATED' }),
    );
    expect(() => parseCpio(bytes.subarray(0, 212))).toThrow(
      expect.objectContaining({ code: 'CPIO_NO_TRAILER' }),
    );
    const two = new Uint8Array([...bytes, ...bytes]);
    expect(() => parseCpio(two)).toThrow(expect.objectContaining({ code: 'CPIO_TRAILING_DATA' }));
  });

  test('limits: entry count and name size', () => {
    const bytes = serializeCpio([
      fileEntry('a', text('1')),
      fileEntry('b', text('2')),
      fileEntry('c'.repeat(300), text('3')),
    ]);
    expect(() => parseCpio(bytes, { maxEntries: 2 })).toThrow(LimitError);
    expect(() => parseCpio(bytes, { maxNameSize: 100 })).toThrow(
      expect.objectContaining({ code: 'CPIO_LIMIT_NAME' }),
    );
  });

  test('hard links share the data of the member that carries it', () => {
    const a = { ...fileEntry('x', new Uint8Array(0)), ino: 9, nlink: 2 };
    const b = { ...fileEntry('y', text('data')), ino: 9, nlink: 2 };
    const parsed = parseCpio(serializeCpio([a, b])).entries;
    expect(resolveHardLinks(parsed).map((d) => new TextDecoder().decode(d))).toEqual(['data', 'data']);
  });

  test('names: normalisation and extraction safety', () => {
    expect(normalizeName('./etc//lsvmload/')).toBe('etc/lsvmload');
    expect(normalizeName('/')).toBe('.');
    expect(safeExtractPath('/abs/path')).toBe('abs/path');
    expect(() => safeExtractPath('a/../../etc/passwd')).toThrow(
      expect.objectContaining({ code: 'CPIO_UNSAFE_PATH' }),
    );
  });

  const entryArb: fc.Arbitrary<CpioEntry> = fc
    .record({
      name: fc.stringMatching(/^[a-zA-Z0-9._\-/ ]{1,60}$/).filter((n) => n !== 'TRAILER!!!'),
      kind: fc.constantFrom('file', 'dir', 'link', 'char', 'block'),
      data: fc.uint8Array({ maxLength: 300 }),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: fc.nat(),
      gid: fc.nat(),
      mtime: fc.nat(),
      ino: fc.nat(),
      major: fc.nat({ max: 4095 }),
      minor: fc.nat({ max: 0xfffff }),
    })
    .map((r) => {
      const o = { mode: r.mode, uid: r.uid, gid: r.gid, mtime: r.mtime, ino: r.ino };
      if (r.kind === 'file') return fileEntry(r.name, r.data, { ...o, mode: 0o100000 | r.mode });
      if (r.kind === 'dir') return directoryEntry(r.name, { ...o, mode: 0o40000 | r.mode });
      if (r.kind === 'link') return symlinkEntry(r.name, 'target/of/link', o);
      return deviceEntry(r.name, r.kind as 'char' | 'block', r.major, r.minor, o);
    });

  test('property: parse(serialize(entries)) equals the entries, and serialize(parse(bytes)) the bytes', () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { maxLength: 12 }),
        fc.constantFrom('newc', 'crc') as fc.Arbitrary<'newc' | 'crc'>,
        (entries, format) => {
          const bytes = serializeCpio(entries, { format });
          expect(bytes.length % 512).toBe(0);
          const a = parseCpio(bytes);
          expect(a.format).toBe(format);
          expect(a.entries).toEqual(entries);
          expect(serializeCpio(a.entries, { format })).toEqual(bytes);
        },
      ),
    );
  });

  test('hostile: random mutations of an archive give LsvmErrors only', () => {
    const base = serializeCpio(
      [directoryEntry('etc'), fileEntry('etc/a', text('x'.repeat(100))), symlinkEntry('l', 'etc/a')],
      { format: 'crc' },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat({ max: base.length }),
        (muts, cut) => {
          const b = base.slice(0, Math.max(cut, 1));
          for (const [i, v] of muts) if (i < b.length) b[i] = v;
          try {
            parseCpio(b);
          } catch (e) {
            if (!(e instanceof LsvmError)) throw e;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('compression', () => {
  test('a gzip bomb stops at the expansion limit with a LimitError', async () => {
    const bomb = await compress(new Uint8Array(4 << 20), 'gzip', { level: 1 });
    expect(bomb.length).toBeLessThan(32 * 1024);
    await expect(decompress(bomb, 'gzip', 1 << 20)).rejects.toBeInstanceOf(LimitError);
    expect((await decompress(bomb, 'gzip', 16 << 20)).length).toBe(4 << 20);
  });

  test('zero padding after a gzip stream is tolerated; corruption is a FormatError', async () => {
    const gz = await compress(text('hello world'), 'gzip');
    const padded = new Uint8Array(gz.length + 13);
    padded.set(gz);
    expect(new TextDecoder().decode(await decompress(padded, 'gzip', 1000))).toBe('hello world');
    const broken = gz.slice();
    broken[12] = broken[12]! ^ 0xff;
    await expect(decompress(broken, 'gzip', 1000)).rejects.toBeInstanceOf(LsvmError);
    const badCrc = gz.slice();
    badCrc[badCrc.length - 6] = badCrc[badCrc.length - 6]! ^ 1;
    await expect(decompress(badCrc, 'gzip', 1000)).rejects.toMatchObject({ code: 'CPIO_GZIP_CRC' });
  });

  test('zstd: our encoder round-trips through fzstd and through zstd(1)', async () => {
    const data = text('initramfs '.repeat(5000));
    const z = await compress(data, 'zstd');
    expect(Array.from(z.subarray(0, 4))).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(z.length).toBeLessThan(data.length / 20);
    expect(new TextDecoder().decode(await decompress(z, 'zstd', 1 << 20))).toBe('initramfs '.repeat(5000));
    const { peer } = await import('@lsvm/testkit');
    const zstd = peer('zstd', 'zstd');
    if (zstd) {
      const { execFileSync } = await import('node:child_process');
      expect(execFileSync(zstd, ['-dc'], { input: z }).toString()).toBe('initramfs '.repeat(5000));
    }
  });

  test('concatenated gzip members decode as one stream, each trailer checked', async () => {
    const two = new Uint8Array([
      ...(await compress(text('first '), 'gzip')),
      ...(await compress(text('second'), 'gzip')),
    ]);
    expect(new TextDecoder().decode(await decompress(two, 'gzip', 1000))).toBe('first second');
  });
});
