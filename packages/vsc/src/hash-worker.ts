/**
 * Source of the hashing worker, as an ES module held in a string and loaded through a `data:` URL.
 *
 * Why a string: the worker must load without a build step from every way this package runs —
 * TypeScript sources under tsx, CommonJS under jest, the ESM and CJS bundles tsup emits — and a
 * file path cannot be found the same way in all of them (`import.meta.url` does not exist in
 * CommonJS, `__dirname` does not exist in ES modules). A `data:` module can import node builtins,
 * which is all it needs. Keep it plain JavaScript and self-contained.
 *
 * Two tasks (Tinypool picks the export by name):
 *
 * - `default` — `{ buffer, length, blockSize, algorithm, digestLength }`: hash the first `length`
 *   bytes of `buffer` (a SharedArrayBuffer the calling thread filled, or a Uint8Array view of
 *   shared memory) in blocks of `blockSize` (the last one may be short); result: the digests
 *   concatenated.
 * - `hashFileStripes` — a {@link FileStripesTask}: the volume is `size` bytes of the open file
 *   `fd` from `position`, cut into stripes of `stripeSize` bytes (whole blocks). Every worker of
 *   the run gets this same task and takes the next stripe from a shared counter until none is
 *   left, so no message crosses threads per stripe and the calling thread never has to be
 *   scheduled for the workers to go on. Each block is read in `pieceSize` pieces into a small
 *   scratch buffer — one of the task's page-aligned `scratch` buffers, each worker taking its
 *   own through a shared counter (page-aligned because the kernel's copy into a destination just
 *   past a page boundary costs several times more: `allocIoBuffers` in @lsvm/core) — and each
 *   piece is hashed at once, while it is still in this core's cache. Digests go
 *   straight into the shared `hashes` list; then the stripe is marked done and the calling
 *   thread is woken (`Atomics.notify`) to deliver it. A non-zero stop word (abort, first
 *   difference, failure) is checked before every block. Result: `{}` or, for a failed or short
 *   read, `{ error: { code, message, offset } }` (offset within the volume) — returned, not
 *   thrown, so the calling thread can raise a typed IoError.
 */
/**
 * Layout of a {@link FileStripesTask}'s `control` words (Int32, shared): the stop word, the next
 * stripe to take, an event counter bumped (and notified) whenever a stripe is done or a worker
 * failed, the next scratch buffer to take, then one state word per stripe (0 pending, 1 hashed).
 */
export const CONTROL = Object.freeze({ STOP: 0, NEXT: 1, EVENTS: 2, SCRATCH: 3, STATE: 4 });

export const HASH_WORKER_SOURCE = `
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
export default function hashBlocks(task) {
  const { buffer, length, blockSize, algorithm, digestLength } = task;
  const data = ArrayBuffer.isView(buffer) ? buffer.subarray(0, length) : new Uint8Array(buffer, 0, length);
  const count = Math.ceil(length / blockSize);
  const out = new Uint8Array(count * digestLength);
  for (let i = 0; i < count; i++) {
    const start = i * blockSize;
    const end = Math.min(length, start + blockSize);
    out.set(createHash(algorithm).update(data.subarray(start, end)).digest(), i * digestLength);
  }
  return out;
}
const { STOP, NEXT, EVENTS, SCRATCH, STATE } = ${JSON.stringify(CONTROL)};
function finish(ctrl, s, state) {
  if (s >= 0) Atomics.store(ctrl, STATE + s, state);
  Atomics.add(ctrl, EVENTS, 1);
  Atomics.notify(ctrl, EVENTS);
}
export function hashFileStripes(task) {
  const { fd, position, size, blockSize, stripeSize, stripeCount, algorithm, digestLength, pieceSize } = task;
  const ctrl = new Int32Array(task.control);
  const scratch = task.scratch[Atomics.add(ctrl, SCRATCH, 1)];
  const out = new Uint8Array(task.hashes);
  for (;;) {
    if (Atomics.load(ctrl, STOP) !== 0) return {};
    const s = Atomics.add(ctrl, NEXT, 1);
    if (s >= stripeCount) return {};
    const stripeEnd = Math.min(size, (s + 1) * stripeSize);
    for (let start = s * stripeSize; start < stripeEnd; start += blockSize) {
      if (Atomics.load(ctrl, STOP) !== 0) return {};
      const end = Math.min(stripeEnd, start + blockSize);
      const h = createHash(algorithm);
      for (let p = start; p < end; ) {
        const n = Math.min(pieceSize, end - p);
        let got = 0;
        while (got < n) {
          let r;
          try {
            r = readSync(fd, scratch, got, n - got, position + p + got);
          } catch (e) {
            Atomics.store(ctrl, STOP, 1);
            finish(ctrl, -1, 0);
            return { error: { code: 'READ_FAILED', message: String(e && e.message ? e.message : e), offset: p + got } };
          }
          if (r === 0) {
            Atomics.store(ctrl, STOP, 1);
            finish(ctrl, -1, 0);
            return { error: { code: 'SHORT_READ', message: 'file ended', offset: p + got } };
          }
          got += r;
        }
        h.update(scratch.subarray(0, n));
        p += n;
      }
      out.set(h.digest(), (start / blockSize) * digestLength);
    }
    finish(ctrl, s, 1);
  }
}
`;

/** The worker as a module URL Tinypool can import. */
export const HASH_WORKER_URL = `data:text/javascript;charset=utf-8,${encodeURIComponent(HASH_WORKER_SOURCE)}`;

/** A `hashFileStripes` task (see {@link HASH_WORKER_SOURCE}); every worker of a run gets the same one. */
export interface FileStripesTask {
  /** An open file descriptor (worker threads share the process's descriptor table). */
  fd: number;
  /** Byte position in the file of the volume's first byte. */
  position: number;
  /** Bytes in the volume. */
  size: number;
  blockSize: number;
  /** Bytes per stripe, a multiple of `blockSize`. */
  stripeSize: number;
  stripeCount: number;
  algorithm: string;
  digestLength: number;
  /** Bytes per read: small enough to stay in cache between the kernel's copy and the hash. */
  pieceSize: number;
  /**
   * One page-aligned buffer of at least `pieceSize` bytes per task started with this object
   * (views of shared memory, so the workers use them in place); worker `i` to start takes
   * `scratch[i]` through the `CONTROL.SCRATCH` counter.
   */
  scratch: Uint8Array[];
  /** `(CONTROL.STATE + stripeCount)` Int32 words, see {@link CONTROL}. */
  control: SharedArrayBuffer;
  /** The volume's digest list, `ceil(size / blockSize) × digestLength` bytes, written by the workers. */
  hashes: SharedArrayBuffer;
}

/** The answer of a `hashFileStripes` task. */
export type FileStripesResult =
  | { error?: undefined }
  | { error: { code: 'READ_FAILED' | 'SHORT_READ'; message: string; offset: number } };
