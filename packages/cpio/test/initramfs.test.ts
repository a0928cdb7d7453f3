import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LimitError, LsvmError } from '@lsvm/core';
import {
  decompressStream,
  fileEntry,
  injectKeys,
  mergedView,
  parseInitramfs,
  rebuildInitramfs,
  serializeCpio,
  xzStreamsLength,
  zstdFramesLength,
} from '@lsvm/cpio';
import fc from 'fast-check';

/** Seed images committed with the fuzz corpus (GNU cpio + gzip/zstd/xz, see fuzz/corpus/cpio). */
const corpus = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(join(__dirname, '..', 'fuzz', 'corpus', 'cpio', name)));

describe('initramfs segments', () => {
  test.each(['gzip', 'zstd', 'xz', 'lz4'] as const)(
    'microcode + %s: segment ends found exactly, zero padding skipped',
    async (kind) => {
      const img = corpus(`microcode+${kind}.img`);
      const padded = new Uint8Array(img.length + 7);
      padded.set(img);
      const parsed = await parseInitramfs(padded);
      expect(parsed.segments.map((s) => s.compression)).toEqual(['none', kind]);
      expect(parsed.segments[1]!.offset + parsed.segments[1]!.length).toBe(padded.length);
      const paths = mergedView(parsed).map((m) => m.path);
      expect(paths).toEqual(
        expect.arrayContaining(['kernel/x86/microcode/GenuineIntel.bin', 'etc/lsvmload/specialize']),
      );
      // A second archive appended after the compressed stream is a further segment.
      const extra = serializeCpio([fileEntry('late.txt', new Uint8Array([1]))]);
      const two = new Uint8Array([...img, 0, 0, 0, 0, ...extra]);
      const p2 = await parseInitramfs(two);
      expect(p2.segments.map((s) => s.compression)).toEqual(['none', kind, 'none']);
    },
  );

  test.each(['zstd', 'xz'] as const)('%s stream length scanners agree with the decoder', async (kind) => {
    const img = corpus(`microcode+${kind}.img`);
    const parsed = await parseInitramfs(img);
    const seg = parsed.segments[1]!;
    const at = seg.offset + seg.raw.findIndex((b) => b !== 0);
    const len = kind === 'zstd' ? zstdFramesLength(img.subarray(at)) : xzStreamsLength(img.subarray(at));
    expect(at + len).toBe(img.length);
    const r = await decompressStream(img.subarray(at), kind, 1 << 20);
    expect(r.consumed).toBe(len);
    await expect(decompressStream(img.subarray(at), kind, 100)).rejects.toBeInstanceOf(LimitError);
  });

  test('removing from an earlier segment rewrites only that one', async () => {
    const img = corpus('microcode+gzip.img');
    const parsed = await parseInitramfs(img);
    const r = await rebuildInitramfs(parsed, { remove: ['kernel/x86/microcode/GenuineIntel.bin'] });
    expect(r.rewritten).toEqual([0]);
    const again = await parseInitramfs(r.bytes);
    expect(Buffer.from(again.segments[1]!.raw).equals(Buffer.from(parsed.segments[1]!.raw))).toBe(true);
  });

  test('inject-keys refuses empty keys and keeps existing etc/lsvmload entries single', async () => {
    const img = corpus('microcode+zstd.img');
    await expect(
      injectKeys(img, { bootKey: new Uint8Array(0), rootKey: new Uint8Array(1) }),
    ).rejects.toMatchObject({
      code: 'CPIO_EMPTY_KEY',
    });
    const r = await injectKeys(img, {
      bootKey: new Uint8Array([1]),
      rootKey: new Uint8Array([2]),
      compression: 'none',
    });
    const last = (await parseInitramfs(r.bytes)).segments.at(-1)!;
    const names = last.entries.map((e) => e.name.replace(/^\.\//, ''));
    expect(names.filter((n) => n === 'etc/lsvmload')).toHaveLength(1);
    expect(names).not.toContain('etc/lsvmload/specialize');
  });

  test('hostile: mutated images give LsvmErrors only', async () => {
    const seeds = [
      'microcode+gzip.img',
      'microcode+zstd.img',
      'microcode+xz.img',
      'microcode+lz4.img',
      'lsvmtools-c.cpio.gz',
    ].map(corpus);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        async (which, muts) => {
          const b = seeds[which]!.slice();
          for (const [i, v] of muts) b[i % b.length] = v;
          try {
            mergedView(await parseInitramfs(b, { maxExpandedBytes: 1 << 20 }));
          } catch (e) {
            if (!(e instanceof LsvmError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
