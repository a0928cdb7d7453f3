import type { FileHandle } from 'node:fs/promises';
import { BaseBlockDevice } from './block-device.js';
import { IoError, LsvmError, UsageError } from './errors.js';
import { setFileSize } from './file-size.js';

/** Options of {@link FileDevice.open}. */
export interface FileDeviceOptions {
  /** Open for reading only (default true: writing is always an explicit choice). */
  readOnly?: boolean;
  /** Create the file if missing (implies writable). */
  create?: boolean;
  /**
   * For a new or existing file: set its size (extends with a hole, or truncates). A file that
   * already has this size is left alone ({@link setFileSize}: no ext4 `auto_da_alloc` writeback).
   */
  size?: number;
  /** Logical sector size reported by the device (default 512). */
  sectorSize?: number;
}

/**
 * A file descriptor lent out by {@link FileDevice.leaseFd}. Valid until {@link FdLease.release};
 * the device's `close()` waits for every lease to be released before it closes the descriptor.
 */
export interface FdLease {
  /** The device's own descriptor (not a duplicate). */
  readonly fd: number;
  /** Ends the loan. Idempotent; the descriptor must not be used afterwards. */
  release(): void;
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
  /** Leases not yet released, and the wake-up of a close() waiting for them. */
  private leases = 0;
  private leasesDone: (() => void) | undefined;
  private closing: Promise<void> | undefined;
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
      if (options.size !== undefined) await setFileSize(handle, options.size);
      const st = await handle.stat();
      let size = st.size;
      if (st.isBlockDevice()) size = await blockDeviceSize(handle);
      return new FileDevice(handle, path, size, options.sectorSize ?? 512, readOnly);
    } catch (e) {
      await handle.close();
      if (e instanceof LsvmError) throw e;
      throw new IoError('OPEN_FAILED', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * The operating-system file descriptor this device reads and writes through — for code that must
   * read the very file the device opened without reopening its path (a path can be renamed over
   * in between), e.g. worker threads, which share the process's descriptor table.
   *
   * Lifetime: valid until {@link FileDevice.close}; afterwards the number may name another file
   * opened later, so prefer {@link FileDevice.leaseFd} for anything that outlives the current call.
   * Use only positioned I/O (`pread`/`pwrite`, i.e. `fs.readSync(fd, buf, off, len, position)`
   * with a position); never close the descriptor or change its flags.
   * @throws IoError `DEVICE_CLOSED` after close().
   */
  get fd(): number {
    this.checkOpen();
    return this.handle.fd;
  }

  /**
   * Lends out {@link FileDevice.fd} for a while: until {@link FdLease.release}, `close()` waits
   * before closing the descriptor (it marks the device closed at once, so no new I/O or lease
   * starts), so the number cannot be recycled under the borrower. Release every lease, in a
   * `finally`: an unreleased one makes `close()` wait forever. Same usage rules as `fd`.
   * @throws IoError `DEVICE_CLOSED` after close().
   */
  leaseFd(): FdLease {
    this.checkOpen();
    this.leases++;
    let released = false;
    return {
      fd: this.handle.fd,
      release: () => {
        if (released) return;
        released = true;
        if (--this.leases === 0) this.leasesDone?.();
      },
    };
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

  /**
   * Changes the file's size (extending leaves a hole). Only for regular files opened writable.
   * Resizing to the size the file already has does nothing ({@link setFileSize}): on ext4 even a
   * no-op truncate to zero makes close() write back everything written since.
   */
  async resize(size: number): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new IoError('READ_ONLY', 'device is read-only');
    try {
      await setFileSize(this.handle, size);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new IoError('WRITE_FAILED', `cannot resize ${this.path} to ${size}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this._size = size;
  }

  override async flush(): Promise<void> {
    this.checkOpen();
    if (!this.readOnly) await this.handle.sync();
  }

  /** Closes the file, after every {@link FileDevice.leaseFd} lease was released. */
  override close(): Promise<void> {
    // A second close() returns the first one's promise: it resolves when the descriptor really is
    // closed, after the last lease, not at once.
    if (!this.closing) {
      if (this.closed) return Promise.resolve();
      this.closed = true;
      this.closing = (async () => {
        if (this.leases > 0) await new Promise<void>((resolve) => (this.leasesDone = resolve));
        await this.handle.close();
      })();
    }
    return this.closing;
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
