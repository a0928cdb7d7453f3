import type { FileHandle } from 'node:fs/promises';
import { type BlockDevice, FileDevice, ReadOnlyDevice, SliceDevice } from '@lsvm/core';

/**
 * A volume whose bytes are a plain byte range of a file: what a raw disk image, a GPT partition
 * of it (a {@link SliceDevice} of a {@link FileDevice}) or a read-only view of either is. Such a
 * volume can be read by the hashing workers themselves, each its own stripes, instead of being
 * funnelled through the calling thread (docs/formats/vsc.md §4, "Hashing in parallel").
 */
export interface FileRange {
  /** The file (or block device node) path, as the {@link FileDevice} was opened. */
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
 * Opens the file behind `device` for the workers' own reads, or returns `undefined` when the
 * generic path must be used: the device is not a file range, or the path no longer names a file
 * of the size the device was opened with (renamed or replaced since — the device's own handle is
 * then the only faithful reader).
 *
 * The returned handle's `fd` is handed to the workers: worker threads share the process's file
 * descriptor table, so one open serves them all. The caller closes it after every task ended.
 */
export async function openFileRange(
  device: BlockDevice,
): Promise<{ handle: FileHandle; range: FileRange } | undefined> {
  const range = fileRangeOf(device);
  if (range === undefined) return undefined;
  // A zero-length read runs the device's own "is it open" check, so a closed device still fails
  // as it would on the generic path instead of being silently reopened by path.
  await device.readInto(new Uint8Array(0), 0);
  await range.file.readInto(new Uint8Array(0), 0);
  const { open } = await import('node:fs/promises');
  let handle: FileHandle;
  try {
    handle = await open(range.path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = await handle.stat();
    const same = st.isFile() ? st.size === range.fileSize : st.isBlockDevice();
    if (same) return { handle, range };
  } catch {
    // fall through: the generic path reports any real I/O problem through the device itself
  }
  await handle.close();
  return undefined;
}
