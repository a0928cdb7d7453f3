/**
 * Setting a file's size without tripping ext4's `auto_da_alloc` heuristic.
 *
 * Why: with the default mount option `auto_da_alloc`, ext4 treats a truncate to zero of a regular
 * file — even of a new, empty one, and even a no-op truncate — as the start of a "replace via
 * truncate" update, and the following `close()` forces the allocation and writeback of every
 * delayed-allocation block written since (kernel Documentation/admin-guide/ext4.rst, mount options
 * `auto_da_alloc|noauto_da_alloc`). For a freshly written output that is about 0.5 s per GiB spent
 * inside `close()`. A truncate to the size the file already has changes nothing, so it is skipped;
 * a real change (an existing file of another size, emptied or resized) keeps ext4's protection.
 *
 * Every place in lsvm that sets a file's size goes through one of these two functions, so the rule
 * lives here once.
 */

import { UsageError } from './errors.js';

/** What {@link setFileSize} needs of a file: node's `FileHandle` has it. */
export interface SizableFileHandle {
  stat(): Promise<{ size: number }>;
  truncate(length?: number): Promise<void>;
}

/** What {@link setFileSizeSync} needs of `node:fs` (pass the module: core loads it lazily). */
export interface SizableFileSystem {
  fstatSync(fd: number): { size: number };
  ftruncateSync(fd: number, length?: number): void;
}

/**
 * Makes the open file `handle` exactly `size` bytes long — extending with a hole or truncating —
 * unless it already is (see the module comment for why "unless" matters).
 * @returns whether the size changed.
 * @throws the underlying `fstat`/`ftruncate` error (callers wrap it in their own IoError).
 * @throws UsageError `BAD_SIZE` when `size` is not a non-negative safe integer (before touching the file).
 */
export async function setFileSize(handle: SizableFileHandle, size: number): Promise<boolean> {
  checkSize(size);
  const { size: current } = await handle.stat();
  if (current === size) return false;
  await handle.truncate(size);
  return true;
}

/** {@link setFileSize} on a raw descriptor with synchronous calls: `setFileSizeSync(fs, fd, size)`. */
export function setFileSizeSync(fs: SizableFileSystem, fd: number, size: number): boolean {
  checkSize(size);
  if (fs.fstatSync(fd).size === size) return false;
  fs.ftruncateSync(fd, size);
  return true;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new UsageError('BAD_SIZE', `file size ${size} is not a non-negative safe integer`);
}
