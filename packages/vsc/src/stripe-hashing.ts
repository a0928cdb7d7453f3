import { IoError, throwIfAborted } from '@lsvm/core';
import { DIGEST_LENGTH, type HashAlgorithm } from './algorithms.js';
import type { FileRange } from './file-range.js';
import type { FileRangeResult } from './hash-worker.js';
import { OrderedDelivery } from './ordered-delivery.js';
import type { HashPool, HashVolumeOptions, VolumeHashes } from './volume-hash.js';

/**
 * Sizes of the file-range path. Not public API: tests shrink them to get many stripes and odd
 * read sizes out of small files; nothing else should change them.
 */
export const stripeTuning = {
  /**
   * Target bytes per stripe, rounded down to whole blocks (at least one block). A stripe is the
   * unit of work a worker takes from the pool: large enough that handing it out (one message each
   * way) costs nothing next to hashing it (~20 ms at 1.5 GB/s), small enough that progress,
   * in-order delivery to `onBlocks` and the end of the run (the last stripes) stay fine-grained.
   */
  stripeTarget: 32 * 1024 * 1024,
  /**
   * Bytes per read inside a worker (capped at the block size). Measured on the 2-core benchmark
   * machine (AMD EPYC, 512 KiB L2 per core): reading the page cache in 64–256 KiB pieces and
   * hashing each piece at once cost ~0.1 s of system time per GiB, against ~0.45 s per GiB for
   * 1 MiB or 8 MiB reads, whose destination no longer fits in L2 (README, "Performance").
   */
  pieceSize: 128 * 1024,
};

/**
 * The file-range path of `hashVolume`: the volume is `size` bytes of the open file `fd` from
 * `range.offset`. Stripes of whole blocks go to the pool's workers in order, at most two per
 * worker at a time (so a stop takes effect quickly and nothing piles up in the queue); each worker
 * reads and hashes its stripe itself. Nothing is copied between threads but the digests.
 *
 * Cancellation: the signal, a `false` from `onBlocks` and a failure all raise a shared stop flag
 * that workers check before every block. Every task has ended when this returns, so the caller
 * may close `fd`.
 */
export async function hashFileStripes(
  fd: number,
  range: FileRange,
  size: number,
  pool: HashPool,
  algorithm: HashAlgorithm,
  blockSize: number,
  options: HashVolumeOptions,
): Promise<VolumeHashes> {
  const dl = DIGEST_LENGTH[algorithm];
  const blockCount = Math.ceil(size / blockSize);
  const blockHashes = new Uint8Array(blockCount * dl);
  const blocksPerStripe = Math.max(1, Math.floor(stripeTuning.stripeTarget / blockSize));
  const stripeSize = blocksPerStripe * blockSize;
  const stripeCount = Math.ceil(size / stripeSize);
  const maxInflight = 2 * pool.threads;

  const control = new SharedArrayBuffer(4);
  const stopFlag = new Int32Array(control);
  const stop = (): void => {
    Atomics.store(stopFlag, 0, 1);
  };
  const delivery = new OrderedDelivery(blockHashes, dl, blocksPerStripe, options.onBlocks);
  let hashedBytes = 0;
  let failure: unknown;
  const inflight = new Set<Promise<void>>();
  const onAbort = (): void => stop();
  options.signal?.addEventListener('abort', onAbort);

  const settle = (stripe: number, position: number, length: number, r: FileRangeResult): void => {
    if ('error' in r) {
      const at = position + r.error.offset;
      failure ??= new IoError(
        r.error.code,
        r.error.code === 'SHORT_READ'
          ? `short read from ${range.path}: file ended at ${at}`
          : `cannot read ${range.path} at ${at}: ${r.error.message}`,
        { offset: at - range.offset },
      );
      stop();
      return;
    }
    if (r.blocks < Math.ceil(length / blockSize)) return; // stopped part-way: nothing to deliver
    hashedBytes += length;
    options.onProgress?.(hashedBytes, size);
    delivery.add(stripe, r.hashes);
    if (delivery.stopped) stop();
  };

  try {
    for (let stripe = 0; stripe < stripeCount; stripe++) {
      while (inflight.size >= maxInflight) await Promise.race(inflight);
      if (delivery.stopped || failure !== undefined || options.signal?.aborted) break;
      const start = stripe * stripeSize;
      const length = Math.min(stripeSize, size - start);
      const position = range.offset + start;
      const p: Promise<void> = pool
        .hashFileRange({
          fd,
          position,
          length,
          blockSize,
          algorithm,
          digestLength: dl,
          pieceSize: Math.min(stripeTuning.pieceSize, blockSize),
          control,
        })
        .then((r) => settle(stripe, position, length, r))
        .catch((e: unknown) => {
          // a worker crash or a throwing onBlocks/onProgress: stop the others, report the first
          failure ??= e;
          stop();
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  } finally {
    // Every task must have ended before the caller closes fd, whatever happened here.
    await Promise.all([...inflight]);
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure;
  throwIfAborted(options.signal);
  if (!delivery.stopped && size === 0) options.onProgress?.(0, 0);
  const hashedBlocks = delivery.stopped ? delivery.deliveredBlocks : blockCount;
  return { algorithm, blockSize, blockCount, blockHashes, hashedBlocks };
}
