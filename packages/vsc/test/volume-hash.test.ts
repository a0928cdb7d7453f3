import { AbortedError, MemoryDevice, UsageError, allocIoBuffers, isWasmBacked } from '@lsvm/core';
import { HashPool, hashBlocks, hashVolume } from '../src/index.js';
import { pattern } from './disk.js';

describe('hashVolume', () => {
  const data = pattern(9 * 1024 * 1024 + 12345, 3);
  const dev = new MemoryDevice(data);

  it.each([0, 1, 2, 3])(
    'gives the single-threaded result with %i workers, last block short',
    async (workers) => {
      const r = await hashVolume(dev, { blockSize: 65536, workers });
      expect(r.blockCount).toBe(Math.ceil(data.length / 65536));
      expect(r.hashedBlocks).toBe(r.blockCount);
      expect(Buffer.from(r.blockHashes).equals(Buffer.from(hashBlocks(data, 65536, 'sha256')))).toBe(true);
    },
  );

  it('hashes each block independently, without padding the last one', async () => {
    const small = new MemoryDevice(new Uint8Array(4096 + 10).fill(0x61));
    const r = await hashVolume(small, { blockSize: 4096, algorithm: 'sha384', workers: 1 });
    const { createHash } = await import('node:crypto');
    const h0 = createHash('sha384').update(Buffer.alloc(4096, 0x61)).digest();
    const h1 = createHash('sha384').update(Buffer.alloc(10, 0x61)).digest();
    expect(Buffer.from(r.blockHashes).equals(Buffer.concat([h0, h1]))).toBe(true);
  });

  it('handles an empty device and blocks larger than the chunk size', async () => {
    expect((await hashVolume(new MemoryDevice(0), { workers: 1 })).blockCount).toBe(0);
    const big = await hashVolume(dev, { blockSize: 16 * 1024 * 1024, workers: 2, algorithm: 'sha512' });
    expect(Buffer.from(big.blockHashes).equals(hashBlocks(data, 16 * 1024 * 1024, 'sha512'))).toBe(true);
  });

  it('reports progress in bytes up to the total, and delivers blocks in order', async () => {
    const seen: number[] = [];
    const starts: number[] = [];
    await hashVolume(dev, {
      blockSize: 1 << 20,
      workers: 2,
      onProgress: (done, total) => {
        expect(total).toBe(data.length);
        seen.push(done);
      },
      onBlocks: (first) => {
        starts.push(first);
      },
    });
    expect(seen[seen.length - 1]).toBe(data.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(starts[0]).toBe(0);
  });

  it('stops when onBlocks returns false', async () => {
    const r = await hashVolume(dev, { blockSize: 1 << 20, workers: 2, onBlocks: () => false });
    expect(r.hashedBlocks).toBeLessThan(r.blockCount);
  });

  it('is cancelled by its AbortSignal', async () => {
    const ac = new AbortController();
    const p = hashVolume(dev, {
      blockSize: 65536,
      workers: 1,
      signal: ac.signal,
      onProgress: () => ac.abort(),
    });
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    const pre = new AbortController();
    pre.abort();
    await expect(hashVolume(dev, { signal: pre.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('propagates device errors and leaves the pool usable', async () => {
    const pool = HashPool.create(1);
    try {
      const failing = new MemoryDevice(data);
      failing.readInto = async (_t: Uint8Array, off: number) => {
        if (off > 0) throw new UsageError('BOOM', 'read failed');
      };
      await expect(hashVolume(failing, { pool, blockSize: 1 << 20 })).rejects.toThrow('read failed');
      const r = await hashVolume(dev, { pool, blockSize: 1 << 20 });
      expect(r.hashedBlocks).toBe(r.blockCount);
    } finally {
      await pool.close();
    }
  });

  it.each([0, 1, 2])('reads the generic path into page-aligned buffers (%i workers)', async (workers) => {
    const aligned: boolean[] = [];
    const spy = new MemoryDevice(data);
    const inner = spy.readInto.bind(spy);
    spy.readInto = (t: Uint8Array, off: number) => {
      aligned.push(isWasmBacked(t));
      return inner(t, off);
    };
    const r = await hashVolume(spy, { workers, blockSize: 1 << 20 });
    expect(Buffer.from(r.blockHashes).equals(Buffer.from(hashBlocks(data, 1 << 20, 'sha256')))).toBe(true);
    expect(aligned.length).toBeGreaterThan(1);
    expect(aligned.every(Boolean)).toBe(true);
  });

  it.each([0, 1])(
    'HashPool.hash takes a view of shared memory at any offset (%i workers)',
    async (threads) => {
      const pool = HashPool.create(threads);
      try {
        const [, second] = allocIoBuffers(2, 3 * 4096 + 5, { shared: true });
        second!.set(data.subarray(0, second!.length));
        const viaView = await pool.hash(second!, 2 * 4096 + 1, 4096, 'sha384');
        expect(
          Buffer.from(viaView).equals(
            Buffer.from(hashBlocks(data.subarray(0, 2 * 4096 + 1), 4096, 'sha384')),
          ),
        ).toBe(true);
      } finally {
        await pool.close();
      }
    },
  );

  it('rejects bad parameters', async () => {
    await expect(hashVolume(dev, { blockSize: 3000 })).rejects.toBeInstanceOf(UsageError);
    await expect(hashVolume(dev, { blockSize: 2048 })).rejects.toBeInstanceOf(UsageError);
    expect(() => HashPool.create(-1)).toThrow(UsageError);
  });
});
