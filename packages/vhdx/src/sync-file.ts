import { BaseBlockDevice, checkRange, IoError, setFileSizeSync, UsageError } from '@lsvm/core';
import type * as NodeFs from 'node:fs';
import type { ResizableDevice } from './memory-file.js';

/**
 * Synchronous positional I/O, offered by devices the converters can stream through without a
 * promise per chunk (see {@link SyncFile}).
 */
export interface SyncIoDevice {
  readonly size: number;
  /** Reads exactly `target.length` bytes at `offset`; the range must lie inside the device. */
  readIntoSync(target: Uint8Array, offset: number): void;
  /** Writes `data` at `offset`; writing past the end extends the device, as a file does. */
  writeSync(offset: number, data: Uint8Array): void;
  /** Truncates or extends (with a hole) to `size` bytes. */
  resizeSync(size: number): void;
}

/** True when `dev` offers {@link SyncIoDevice}'s synchronous methods. */
export function hasSyncIo(dev: unknown): dev is SyncIoDevice {
  const d = dev as Partial<Record<keyof SyncIoDevice, unknown>>;
  return (
    typeof d.readIntoSync === 'function' &&
    typeof d.writeSync === 'function' &&
    typeof d.resizeSync === 'function'
  );
}

/** node's fs.readSync/writeSync move at most 2 GiB - 1 per call; larger requests are split. */
const MAX_IO = 1 << 30;

/**
 * A regular file opened through node:fs file descriptors, with synchronous positional I/O: the
 * file-to-file fast path of `convertFile`.
 *
 * Why not `FileDevice` from @lsvm/core there: its I/O goes through `FileHandle`, so every chunk
 * is a promise and a round trip through libuv's thread pool, and the pread and the pwrite of one
 * chunk run on different pool threads — often on different cores, so the chunk has to move from
 * one core's cache to the other's between the two kernel copies that are nearly all of a
 * conversion's work. A plain `readSync`/`writeSync` loop on one thread keeps the chunk in one L2
 * cache and costs no thread hand-offs: on the 2 GiB half-zero benchmark disk it takes about half
 * the system time and a third of the user time of the pipelined `FileHandle` path (README,
 * "Performance"). The converters yield to the event loop between slices of a few MiB, so progress
 * and cancellation still work (see `streamChunksSync`).
 *
 * The asynchronous `BlockDevice` methods are also available (they do the same synchronous calls),
 * for the few small structure writes that follow the payload. Only regular files: block device
 * nodes report no size through fstat, so they keep using `FileDevice`.
 */
export class SyncFile extends BaseBlockDevice implements ResizableDevice, SyncIoDevice {
  private _size: number;
  readonly sectorSize = 512;

  private constructor(
    private readonly fs: typeof NodeFs,
    private readonly fd: number,
    readonly path: string,
    size: number,
    readonly readOnly: boolean,
  ) {
    super();
    this._size = size;
  }

  get size(): number {
    return this._size;
  }

  /**
   * Opens an existing regular file (read-only unless `writable`). Returns undefined when `path` is
   * not a regular file, so the caller can fall back to `FileDevice`.
   */
  static async openRegular(
    path: string,
    options: { writable?: boolean } = {},
  ): Promise<SyncFile | undefined> {
    // node:fs is loaded lazily, like everywhere in this package, so browsers can use the rest.
    const fs = await import('node:fs');
    const readOnly = options.writable !== true;
    const fd = openFd(fs, path, readOnly ? fs.constants.O_RDONLY : fs.constants.O_RDWR);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        fs.closeSync(fd);
        return undefined;
      }
      return new SyncFile(fs, fd, path, st.size, readOnly);
    } catch (e) {
      fs.closeSync(fd);
      throw ioError('OPEN_FAILED', `cannot open ${path}`, e);
    }
  }

  /**
   * Creates `path`, or empties it if it exists, for writing. An empty or new file is not truncated:
   * on ext4 a truncation to zero makes `close()` write back all the data written since (see
   * `emptyOutput` in convert.ts).
   */
  static async create(path: string): Promise<SyncFile> {
    const fs = await import('node:fs');
    const fd = openFd(fs, path, fs.constants.O_RDWR | fs.constants.O_CREAT);
    try {
      setFileSizeSync(fs, fd, 0);
    } catch (e) {
      fs.closeSync(fd);
      throw ioError('OPEN_FAILED', `cannot truncate ${path}`, e);
    }
    return new SyncFile(fs, fd, path, 0, false);
  }

  readIntoSync(target: Uint8Array, offset: number): void {
    this.checkOpen();
    // The asynchronous read() checks through BaseBlockDevice; this path must refuse the same ranges.
    checkRange(offset, target.length, this._size, 'read');
    let done = 0;
    while (done < target.length) {
      const n = Math.min(MAX_IO, target.length - done);
      let got: number;
      try {
        got = this.fs.readSync(this.fd, target, done, n, offset + done);
      } catch (e) {
        throw ioError('READ_FAILED', `cannot read ${this.path} at ${offset + done}`, e, offset + done);
      }
      if (got === 0) {
        throw new IoError('SHORT_READ', `short read from ${this.path}: file ended at ${offset + done}`, {
          offset: offset + done,
        });
      }
      done += got;
    }
  }

  writeSync(offset: number, data: Uint8Array): void {
    this.checkOpen();
    if (this.readOnly) throw new IoError('READ_ONLY', 'device is read-only', { offset });
    // Past the end is allowed (it extends the file); a negative or unsafe offset never is.
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(offset + data.length))
      throw new UsageError('BAD_RANGE', `write at ${offset} of ${data.length} bytes: not a valid range`);
    let done = 0;
    while (done < data.length) {
      const n = Math.min(MAX_IO, data.length - done);
      let put: number;
      try {
        put = this.fs.writeSync(this.fd, data, done, n, offset + done);
      } catch (e) {
        throw ioError('WRITE_FAILED', `cannot write ${this.path} at ${offset + done}`, e, offset + done);
      }
      if (put === 0)
        throw new IoError('SHORT_WRITE', `short write to ${this.path}`, { offset: offset + done });
      done += put;
    }
    this._size = Math.max(this._size, offset + data.length);
  }

  resizeSync(size: number): void {
    this.checkOpen();
    if (this.readOnly) throw new IoError('READ_ONLY', 'device is read-only');
    if (!Number.isSafeInteger(size) || size < 0) throw new IoError('BAD_SIZE', `bad size ${size}`);
    try {
      setFileSizeSync(this.fs, this.fd, size);
    } catch (e) {
      throw ioError('WRITE_FAILED', `cannot resize ${this.path} to ${size}`, e);
    }
    this._size = size;
  }

  async resize(size: number): Promise<void> {
    this.resizeSync(size);
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    this.readIntoSync(target, offset);
  }

  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    this.writeSync(offset, data);
  }

  override async flush(): Promise<void> {
    this.checkOpen();
    if (this.readOnly) return;
    try {
      this.fs.fsyncSync(this.fd);
    } catch (e) {
      throw ioError('WRITE_FAILED', `cannot fsync ${this.path}`, e);
    }
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.fs.closeSync(this.fd);
    } catch (e) {
      // close reports delayed write errors (NFS, full disks): they are write failures.
      throw ioError('WRITE_FAILED', `cannot close ${this.path}`, e);
    }
  }
}

function openFd(fs: typeof NodeFs, path: string, flags: number): number {
  try {
    return fs.openSync(path, flags, 0o644);
  } catch (e) {
    throw ioError('OPEN_FAILED', `cannot open ${path}`, e);
  }
}

/** node:fs failures (EIO, ENOSPC…) as the IoError the house rules want, with the cause kept. */
function ioError(code: string, what: string, cause: unknown, offset?: number): IoError {
  return new IoError(code, `${what}: ${(cause as Error).message}`, {
    cause,
    ...(offset === undefined ? {} : { offset }),
  });
}
