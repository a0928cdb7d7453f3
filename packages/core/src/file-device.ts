import type { FileHandle } from 'node:fs/promises';
import { BaseBlockDevice } from './block-device.js';
import { IoError, UsageError } from './errors.js';

/** Options of {@link FileDevice.open}. */
export interface FileDeviceOptions {
  /** Open for reading only (default true: writing is always an explicit choice). */
  readOnly?: boolean;
  /** Create the file if missing (implies writable). */
  create?: boolean;
  /** For a new or existing file: set its size (extends with a hole, or truncates). */
  size?: number;
  /** Logical sector size reported by the device (default 512). */
  sectorSize?: number;
}

/** node's fs.read cannot move more than 2 GiB - 1 in one call; larger requests are split. */
const MAX_IO = 1 << 30;

/**
 * A regular file (or a block device node) as a {@link BlockDevice}, through a node:fs FileHandle.
 * Files larger than 4 GiB work (positions are safe-integer numbers); a read that comes back
 * short — the file shrank under us — is an {@link IoError} naming the offset, never zeros.
 */
export class FileDevice extends BaseBlockDevice {
  private _size: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    size: number,
    sectorSize: number,
    readOnly: boolean,
  ) {
    super();
    this._size = size;
    this.sectorSize = sectorSize;
    this.readOnly = readOnly;
  }

  get size(): number {
    return this._size;
  }

  /** Opens `path`. Block device nodes report their size by seeking to the end. */
  static async open(path: string, options: FileDeviceOptions = {}): Promise<FileDevice> {
    // node:fs is loaded lazily so that importing @lsvm/core stays possible in browsers and workers
    // that only use the pure parsers.
    const { constants, promises: fsp } = await import('node:fs');
    const readOnly = options.create ? false : (options.readOnly ?? true);
    let flags: number = readOnly ? constants.O_RDONLY : constants.O_RDWR;
    if (options.create) flags |= constants.O_CREAT;
    let handle: FileHandle;
    try {
      handle = await fsp.open(path, flags, 0o644);
    } catch (e) {
      throw new IoError('OPEN_FAILED', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      if (options.size !== undefined && readOnly)
        throw new UsageError('READ_ONLY', 'cannot set the size of a read-only file');
      let st = await handle.stat();
      // Only a size that differs is set: ext4 (auto_da_alloc) treats any truncate to zero — even of
      // a new, empty file — as "replace the contents" and writes back everything written since at
      // close(), about 0.5 s per GiB for a freshly created output.
      if (options.size !== undefined && options.size !== st.size) {
        await handle.truncate(options.size);
        st = await handle.stat();
      }
      let size = st.size;
      if (st.isBlockDevice()) size = await blockDeviceSize(handle);
      return new FileDevice(handle, path, size, options.sectorSize ?? 512, readOnly);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    let done = 0;
    while (done < target.length) {
      const n = Math.min(MAX_IO, target.length - done);
      const { bytesRead } = await this.handle.read(target, done, n, offset + done);
      if (bytesRead === 0) {
        throw new IoError('SHORT_READ', `short read from ${this.path}: file ended at ${offset + done}`, {
          offset: offset + done,
        });
      }
      done += bytesRead;
    }
  }

  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const n = Math.min(MAX_IO, data.length - done);
      const { bytesWritten } = await this.handle.write(data, done, n, offset + done);
      if (bytesWritten === 0)
        throw new IoError('SHORT_WRITE', `short write to ${this.path}`, { offset: offset + done });
      done += bytesWritten;
    }
  }

  /** Changes the file's size (extending leaves a hole). Only for regular files opened writable. */
  async resize(size: number): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new IoError('READ_ONLY', 'device is read-only');
    await this.handle.truncate(size);
    this._size = size;
  }

  override async flush(): Promise<void> {
    this.checkOpen();
    if (!this.readOnly) await this.handle.sync();
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

async function blockDeviceSize(handle: FileHandle): Promise<number> {
  // fstat reports 0 for block devices; binary-search the last readable byte instead of ioctl
  // (node has no ioctl), which costs ~40 one-byte reads.
  const one = new Uint8Array(1);
  let lo = 0;
  let hi = 1;
  while ((await handle.read(one, 0, 1, hi - 1)).bytesRead === 1) {
    lo = hi;
    hi *= 2;
    if (hi > Number.MAX_SAFE_INTEGER) break;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await handle.read(one, 0, 1, mid - 1)).bytesRead === 1) lo = mid;
    else hi = mid;
  }
  return lo;
}
