import { IO_BUFFER_ALIGNMENT, allocIoBuffers, isWasmBacked } from '../src/index.js';

const tag = (x: unknown): string => Object.prototype.toString.call(x);

describe('allocIoBuffers', () => {
  test.each([
    [1, 4096],
    [3, 128 * 1024],
    [4, 5000], // not a page multiple: buffers are still page-aligned, a stride of 8 KiB apart
    [2, 1],
  ])('%i buffers of %i bytes: exact sizes, page-aligned, zeroed, disjoint', (count, size) => {
    const bufs = allocIoBuffers(count, size);
    expect(bufs).toHaveLength(count);
    for (const [i, b] of bufs.entries()) {
      expect(b.length).toBe(size);
      expect(b.byteOffset % IO_BUFFER_ALIGNMENT).toBe(0);
      expect(isWasmBacked(b)).toBe(true);
      expect(b.every((x) => x === 0)).toBe(true);
      b.fill(i + 1);
    }
    // Filling each one touched no other.
    for (const [i, b] of bufs.entries()) expect(b.every((x) => x === i + 1)).toBe(true);
  });

  test('shared buffers live in a SharedArrayBuffer (for worker threads)', () => {
    const [a, b] = allocIoBuffers(2, 64 * 1024, { shared: true });
    // Compared by tag: jest's sandbox has its own ArrayBuffer constructors.
    expect(tag(a!.buffer)).toBe('[object SharedArrayBuffer]');
    expect(b!.buffer).toBe(a!.buffer);
    expect(isWasmBacked(b!)).toBe(true);
    expect(tag(allocIoBuffers(1, 4096)[0]!.buffer)).toBe('[object ArrayBuffer]');
  });

  test('falls back to ordinary arrays without WebAssembly', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebAssembly')!;
    Object.defineProperty(globalThis, 'WebAssembly', {
      value: undefined,
      configurable: true,
      writable: true,
    });
    try {
      const plain = allocIoBuffers(2, 8192);
      expect(plain.map((b) => b.length)).toEqual([8192, 8192]);
      expect(plain.some(isWasmBacked)).toBe(false);
      plain[0]!.fill(1);
      expect(plain[1]!.every((x) => x === 0)).toBe(true);
      expect(tag(allocIoBuffers(1, 100, { shared: true })[0]!.buffer)).toBe('[object SharedArrayBuffer]');
    } finally {
      Object.defineProperty(globalThis, 'WebAssembly', saved);
    }
  });

  test('shared without WebAssembly or SharedArrayBuffer is a typed refusal', () => {
    const saved = ['WebAssembly', 'SharedArrayBuffer'].map(
      (k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)!] as const,
    );
    for (const [k] of saved)
      Object.defineProperty(globalThis, k, { value: undefined, configurable: true, writable: true });
    try {
      expect(() => allocIoBuffers(1, 4096, { shared: true })).toThrow(
        expect.objectContaining({ code: 'NO_SHARED_MEMORY', kind: 'unsupported' }),
      );
      expect(allocIoBuffers(1, 4096)[0]!.length).toBe(4096);
    } finally {
      for (const [k, d] of saved) Object.defineProperty(globalThis, k, d);
    }
  });

  test('edge cases and bad arguments', () => {
    expect(allocIoBuffers(0, 4096)).toEqual([]);
    expect(allocIoBuffers(2, 0).map((b) => b.length)).toEqual([0, 0]);
    expect(isWasmBacked(new Uint8Array(4096))).toBe(false);
    for (const [count, size] of [
      [-1, 4096],
      [1, -1],
      [1.5, 4096],
      [2, 2 ** 32],
    ] as const) {
      expect(() => allocIoBuffers(count, size)).toThrow(expect.objectContaining({ code: 'BAD_SIZE' }));
    }
  });
});
