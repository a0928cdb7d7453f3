import { allocIoBuffers } from '../src/io-buffers.js';

describe('allocIoBuffers', () => {
  test('separate page-aligned buffers of the asked size (WebAssembly memory)', () => {
    const bufs = allocIoBuffers(4, 256 * 1024);
    expect(bufs).toHaveLength(4);
    bufs.forEach((b, i) => {
      expect(b.length).toBe(256 * 1024);
      expect(b.byteOffset % 4096).toBe(0);
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill(i + 1);
    });
    // No two overlap: each still holds only its own fill.
    for (const [i, b] of bufs.entries()) expect(b.every((x) => x === i + 1)).toBe(true);
  });

  test('sizes that are not a multiple of a page still give disjoint buffers', () => {
    const bufs = allocIoBuffers(3, 5000);
    for (const [i, b] of bufs.entries()) b.fill(i + 1);
    bufs.forEach((b, i) => {
      expect(b.length).toBe(5000);
      expect(b.every((x) => x === i + 1)).toBe(true);
    });
  });

  test('plain typed arrays where WebAssembly is missing', () => {
    const g = globalThis as { WebAssembly?: unknown };
    const saved = g.WebAssembly;
    g.WebAssembly = undefined;
    try {
      const bufs = allocIoBuffers(2, 8192);
      expect(bufs.map((b) => b.length)).toEqual([8192, 8192]);
      expect(bufs[0]!.buffer).not.toBe(bufs[1]!.buffer);
    } finally {
      g.WebAssembly = saved;
    }
  });
});
