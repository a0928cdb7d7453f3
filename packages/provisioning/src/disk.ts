import { type BlockDevice, FileDevice } from '@lsvm/core';
import { openVhdxFile } from '@lsvm/vhdx';

/**
 * Opening a template or VM disk by path: a `.vhdx` (recognised by its `vhdxfile` signature,
 * whatever the extension) through @lsvm/vhdx — differencing parents found through the locator —
 * or a raw image.
 */

/** An opened disk; `close()` flushes (when writable) and releases every layer. */
export interface OpenedDisk {
  disk: BlockDevice;
  format: 'raw' | 'vhdx';
  close(): Promise<void>;
}

/** True when the file starts with the VHDX file type identifier. */
export async function isVhdxPath(path: string): Promise<boolean> {
  const f = await FileDevice.open(path);
  try {
    if (f.size < 8) return false;
    return new TextDecoder().decode(await f.read(0, 8)) === 'vhdxfile';
  } finally {
    await f.close();
  }
}

/** Opens `path` read-only unless `writable`. */
export async function openDisk(path: string, options: { writable?: boolean } = {}): Promise<OpenedDisk> {
  const readOnly = !options.writable;
  const vhdx = await isVhdxPath(path);
  const disk: BlockDevice = vhdx
    ? await openVhdxFile(path, { readOnly })
    : await FileDevice.open(path, { readOnly });
  return {
    disk,
    format: vhdx ? 'vhdx' : 'raw',
    close: async () => {
      if (!readOnly) await disk.flush();
      await disk.close();
    },
  };
}

/** Runs `fn` on a disk given as a path (opened, then closed) or as an already open BlockDevice. */
export async function withDisk<T>(
  source: string | BlockDevice,
  options: { writable?: boolean },
  fn: (disk: BlockDevice) => Promise<T>,
): Promise<T> {
  if (typeof source !== 'string') return fn(source);
  const d = await openDisk(source, options);
  try {
    return await fn(d.disk);
  } finally {
    await d.close();
  }
}
