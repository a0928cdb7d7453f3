/**
 * Source of the hashing worker, as an ES module held in a string and loaded through a `data:` URL.
 *
 * Why a string: the worker must load without a build step from every way this package runs —
 * TypeScript sources under tsx, CommonJS under jest, the ESM and CJS bundles tsup emits — and a
 * file path cannot be found the same way in all of them (`import.meta.url` does not exist in
 * CommonJS, `__dirname` does not exist in ES modules). A `data:` module can import node builtins,
 * which is all it needs. Keep it plain JavaScript and self-contained.
 *
 * Task: `{ buffer, length, blockSize, algorithm }` — hash `length` bytes of `buffer` (a
 * SharedArrayBuffer the main thread filled) in blocks of `blockSize` (the last one may be short);
 * result: the digests concatenated.
 */
export const HASH_WORKER_SOURCE = `
import { createHash } from 'node:crypto';
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
`;

/** The worker as a module URL Tinypool can import. */
export const HASH_WORKER_URL = `data:text/javascript;charset=utf-8,${encodeURIComponent(HASH_WORKER_SOURCE)}`;
