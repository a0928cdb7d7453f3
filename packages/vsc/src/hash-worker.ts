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
 * - `default` — `{ buffer, length, blockSize, algorithm, digestLength }`: hash `length` bytes of
 *   `buffer` (a SharedArrayBuffer the calling thread filled) in blocks of `blockSize` (the last
 *   one may be short); result: the digests concatenated.
 * - `hashFileRange` — `{ fd, position, length, blockSize, algorithm, digestLength, pieceSize,
 *   control }`: read `length` bytes of the open file `fd` from `position` (a stripe of whole
 *   blocks) and hash them block by block. Reads are `pieceSize` bytes (64–256 KiB) into one small
 *   scratch buffer that stays in this core's L2 cache: the kernel's copy out of the page cache and
 *   the hash of the same bytes both hit the cache, where reading a whole chunk into a large buffer
 *   first would send every byte through main memory twice. `control` is an Int32Array over a
 *   SharedArrayBuffer; a non-zero element 0 means "stop" (abort, first difference, failure) and is
 *   checked before every block. Result: `{ hashes, blocks }` (blocks hashed, all of the stripe
 *   unless stopped), or `{ error: { code, message, offset } }` for a failed or short read —
 *   returned, not thrown, so the calling thread can raise a typed IoError.
 */
export const HASH_WORKER_SOURCE = `
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
export default function hashBlocks(task) {
  const { buffer, length, blockSize, algorithm, digestLength } = task;
  const data = new Uint8Array(buffer, 0, length);
  const count = Math.ceil(length / blockSize);
  const out = new Uint8Array(count * digestLength);
  for (let i = 0; i < count; i++) {
    const start = i * blockSize;
    const end = Math.min(length, start + blockSize);
    out.set(createHash(algorithm).update(data.subarray(start, end)).digest(), i * digestLength);
  }
  return out;
}
let scratch = new Uint8Array(0);
export function hashFileRange(task) {
  const { fd, position, length, blockSize, algorithm, digestLength, pieceSize, control } = task;
  if (scratch.length < pieceSize) scratch = new Uint8Array(pieceSize);
  const stop = new Int32Array(control);
  const count = Math.ceil(length / blockSize);
  const hashes = new Uint8Array(count * digestLength);
  for (let b = 0; b < count; b++) {
    if (Atomics.load(stop, 0) !== 0) return { hashes: hashes.slice(0, b * digestLength), blocks: b };
    const start = b * blockSize;
    const end = Math.min(length, start + blockSize);
    const h = createHash(algorithm);
    for (let p = start; p < end; ) {
      const n = Math.min(pieceSize, end - p);
      let got = 0;
      while (got < n) {
        let r;
        try {
          r = readSync(fd, scratch, got, n - got, position + p + got);
        } catch (e) {
          return { error: { code: 'READ_FAILED', message: String(e && e.message ? e.message : e), offset: p + got } };
        }
        if (r === 0) return { error: { code: 'SHORT_READ', message: 'file ended', offset: p + got } };
        got += r;
      }
      h.update(scratch.subarray(0, n));
      p += n;
    }
    hashes.set(h.digest(), b * digestLength);
  }
  return { hashes, blocks: count };
}
`;

/** The worker as a module URL Tinypool can import. */
export const HASH_WORKER_URL = `data:text/javascript;charset=utf-8,${encodeURIComponent(HASH_WORKER_SOURCE)}`;

/** A `hashFileRange` task (see {@link HASH_WORKER_SOURCE}). */
export interface FileRangeTask {
  /** An open file descriptor (worker threads share the process's descriptor table). */
  fd: number;
  /** Byte position in the file of the stripe's first byte. */
  position: number;
  /** Bytes in the stripe: whole blocks, except a volume's short last block. */
  length: number;
  blockSize: number;
  algorithm: string;
  digestLength: number;
  /** Bytes per read: small enough to stay in L2 between the kernel's copy and the hash. */
  pieceSize: number;
  /** One Int32 over shared memory; non-zero means stop before the next block. */
  control: SharedArrayBuffer;
}

/** The answer of a `hashFileRange` task. */
export type FileRangeResult =
  | { hashes: Uint8Array; blocks: number }
  | { error: { code: 'READ_FAILED' | 'SHORT_READ'; message: string; offset: number } };
