import { IoError, allocIoBuffers, throwIfAborted } from '@lsvm/core';
import { DIGEST_LENGTH, type HashAlgorithm } from './algorithms.js';
import type { FileRange } from './file-range.js';
import { CONTROL, type FileStripesTask } from './hash-worker.js';
import { OrderedDelivery } from './ordered-delivery.js';
import type { HashPool, HashVolumeOptions, VolumeHashes } from './volume-hash.js';

/**
 * Sizes of the file-range path. Not public API: tests shrink them to get many stripes and odd
 * read sizes out of small files; nothing else should change them.
 */
export const stripeTuning = {
  /**
   * Target bytes per stripe, rounded down to whole blocks (at least one block). A stripe is what
   * a worker takes from the shared counter at a time, and what the calling thread delivers to
   * `onBlocks` and progress: small enough that both stay fine-grained and the two workers finish
   * together (the last stripe is ~20 ms of work), large enough that the calling thread wakes a
   * few dozen times a second at most.
   */
  stripeTarget: 32 * 1024 * 1024,
  /**
   * Bytes per read inside a worker (capped at the block size). Into a page-aligned buffer the
   * kernel's copy costs ~0.1 s of system time per GiB for 128 KiB to 1 MiB reads alike, and the
   * hash of each piece read costs the same whether it is 128 KiB or 1 MiB (README,
   * "Performance"); 128 KiB keeps a piece in L2 with room to spare and the scratch memory small.
   */
  pieceSize: 128 * 1024,
};

/** `Atomics.waitAsync` (ES2024; in node since 16) — the TypeScript lib this repository targets predates it. */
interface AtomicsWithWaitAsync {
  waitAsync(
    view: Int32Array,
    index: number,
    value: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/**
 * The file-range path of `hashVolume`: the volume is `size` bytes of the open file `fd` from
 * `range.offset`. One task per worker; the workers share the stripes through an atomic counter
 * and write digests straight into a shared list (`hash-worker.ts`), so per stripe no message is
 * sent and nothing waits for this thread. This thread sleeps on the event word
 * (`Atomics.waitAsync`) and, when woken, delivers the stripes done so far — in order — to
 * `onBlocks`, to progress and to the result.
 *
 * Cancellation: the signal, a `false` from `onBlocks`, a failed read and a throwing callback all
 * raise the shared stop word, which workers check before every block. Every task has ended when
 * this returns or throws, so the caller may close `fd`.
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
  if (stripeCount === 0) {
    options.onProgress?.(0, 0);
    return { algorithm, blockSize, blockCount, blockHashes, hashedBlocks: 0 };
  }

  const workers = Math.min(pool.threads, stripeCount);
  const pieceSize = Math.min(stripeTuning.pieceSize, blockSize);
  const task: FileStripesTask = {
    fd,
    position: range.offset,
    size,
    blockSize,
    stripeSize,
    stripeCount,
    algorithm,
    digestLength: dl,
    pieceSize,
    scratch: allocIoBuffers(workers, pieceSize, { shared: true }),
    control: new SharedArrayBuffer(4 * (CONTROL.STATE + stripeCount)),
    hashes: new SharedArrayBuffer(blockCount * dl),
  };
  const ctrl = new Int32Array(task.control);
  const shared = new Uint8Array(task.hashes);
  const stop = (): void => {
    Atomics.store(ctrl, CONTROL.STOP, 1);
  };
  options.signal?.addEventListener('abort', stop);

  let failure: unknown;
  let running = true;
  const tasks = Array.from({ length: workers }, () =>
    pool.hashFileStripes(task).then(
      (r) => {
        if (r.error === undefined) return;
        const at = range.offset + r.error.offset;
        failure ??= new IoError(
          r.error.code,
          r.error.code === 'SHORT_READ'
            ? `short read from ${range.path}: file ended at ${at}`
            : `cannot read ${range.path} at ${at}: ${r.error.message}`,
          { offset: r.error.offset },
        );
      },
      (e: unknown) => {
        failure ??= e;
        stop();
      },
    ),
  );
  const allEnded = Promise.all(tasks).then(() => {
    running = false;
  });

  const delivery = new OrderedDelivery(blockHashes, dl, blocksPerStripe, options.onBlocks);
  let next = 0;
  try {
    for (;;) {
      const seen = Atomics.load(ctrl, CONTROL.EVENTS);
      // Deliver the prefix of stripes that are done; later ones wait for the gap to fill.
      while (next < stripeCount && Atomics.load(ctrl, CONTROL.STATE + next) === 1) {
        if (failure !== undefined || delivery.stopped || options.signal?.aborted) break;
        const first = next * blocksPerStripe;
        const last = Math.min(blockCount, first + blocksPerStripe);
        delivery.add(next, shared.slice(first * dl, last * dl));
        next++;
        options.onProgress?.(Math.min(size, next * stripeSize), size);
      }
      if (delivery.stopped) stop();
      if (!running || failure !== undefined || delivery.stopped || options.signal?.aborted) break;
      const wait = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(ctrl, CONTROL.EVENTS, seen);
      if (wait.async) await Promise.race([wait.value, allEnded]);
    }
  } catch (e) {
    failure ??= e; // a throwing onBlocks / onProgress
  } finally {
    // Every task must have ended before the caller closes fd, whatever happened here.
    if (running) stop();
    await allEnded;
    options.signal?.removeEventListener('abort', stop);
  }
  if (failure !== undefined) throw failure;
  throwIfAborted(options.signal);
  const hashedBlocks = delivery.stopped ? delivery.deliveredBlocks : blockCount;
  return { algorithm, blockSize, blockCount, blockHashes, hashedBlocks };
}
