import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  type BlockDevice,
  IO_BUFFER_ALIGNMENT,
  IO_BUFFERS_MAX_BYTES,
  type LongOperationOptions,
  UsageError,
  allocIoBuffers,
  throwIfAborted,
} from '@lsvm/core';
import { Tinypool } from 'tinypool';
import {
  DEFAULT_BLOCK_SIZE,
  DIGEST_LENGTH,
  type HashAlgorithm,
  isHashAlgorithm,
  isValidBlockSize,
} from './algorithms.js';
import { leaseFileRange } from './file-range.js';
import { type FileStripesResult, type FileStripesTask, HASH_WORKER_URL } from './hash-worker.js';
import { OrderedDelivery } from './ordered-delivery.js';
import { hashFileStripes } from './stripe-hashing.js';

/**
 * Streaming, parallel block hashing of a volume (docs/formats/vsc.md §4). Two paths, same result:
 *
 * - **File ranges** (a raw image, a GPT partition of it: see `fileRangeOf`): the workers read the
 *   file themselves, each a stripe of whole blocks at a time, in small cache-sized reads hashed
 *   while hot (`stripe-hashing.ts`). The calling thread only hands out stripes.
 * - **Any other device** (VHDX, a decrypted LUKS view, memory): the calling thread reads the
 *   device sequentially in chunks of whole blocks into a small ring of SharedArrayBuffers, and the
 *   workers hash the blocks of a chunk while the next chunks are read. Memory is bounded by the
 *   ring: `(workers + 2) × chunk` bytes.
 *
 * Blocks are independent, so hashing scales with cores. With 0 workers the calling thread does
 * everything through the second path.
 */

/** Bytes read per chunk (rounded to whole blocks; at least one block). */
const CHUNK_TARGET = 8 * 1024 * 1024;

/** A pool of hashing workers, reusable across volumes. Close it with {@link HashPool.close}. */
export class HashPool {
  private constructor(
    private readonly pool: Tinypool | undefined,
    /** Number of worker threads (0: hashing happens on the calling thread). */
    readonly threads: number,
  ) {}

  /**
   * Starts `threads` workers (default: the available parallelism, at most 8). With 0, no worker
   * is started and blocks are hashed on the calling thread.
   */
  static create(threads: number = defaultThreads()): HashPool {
    if (!Number.isSafeInteger(threads) || threads < 0 || threads > 256) {
      throw new UsageError('VSC_BAD_WORKERS', `worker count ${threads} must be 0 to 256`);
    }
    if (threads === 0) return new HashPool(undefined, 0);
    const pool = new Tinypool({
      filename: HASH_WORKER_URL,
      minThreads: threads,
      maxThreads: threads,
      execArgv: [],
    });
    return new HashPool(pool, threads);
  }

  /**
   * Hashes the first `length` bytes of `buffer` in blocks; returns the digests concatenated. A
   * buffer in shared memory (a `SharedArrayBuffer`, or a view of one) is hashed in place by the
   * worker; any other is copied to it.
   */
  async hash(
    buffer: SharedArrayBuffer | ArrayBuffer | Uint8Array,
    length: number,
    blockSize: number,
    algorithm: HashAlgorithm,
  ): Promise<Uint8Array> {
    const digestLength = DIGEST_LENGTH[algorithm];
    if (this.pool === undefined) {
      const data = ArrayBuffer.isView(buffer)
        ? buffer.subarray(0, length)
        : new Uint8Array(buffer, 0, length);
      return hashBlocks(data, blockSize, algorithm);
    }
    const out: unknown = await this.pool.run({ buffer, length, blockSize, algorithm, digestLength });
    return out as Uint8Array;
  }

  /**
   * Runs one `hashFileStripes` task on a worker (the file-range path; needs `threads > 0`). A run
   * starts one per worker with the same task; they share its stripes.
   */
  async hashFileStripes(task: FileStripesTask): Promise<FileStripesResult> {
    if (this.pool === undefined) throw new UsageError('VSC_NO_WORKERS', 'file-range hashing needs workers');
    const out: unknown = await this.pool.run(task, { name: 'hashFileStripes' });
    return out as FileStripesResult;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}

function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** Hashes `data` in blocks on the calling thread (the worker's algorithm, for 0 workers and tests). */
export function hashBlocks(data: Uint8Array, blockSize: number, algorithm: HashAlgorithm): Uint8Array {
  const dl = DIGEST_LENGTH[algorithm];
  const count = Math.ceil(data.length / blockSize);
  const out = new Uint8Array(count * dl);
  for (let i = 0; i < count; i++) {
    const start = i * blockSize;
    out.set(
      createHash(algorithm)
        .update(data.subarray(start, Math.min(data.length, start + blockSize)))
        .digest(),
      i * dl,
    );
  }
  return out;
}

/** Options of {@link hashVolume}. */
export interface HashVolumeOptions extends LongOperationOptions {
  /** Default `sha256`. */
  algorithm?: HashAlgorithm;
  /** Default 1 MiB. Power of two from 4 KiB to 64 MiB. */
  blockSize?: number;
  /** A pool to use (not closed afterwards). Without it a pool of {@link HashVolumeOptions.workers} is made. */
  pool?: HashPool;
  /** Worker threads when no pool is given (default: available parallelism, at most 8; 0 = this thread). */
  workers?: number;
  /**
   * Receives the hashes in block order as they become available: `hashes` holds the digests of
   * blocks `firstBlock…`. Returning `false` stops hashing early (verify's "first difference").
   */
  onBlocks?: (firstBlock: number, hashes: Uint8Array) => boolean | undefined;
}

/** Result of {@link hashVolume}. */
export interface VolumeHashes {
  algorithm: HashAlgorithm;
  blockSize: number;
  /** Number of blocks of the volume: `ceil(size / blockSize)`. */
  blockCount: number;
  /** All digests, concatenated (only the first `hashedBlocks` are filled when stopped early). */
  blockHashes: Uint8Array;
  /** Blocks hashed and delivered; equals `blockCount` unless `onBlocks` stopped the run. */
  hashedBlocks: number;
}

/**
 * Hashes every block of `device`: `ceil(size / blockSize)` digests, the last block possibly short
 * (it is hashed as it is, not padded). Reports progress in bytes and honours `signal` between chunks.
 */
export async function hashVolume(
  device: BlockDevice,
  options: HashVolumeOptions = {},
): Promise<VolumeHashes> {
  const algorithm = options.algorithm ?? 'sha256';
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!isHashAlgorithm(algorithm))
    throw new UsageError('VSC_UNSUPPORTED_ALGORITHM', `unknown hash algorithm ${String(algorithm)}`);
  if (!isValidBlockSize(blockSize)) {
    throw new UsageError(
      'VSC_BAD_BLOCK_SIZE',
      `block size ${blockSize} is not a power of two from 4 KiB to 64 MiB`,
    );
  }
  throwIfAborted(options.signal);
  const ownPool = options.pool === undefined;
  const pool = options.pool ?? HashPool.create(options.workers ?? defaultThreads());
  try {
    const file = pool.threads > 0 ? await leaseFileRange(device) : undefined;
    if (file === undefined) return await runPipeline(device, pool, algorithm, blockSize, options);
    try {
      return await hashFileStripes(
        file.lease.fd,
        file.range,
        device.size,
        pool,
        algorithm,
        blockSize,
        options,
      );
    } finally {
      file.lease.release();
    }
  } finally {
    if (ownPool) await pool.close();
  }
}

async function runPipeline(
  device: BlockDevice,
  pool: HashPool,
  algorithm: HashAlgorithm,
  blockSize: number,
  options: HashVolumeOptions,
): Promise<VolumeHashes> {
  const dl = DIGEST_LENGTH[algorithm];
  const size = device.size;
  const blockCount = Math.ceil(size / blockSize);
  const blockHashes = new Uint8Array(blockCount * dl);
  const blocksPerChunk = Math.max(1, Math.floor(CHUNK_TARGET / blockSize));
  const chunkSize = blocksPerChunk * blockSize;
  const chunkCount = Math.ceil(size / chunkSize);

  // The ring: enough buffers that every worker has one to hash while the reader fills another.
  // Page-aligned (allocIoBuffers): a file-backed device's read into a chunk starting just past a
  // page boundary costs the kernel's copy several times more (README, "Performance"). Shared with
  // the workers, which hash them in place.
  // One allocation holds at most IO_BUFFERS_MAX_BYTES (a wasm32 memory): with many workers and
  // large blocks the ring is clamped to what fits (at least two slots) rather than refused.
  const stride = Math.ceil(chunkSize / IO_BUFFER_ALIGNMENT) * IO_BUFFER_ALIGNMENT;
  const slots = Math.max(
    Math.min(2, chunkCount),
    Math.min(chunkCount, pool.threads + 2, Math.floor(IO_BUFFERS_MAX_BYTES / stride)),
  );
  const free: Uint8Array[] = allocIoBuffers(slots, chunkSize, { shared: pool.threads > 0 });
  let waiter: (() => void) | undefined;
  const release = (b: Uint8Array): void => {
    free.push(b);
    const w = waiter;
    waiter = undefined;
    w?.();
  };

  // Chunks complete out of order; onBlocks sees them strictly in order.
  const delivery = new OrderedDelivery(blockHashes, dl, blocksPerChunk, options.onBlocks);
  let hashedBytes = 0;
  let failure: unknown;
  const inflight = new Set<Promise<void>>();

  for (let chunk = 0; chunk < chunkCount && !delivery.stopped && failure === undefined; chunk++) {
    if (options.signal?.aborted) break;
    while (free.length === 0) await new Promise<void>((r) => (waiter = r));
    if (delivery.stopped || failure !== undefined) break;
    const buf = free.pop()!;
    const offset = chunk * chunkSize;
    const length = Math.min(chunkSize, size - offset);
    try {
      await device.readInto(buf.subarray(0, length), offset);
    } catch (e) {
      failure = e;
      release(buf);
      break;
    }
    const p: Promise<void> = pool
      .hash(buf, length, blockSize, algorithm)
      .then(
        (h) => {
          // A throwing onProgress/onBlocks is this run's failure, not an unhandled rejection.
          try {
            hashedBytes += length;
            options.onProgress?.(hashedBytes, size);
            delivery.add(chunk, h);
          } catch (e) {
            failure ??= e;
          }
        },
        (e: unknown) => {
          failure ??= e;
        },
      )
      .finally(() => {
        inflight.delete(p);
        release(buf);
      });
    inflight.add(p);
  }
  await Promise.all([...inflight]);
  if (failure !== undefined) throw failure;
  throwIfAborted(options.signal);
  const hashedBlocks = delivery.stopped ? delivery.deliveredBlocks : blockCount;
  if (!delivery.stopped && size === 0) options.onProgress?.(0, 0);
  return { algorithm, blockSize, blockCount, blockHashes, hashedBlocks };
}
