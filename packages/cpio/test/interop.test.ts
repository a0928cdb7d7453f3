import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  linkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_KEY_MODE,
  LSVMLOAD_KEY_MODE,
  type CpioEntry,
  directoryEntry,
  fileEntry,
  injectKeys,
  mergedView,
  parseCpio,
  parseInitramfs,
  rebuildInitramfs,
  serializeCpio,
  symlinkEntry,
  deviceEntry,
} from '@lsvm/cpio';
import { describeWithPeers, run, runBytes, runOk, tempDir } from '@lsvm/testkit';

/** Byte equality without jest's element-by-element diffing (slow on large arrays). */
const same = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed + 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `cpio -t` (name list) of an archive given as bytes. */
function cpioList(archive: Uint8Array): string[] {
  const r = run('cpio', ['-t', '--quiet'], { input: archive });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

/** Builds a host tree with every file type, runs `cpio -o -H <format>` over it. */
function peerArchive(root: string, format: 'newc' | 'crc'): { archive: Uint8Array; names: string[] } {
  mkdirSync(join(root, 'etc/lsvmload'), { recursive: true });
  writeFileSync(join(root, 'etc/lsvmload/bootkey'), bytes(32, 1));
  writeFileSync(join(root, 'etc/empty'), '');
  writeFileSync(join(root, 'big.bin'), bytes(300_001, 2));
  chmodSync(join(root, 'big.bin'), 0o4751);
  writeFileSync(join(root, 'hard1'), 'linked contents\n');
  linkSync(join(root, 'hard1'), join(root, 'hard2'));
  symlinkSync('etc/lsvmload/bootkey', join(root, 'link'));
  run('mkfifo', [join(root, 'fifo')]);
  run('mknod', [join(root, 'null'), 'c', '1', '3']);
  run('mknod', [join(root, 'sda'), 'b', '8', '0']);
  // GNU cpio stores `./x` as `x` (and `.` as `.`).
  const names = runOk('find', ['.'], { cwd: root })
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => (l === '.' ? l : l.replace(/^\.\//, '')))
    .sort();
  const archive = new Uint8Array(
    runBytes('sh', ['-c', `cd '${root}' && find . | LC_ALL=C sort | cpio -o -H ${format} --quiet`]),
  );
  return { archive, names };
}

describeWithPeers(['cpio', 'gzip', 'zstd', 'xz'], 'cpio interop with GNU cpio, gzip, zstd and xz', () => {
  let tmp: { path: string; cleanup: () => void };
  beforeAll(() => {
    tmp = tempDir('lsvm-cpio-');
  });
  afterAll(() => tmp.cleanup());

  test.each(['newc', 'crc'] as const)(
    'archives from cpio -o -H %s list and read like cpio -t / cpio -i, and re-serialise byte-identically',
    (format) => {
      const root = join(tmp.path, `src-${format}`);
      const { archive, names } = peerArchive(root, format);
      const a = parseCpio(archive);
      expect(a.format).toBe(format);
      expect(a.entries.map((e) => e.name).sort()).toEqual(names);
      expect(a.entries.map((e) => e.name)).toEqual(cpioList(archive));
      for (const e of a.entries) {
        const st = lstatSync(join(root, e.name));
        expect({ name: e.name, mode: e.mode, uid: e.uid, mtime: e.mtime }).toEqual({
          name: e.name,
          mode: st.mode,
          uid: st.uid,
          mtime: Math.floor(st.mtimeMs / 1000),
        });
        if (st.isSymbolicLink())
          expect(new TextDecoder().decode(e.data)).toBe(readlinkSync(join(root, e.name)));
        if (st.isCharacterDevice() || st.isBlockDevice()) {
          expect([e.rdevMajor, e.rdevMinor]).toEqual(e.name === 'null' ? [1, 3] : [8, 0]);
        }
      }
      const big = a.entries.find((e) => e.name === 'big.bin')!;
      expect(Buffer.from(big.data).equals(readFileSync(join(root, 'big.bin')))).toBe(true);
      expect(same(serializeCpio(a.entries, { format }), archive)).toBe(true);
    },
  );

  test('archives we write are extracted identically by cpio -i (every type, hard links, crc)', () => {
    const entries: CpioEntry[] = [
      directoryEntry('etc', { mode: 0o40755, mtime: 1_600_000_000 }),
      directoryEntry('etc/lsvmload', { mode: 0o40700 }),
      fileEntry('etc/lsvmload/rootkey', bytes(64, 3), { mode: 0o100400, uid: 0, mtime: 1_600_000_123 }),
      fileEntry('data.bin', bytes(123_457, 4), { mode: 0o100644 }),
      symlinkEntry('etc/link', 'lsvmload/rootkey'),
      deviceEntry('console', 'char', 5, 1, { mode: 0o600 }),
      { ...fileEntry('h1', new Uint8Array(0)), ino: 4242, nlink: 2 },
      { ...fileEntry('h2', new TextEncoder().encode('shared\n')), ino: 4242, nlink: 2 },
    ];
    for (const format of ['newc', 'crc'] as const) {
      const archive = serializeCpio(entries, { format });
      const out = join(tmp.path, `ours-${format}`);
      mkdirSync(out);
      const r = run(
        'cpio',
        ['-i', '-d', '--quiet', '--preserve-modification-time', '--no-absolute-filenames'],
        {
          input: archive,
          cwd: out,
        },
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(lstatSync(join(out, 'etc/lsvmload/rootkey')).mode).toBe(0o100400);
      expect(Math.floor(lstatSync(join(out, 'etc/lsvmload/rootkey')).mtimeMs / 1000)).toBe(1_600_000_123);
      expect(same(readFileSync(join(out, 'etc/lsvmload/rootkey')), bytes(64, 3))).toBe(true);
      expect(same(readFileSync(join(out, 'data.bin')), bytes(123_457, 4))).toBe(true);
      expect(readlinkSync(join(out, 'etc/link'))).toBe('lsvmload/rootkey');
      const dev = lstatSync(join(out, 'console'));
      expect(dev.isCharacterDevice()).toBe(true);
      expect(dev.rdev).toBe((5 << 8) | 1);
      expect(lstatSync(join(out, 'h1')).ino).toBe(lstatSync(join(out, 'h2')).ino);
      expect(readFileSync(join(out, 'h1'), 'utf8')).toBe('shared\n');
    }
  });

  describe.each(['zstd', 'gzip', 'xz'] as const)(
    'a Debian-style initramfs: microcode + %s main segment',
    (comp) => {
      let image: Uint8Array;
      let microcode: Uint8Array;
      beforeAll(() => {
        const early = join(tmp.path, `early-${comp}`);
        mkdirSync(join(early, 'kernel/x86/microcode'), { recursive: true });
        writeFileSync(join(early, 'kernel/x86/microcode/GenuineIntel.bin'), bytes(10_000, 5));
        microcode = new Uint8Array(
          runBytes('sh', ['-c', `cd '${early}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet`]),
        );
        const main = join(tmp.path, `main-${comp}`);
        for (const d of ['etc/lsvmload', 'usr/lib/modules/6.1.0/kernel/drivers/input/serio', 'scripts']) {
          mkdirSync(join(main, d), { recursive: true });
        }
        writeFileSync(join(main, 'etc/lsvmload/specialize'), 'specialize me\n');
        writeFileSync(
          join(main, 'usr/lib/modules/6.1.0/kernel/drivers/input/serio/hyperv-keyboard.ko'),
          bytes(5000, 6),
        );
        writeFileSync(join(main, 'init'), '#!/bin/sh\nexec /sbin/init\n');
        writeFileSync(join(main, 'scripts/functions'), bytes(20_000, 7));
        const tool =
          comp === 'zstd' ? 'zstd -q -19 -T1' : comp === 'gzip' ? 'gzip -9 -n' : 'xz --check=crc32 -T1';
        const compressed = new Uint8Array(
          runBytes('sh', [
            '-c',
            `cd '${main}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet | ${tool}`,
          ]),
        );
        image = new Uint8Array([...microcode, ...compressed]);
      });

      test('segments, compression and the merged view', async () => {
        const img = await parseInitramfs(image);
        expect(img.segments.map((s) => s.compression)).toEqual(['none', comp]);
        expect(same(img.segments[0]!.raw, microcode)).toBe(true);
        const paths = mergedView(img).map((m) => m.path);
        expect(paths).toContain('kernel/x86/microcode/GenuineIntel.bin');
        expect(paths).toContain('usr/lib/modules/6.1.0/kernel/drivers/input/serio/hyperv-keyboard.ko');
      });

      test.each([
        ['lsvmload mode', LSVMLOAD_KEY_MODE],
        ['our default mode', DEFAULT_KEY_MODE],
      ])(
        'inject-keys (%s): microcode segment byte-identical, cpio -t and cpio -i see the keys',
        async (_t, keyMode) => {
          const bootKey = new TextEncoder().encode('boot passphrase\n');
          const rootKey = bytes(48, 8);
          const r = await injectKeys(image, {
            bootKey,
            rootKey,
            keyMode: keyMode === DEFAULT_KEY_MODE ? undefined : keyMode,
            compression: comp === 'gzip' ? 'keep' : 'gzip',
          });
          expect(r.rewritten).toEqual([1]);
          expect(r.removed.sort()).toEqual([
            'etc/lsvmload/specialize',
            'usr/lib/modules/6.1.0/kernel/drivers/input/serio/hyperv-keyboard.ko',
          ]);
          expect(same(r.bytes.subarray(0, microcode.length), microcode)).toBe(true);
          const last = r.bytes.subarray(microcode.length);
          expect([last[0], last[1]]).toEqual([0x1f, 0x8b]);
          const plain = new Uint8Array(runBytes('sh', ['-c', `gzip -dc < '${writeTmp('last.gz', last)}'`]));
          const listing = run('cpio', ['-tv', '--quiet'], { input: plain }).stdout;
          const line = (p: string): string => listing.split('\n').find((l) => l.endsWith(` ${p}`)) ?? '';
          const want = keyMode === LSVMLOAD_KEY_MODE ? '-rwxr-xr-x' : '-r--------';
          expect(line('etc/lsvmload/bootkey')).toMatch(new RegExp(`^${want} `));
          expect(line('etc/lsvmload/rootkey')).toMatch(new RegExp(`^${want} `));
          expect(listing).not.toContain('hyperv-keyboard.ko');
          expect(listing).not.toContain('specialize');
          const out = join(tmp.path, `x-${comp}-${keyMode}`);
          mkdirSync(out);
          expect(run('cpio', ['-i', '-d', '--quiet'], { input: plain, cwd: out }).status).toBe(0);
          expect(same(readFileSync(join(out, 'etc/lsvmload/bootkey')), bootKey)).toBe(true);
          expect(same(readFileSync(join(out, 'etc/lsvmload/rootkey')), rootKey)).toBe(true);
          expect(readFileSync(join(out, 'init'), 'utf8')).toBe('#!/bin/sh\nexec /sbin/init\n');
        },
      );

      test('append mode leaves every existing segment byte-identical', async () => {
        const img = await parseInitramfs(image);
        const r = await rebuildInitramfs(
          img,
          { put: [fileEntry('added.txt', new TextEncoder().encode('new'))] },
          { target: 'append', compression: 'none' },
        );
        expect(same(r.bytes.subarray(0, image.length), image)).toBe(true);
        const again = await parseInitramfs(r.bytes);
        expect(again.segments).toHaveLength(3);
        expect(mergedView(again).find((m) => m.path === 'added.txt')?.data).toEqual(
          new TextEncoder().encode('new'),
        );
      });
    },
  );

  function writeTmp(name: string, data: Uint8Array): string {
    const p = join(tmp.path, `${Date.now()}-${Math.random().toString(36).slice(2)}-${name}`);
    writeFileSync(p, data);
    return p;
  }
});

describeWithPeers(['cpio', 'lz4'], 'lz4 legacy initramfs segments (lz4 -l, as the kernel reads)', () => {
  test('an lz4 -l main segment followed by a plain archive: parsed, merged and rebuilt', async () => {
    const tmp = tempDir('lsvm-lz4-');
    try {
      const main = join(tmp.path, 'main');
      mkdirSync(join(main, 'etc/lsvmload'), { recursive: true });
      writeFileSync(join(main, 'etc/lsvmload/specialize'), 'x\n');
      writeFileSync(join(main, 'blob.bin'), bytes(9 << 20, 9)); // more than one 8 MiB legacy block
      writeFileSync(join(main, 'text.txt'), 'abc'.repeat(100_000)); // long matches, overlapping copies
      const archive = new Uint8Array(
        runBytes('sh', ['-c', `cd '${main}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet`]),
      );
      writeFileSync(join(tmp.path, 'main.cpio'), archive);
      const lz = new Uint8Array(runBytes('lz4', ['-l', '-1', '-q', '-c', join(tmp.path, 'main.cpio')]));
      const late = serializeCpio([fileEntry('late.txt', new TextEncoder().encode('late'))]);
      const img = new Uint8Array(lz.length + late.length);
      img.set(lz);
      img.set(late, lz.length);
      const parsed = await parseInitramfs(img);
      expect(parsed.segments.map((s) => s.compression)).toEqual(['lz4', 'none']);
      expect(parsed.segments[0]!.expandedSize).toBe(archive.length);
      const view = mergedView(parsed);
      expect(same(view.find((m) => m.path === 'blob.bin')!.data, bytes(9 << 20, 9))).toBe(true);
      expect(new TextDecoder().decode(view.find((m) => m.path === 'text.txt')!.data)).toBe(
        'abc'.repeat(100_000),
      );
      expect(view.find((m) => m.path === 'late.txt')).toBeDefined();
      const r = await injectKeys(parsed, { bootKey: new Uint8Array([1]), rootKey: new Uint8Array([2]) });
      expect(r.rewritten).toEqual([0, 1]); // the removal hits segment 0, the keys go to the last
    } finally {
      tmp.cleanup();
    }
  });
});
