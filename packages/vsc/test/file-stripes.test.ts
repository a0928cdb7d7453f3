import { renameSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AbortedError,
  type BlockDevice,
  FileDevice,
  IoError,
  MemoryDevice,
  ReadOnlyDevice,
  SliceDevice,
  isWasmBacked,
} from '@lsvm/core';
import { tempDir } from '@lsvm/testkit';
import fc from 'fast-check';
import { fileRangeOf } from '../src/file-range.js';
import type { FileStripesTask } from '../src/hash-worker.js';
import { HashPool, type HashAlgorithm, hashBlocks, hashVolume } from '../src/index.js';
import { hashFileStripes, stripeTuning } from '../src/stripe-hashing.js';
import { pattern } from './disk.js';

const KiB = 1024;
const defaults = { ...stripeTuning };
const dir = tempDir('lsvm-vsc-stripes-');
afterAll(() => dir.cleanup());
afterEach(() => Object.assign(stripeTuning, defaults));

/** Writes `bytes` to a new file in the temp directory and returns its path. */
let files = 0;
function fileOf(bytes: Uint8Array): string {
  const path = join(dir.path, `f${files++}.img`);
  writeFileSync(path, bytes);
  return path;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('fileRangeOf', () => {
  let file: FileDevice;
  beforeAll(async () => {
    file = await FileDevice.open(fileOf(pattern(64 * KiB, 5)));
  });
  afterAll(() => file.close());

  it('follows slices and read-only views down to the file', () => {
    expect(fileRangeOf(file)).toMatchObject({ offset: 0, fileSize: 64 * KiB, path: file.path });
    const inner = new SliceDevice(file, 4096, 32 * KiB);
    const outer = new ReadOnlyDevice(new SliceDevice(inner, 512, 8 * KiB));
    expect(fileRangeOf(outer)).toMatchObject({ offset: 4096 + 512, file });
  });

  it('refuses devices whose bytes are not a plain file range', () => {
    expect(fileRangeOf(new MemoryDevice(4096))).toBeUndefined();
    expect(fileRangeOf(new SliceDevice(new MemoryDevice(8192), 0, 4096))).toBeUndefined();
    // A subclass or a patched instance may transform what it reads.
    class Xor extends SliceDevice {}
    expect(fileRangeOf(new Xor(file, 0, 4096))).toBeUndefined();
    const patched = new SliceDevice(file, 0, 4096);
    patched.readInto = async (t: Uint8Array) => void t.fill(1);
    expect(fileRangeOf(patched)).toBeUndefined();
    expect(fileRangeOf(new ReadOnlyDevice(patched))).toBeUndefined();
  });
});

describe('hashVolume on file ranges (workers read the file themselves)', () => {
  let pool: HashPool;
  beforeAll(() => {
    pool = HashPool.create(2);
  });
  afterAll(() => pool.close());

  it('gives the generic path’s hash list for random sizes, block sizes, offsets and stripes', async () => {
    const disk = pattern(3 * 1024 * KiB + 777, 11);
    const path = fileOf(disk);
    const file = await FileDevice.open(path);
    const memory = new MemoryDevice(disk);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            offset: fc.nat(disk.length),
            size: fc.nat(disk.length),
            blockShift: fc.integer({ min: 12, max: 20 }),
            blocksPerStripe: fc.integer({ min: 1, max: 5 }),
            pieceKiB: fc.integer({ min: 1, max: 300 }),
            algorithm: fc.constantFrom<HashAlgorithm>('sha256', 'sha384', 'sha512'),
          }),
          async ({ offset, size, blockShift, blocksPerStripe, pieceKiB, algorithm }) => {
            const length = Math.min(size, disk.length - offset);
            const blockSize = 2 ** blockShift;
            stripeTuning.stripeTarget = blocksPerStripe * blockSize;
            stripeTuning.pieceSize = pieceKiB * KiB;
            const opts = { blockSize, algorithm, pool };
            const viaFile = await hashVolume(new SliceDevice(file, offset, length), opts);
            const viaMemory = await hashVolume(new SliceDevice(memory, offset, length), opts);
            expect(viaFile.hashedBlocks).toBe(Math.ceil(length / blockSize));
            expect(viaFile.blockCount).toBe(viaMemory.blockCount);
            expect(hex(viaFile.blockHashes)).toBe(hex(viaMemory.blockHashes));
            expect(hex(viaFile.blockHashes)).toBe(
              hex(hashBlocks(disk.subarray(offset, offset + length), blockSize, algorithm)),
            );
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await file.close();
    }
  });

  it('delivers blocks in order, reports monotonic progress to the total, and stops on false', async () => {
    stripeTuning.stripeTarget = 64 * KiB;
    const data = pattern(1024 * KiB + 100, 4);
    const file = await FileDevice.open(fileOf(data));
    try {
      const starts: number[] = [];
      const seen: number[] = [];
      const r = await hashVolume(file, {
        pool,
        blockSize: 16 * KiB,
        onBlocks: (first, hashes) => {
          expect(first).toBe(starts.length === 0 ? 0 : starts[starts.length - 1]! + 4);
          expect(hashes.length).toBe(first + 4 <= 64 ? 4 * 32 : (65 - first) * 32);
          starts.push(first);
          return undefined;
        },
        onProgress: (done, total) => {
          expect(total).toBe(data.length);
          seen.push(done);
        },
      });
      expect(starts.length).toBe(17);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(seen[seen.length - 1]).toBe(data.length);
      expect(r.hashedBlocks).toBe(65);

      const stopped = await hashVolume(file, { pool, blockSize: 16 * KiB, onBlocks: (first) => first < 8 });
      expect(stopped.hashedBlocks).toBe(12);
      expect(hex(stopped.blockHashes.subarray(0, 12 * 32))).toBe(hex(r.blockHashes.subarray(0, 12 * 32)));
    } finally {
      await file.close();
    }
  });

  it('handles an empty range', async () => {
    const file = await FileDevice.open(fileOf(pattern(4096, 2)));
    try {
      const progress: [number, number][] = [];
      const r = await hashVolume(new SliceDevice(file, 4096, 0), {
        pool,
        onProgress: (d, t) => void progress.push([d, t]),
      });
      expect(r.blockCount).toBe(0);
      expect(progress).toEqual([[0, 0]]);
    } finally {
      await file.close();
    }
  });

  it('is cancelled by its AbortSignal, and the pool stays usable', async () => {
    stripeTuning.stripeTarget = 64 * KiB;
    const data = pattern(2048 * KiB, 6);
    const file = await FileDevice.open(fileOf(data));
    try {
      const ac = new AbortController();
      await expect(
        hashVolume(file, { pool, blockSize: 4 * KiB, signal: ac.signal, onProgress: () => ac.abort() }),
      ).rejects.toBeInstanceOf(AbortedError);
      const r = await hashVolume(file, { pool, blockSize: 4 * KiB });
      expect(hex(r.blockHashes)).toBe(hex(hashBlocks(data, 4 * KiB, 'sha256')));
    } finally {
      await file.close();
    }
  });

  it('reports a file that shrinks under it as a short read', async () => {
    stripeTuning.stripeTarget = 16 * KiB;
    const path = fileOf(pattern(256 * KiB, 8));
    const file = await FileDevice.open(path);
    try {
      // Shrunk before the run: the workers read the device's own descriptor and find it short.
      truncateSync(path, 64 * KiB);
      const run = hashVolume(file, { pool, blockSize: 16 * KiB });
      await expect(run).rejects.toBeInstanceOf(IoError);
      await expect(run).rejects.toMatchObject({ code: 'SHORT_READ' });
      // Shrunk while the workers read (here: a range longer than the file): their short read is
      // a typed error too, naming the offset within the volume.
      const handle = await open(path, 'r');
      try {
        const range = { path, offset: 4096, fileSize: 256 * KiB, file };
        const during = hashFileStripes(handle.fd, range, 128 * KiB, pool, 'sha256', 16 * KiB, {});
        await expect(during).rejects.toBeInstanceOf(IoError);
        await expect(during).rejects.toMatchObject({ code: 'SHORT_READ', offset: 64 * KiB - 4096 });
      } finally {
        await handle.close();
      }
    } finally {
      await file.close();
    }
  });

  it.each([
    ['a file of the same size', 256],
    ['a smaller file', 128],
  ])('hashes the file the device opened when %s was renamed over its path since', async (_, kib) => {
    const original = pattern(256 * KiB, 9);
    const path = fileOf(original);
    const file = await FileDevice.open(path);
    try {
      renameSync(fileOf(pattern(kib * KiB, 10)), path);
      for (const dev of [file, new ReadOnlyDevice(new SliceDevice(file, 4096, 200 * KiB))]) {
        const start = dev === file ? 0 : 4096;
        const r = await hashVolume(dev, { pool, blockSize: 64 * KiB });
        expect(hex(r.blockHashes)).toBe(
          hex(hashBlocks(original.subarray(start, start + dev.size), 64 * KiB, 'sha256')),
        );
      }
    } finally {
      await file.close();
    }
  });

  it('keeps the descriptor open while the workers read: a close() meanwhile waits for the run', async () => {
    stripeTuning.stripeTarget = 64 * KiB;
    const data = pattern(2048 * KiB, 13);
    const file = await FileDevice.open(fileOf(data));
    let closing: Promise<void> | undefined;
    const r = await hashVolume(file, {
      pool,
      blockSize: 16 * KiB,
      onProgress: () => {
        closing ??= file.close();
      },
    });
    await closing;
    expect(closing).toBeDefined();
    expect(hex(r.blockHashes)).toBe(hex(hashBlocks(data, 16 * KiB, 'sha256')));
    await expect(hashVolume(file, { pool })).rejects.toMatchObject({ code: 'DEVICE_CLOSED' });
  });

  it('gives each worker its own page-aligned scratch buffer', async () => {
    const data = pattern(512 * KiB, 14);
    const file = await FileDevice.open(fileOf(data));
    const tasks: FileStripesTask[] = [];
    const spy = Object.create(pool) as HashPool;
    spy.hashFileStripes = (task) => {
      tasks.push(task);
      return pool.hashFileStripes(task);
    };
    try {
      stripeTuning.stripeTarget = 64 * KiB;
      stripeTuning.pieceSize = 100 * KiB; // not a page multiple: the buffers are still aligned
      const r = await hashVolume(file, { pool: spy, blockSize: 128 * KiB });
      expect(hex(r.blockHashes)).toBe(hex(hashBlocks(data, 128 * KiB, 'sha256')));
      expect(tasks).toHaveLength(2);
      const { scratch } = tasks[0]!;
      expect(scratch).toHaveLength(2);
      expect(scratch.every((b) => isWasmBacked(b) && b.length === 100 * KiB)).toBe(true);
      expect(scratch[0]!.buffer).toBe(scratch[1]!.buffer);
      expect(scratch[1]!.byteOffset - scratch[0]!.byteOffset).toBeGreaterThanOrEqual(100 * KiB);
    } finally {
      await file.close();
    }
  });

  it('fails on a closed device (it never reopens the path)', async () => {
    const file = await FileDevice.open(fileOf(pattern(64 * KiB, 12)));
    const slice: BlockDevice = new SliceDevice(file, 0, 32 * KiB);
    await file.close();
    await expect(hashVolume(slice, { pool })).rejects.toMatchObject({ code: 'DEVICE_CLOSED' });
  });
});

describe('callbacks that throw', () => {
  it.each([0, 1])(
    'a throwing onBlocks fails the run with its error (%i workers), no unhandled rejection',
    async (threads) => {
      const pool = HashPool.create(threads);
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown): void => void unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      try {
        const dev = new MemoryDevice(pattern(64 * 1024 * 1024, 3));
        const boom = new Error('callback failed');
        await expect(
          hashVolume(dev, {
            pool,
            blockSize: 1024 * 1024,
            onBlocks: () => {
              throw boom;
            },
          }),
        ).rejects.toBe(boom);
        await new Promise((r) => setImmediate(r));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
        await pool.close();
      }
    },
  );
});
