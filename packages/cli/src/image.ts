import { type BlockDevice, FileDevice, FormatError, UsageError } from '@lsvm/core';
import { partitionDevice } from '@lsvm/gpt';
import { openVhdxFile } from '@lsvm/vhdx';

/**
 * Opening what a user names on the command line: a raw image or a `.vhdx` (recognised by its
 * `vhdxfile` signature, whatever the extension), optionally one GPT partition inside it
 * (`--partition N`, the 1-based slot number). This is the one place where the CLI composes
 * packages: FileDevice → VhdxDevice → GPT slice.
 */

/** An opened image; `close()` releases every layer. */
export interface OpenedImage {
  device: BlockDevice;
  /** The whole disk (the VHDX virtual disk or the raw file), below any partition slice. */
  disk: BlockDevice;
  format: 'raw' | 'vhdx';
  partition: number | undefined;
  close(): Promise<void>;
}

/** Options of {@link openImage}. */
export interface OpenImageOptions {
  /** 1-based GPT slot number. */
  partition?: number;
  writable?: boolean;
}

const VHDX_SIGNATURE = 'vhdxfile';

/** True when the file starts with the VHDX file type identifier. */
export async function isVhdxFile(path: string): Promise<boolean> {
  const f = await FileDevice.open(path);
  try {
    if (f.size < 8) return false;
    return new TextDecoder().decode(await f.read(0, 8)) === VHDX_SIGNATURE;
  } finally {
    await f.close();
  }
}

/** Opens `path` as described in the module comment. */
export async function openImage(path: string, options: OpenImageOptions = {}): Promise<OpenedImage> {
  if (options.partition !== undefined && (!Number.isInteger(options.partition) || options.partition < 1)) {
    throw new UsageError(
      'BAD_PARTITION',
      `--partition must be a slot number from 1 (got ${options.partition})`,
    );
  }
  const readOnly = !options.writable;
  const vhdx = await isVhdxFile(path);
  const disk: BlockDevice = vhdx
    ? await openVhdxFile(path, { readOnly })
    : await FileDevice.open(path, { readOnly });
  try {
    let device = disk;
    if (options.partition !== undefined) {
      device = await partitionDevice(disk, options.partition, { readOnly });
    }
    return {
      device,
      disk,
      format: vhdx ? 'vhdx' : 'raw',
      partition: options.partition,
      close: async () => {
        if (device !== disk) await device.close();
        if (!readOnly) await disk.flush();
        await disk.close();
      },
    };
  } catch (e) {
    await disk.close();
    if (e instanceof FormatError && e.code === 'GPT_NOT_FOUND') {
      throw new FormatError(
        'GPT_NOT_FOUND',
        `${path} has no GPT, so --partition ${options.partition} cannot be found`,
      );
    }
    throw e;
  }
}

/** Parses a `--partition` option value. */
export function parsePartitionOption(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError('BAD_PARTITION', `--partition must be a slot number from 1 (got ${v})`);
  return n;
}
