import { type BlockDevice, type FdLease, FileDevice, ReadOnlyDevice, SliceDevice } from '@lsvm/core';

/**
 * A volume whose bytes are a plain byte range of a file: what a raw disk image, a GPT partition
 * of it (a {@link SliceDevice} of a {@link FileDevice}) or a read-only view of either is. Such a
 * volume can be read by the hashing workers themselves, each its own stripes, instead of being
 * funnelled through the calling thread (docs/formats/vsc.md §4, "Hashing in parallel").
 */
export interface FileRange {
  /** The file (or block device node) path, as the {@link FileDevice} was opened (for messages only). */
  path: string;
  /** Byte offset of the volume's first byte within the file. */
  offset: number;
  /** The size the {@link FileDevice} reports for the whole file. */
  fileSize: number;
  /** The {@link FileDevice} at the bottom of the chain. */
  file: FileDevice;
}

/** Deepest chain of slices / read-only views followed before giving up (they nest a few deep at most). */
const MAX_DEPTH = 16;

/**
 * Finds the file range behind `device`, or `undefined` when its bytes are not a plain file range
 * (a VHDX, a decrypted LUKS view, memory, or any other device — those are read through
 * `readInto`). Only exact instances of the @lsvm/core classes are followed: a subclass, or an
 * instance whose `readInto` was replaced, may transform its bytes, so it keeps the generic path.
 */
export function fileRangeOf(device: BlockDevice): FileRange | undefined {
  let d: BlockDevice = device;
  let offset = 0;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (Object.hasOwn(d, 'readInto') || Object.hasOwn(d, 'read')) return undefined;
    const proto: unknown = Object.getPrototypeOf(d);
    if (proto === FileDevice.prototype) {
      const f = d as FileDevice;
      return { path: f.path, offset, fileSize: f.size, file: f };
    }
    if (proto === SliceDevice.prototype) {
      const s = d as SliceDevice;
      offset += s.start;
      d = s.parent;
      continue;
    }
    if (proto === ReadOnlyDevice.prototype) {
      d = (d as ReadOnlyDevice).inner;
      continue;
    }
    return undefined;
  }
  return undefined;
}

/**
 * Lends out the descriptor of the file behind `device` for the workers' own reads, or returns
 * `undefined` when `device` is not a plain file range (the generic path is then used).
 *
 * The workers read through the very descriptor the {@link FileDevice} opened (worker threads
 * share the process's descriptor table) — never by reopening its path, which another file may
 * have been renamed over since (the user opened one file; that file is what gets hashed). The
 * lease keeps the descriptor open until released: a `close()` of the device meanwhile waits for
 * it. The caller releases it after every task ended.
 * @throws IoError `DEVICE_CLOSED` when the device or the file below it is closed.
 */
export async function leaseFileRange(
  device: BlockDevice,
): Promise<{ lease: FdLease; range: FileRange } | undefined> {
  const range = fileRangeOf(device);
  if (range === undefined) return undefined;
  // A zero-length read runs the device's own "is it open" check (a closed slice over an open
  // file fails as it would on the generic path); leaseFd checks the file itself.
  await device.readInto(new Uint8Array(0), 0);
  return { lease: range.file.leaseFd(), range };
}
