import { IoError, UsageError } from './errors.js';
import { allocIoBuffers } from './io-buffers.js';

/**
 * The one interface the lsvm stack composes through (DESIGN.md, "The picture"): a VHDX file, a GPT
 * partition of it, a LUKS volume opened on that partition are all BlockDevices.
 *
 * Offsets and lengths are byte counts held in JS numbers, checked to be safe integers. A device is
 * byte-addressable; `sectorSize` tells layers above which granularity is natural (and for some
 * devices, such as LUKS, required for writes).
 */
export interface BlockDevice {
  /** Size in bytes. */
  readonly size: number;
  /** Logical sector size in bytes (512 or 4096 in practice). */
  readonly sectorSize: number;
  /** True when {@link BlockDevice.write} is unavailable. */
  readonly readOnly: boolean;
  /** Reads exactly `length` bytes at `offset` into a new buffer. Reading past `size` is an error. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Reads exactly `target.length` bytes at `offset` into `target` (no allocation). */
  readInto(target: Uint8Array, offset: number): Promise<void>;
  /** Writes `data` at `offset`. Absent or throwing on read-only devices. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes previous writes durable (fsync for files). */
  flush(): Promise<void>;
  /** Releases resources. Further calls fail. */
  close(): Promise<void>;
}

/**
 * Base class implementing the argument checks every device needs, so implementations only write
 * `readAt`/`writeAt` for in-range, non-empty requests.
 */
export abstract class BaseBlockDevice implements BlockDevice {
  abstract readonly size: number;
  abstract readonly sectorSize: number;
  abstract readonly readOnly: boolean;
  protected closed = false;

  /** Reads `target.length` bytes at `offset`; the range is already checked. */
  protected abstract readAt(target: Uint8Array, offset: number): Promise<void>;
  /** Writes `data` at `offset`; the range is already checked and the device is writable. */
  protected writeAt(_data: Uint8Array, _offset: number): Promise<void> {
    return Promise.reject(new IoError('READ_ONLY', 'device is read-only'));
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(offset, length, this.size, 'read');
    const out = new Uint8Array(length);
    if (length > 0) await this.readInto(out, offset);
    return out;
  }

  async readInto(target: Uint8Array, offset: number): Promise<void> {
    this.checkOpen();
    checkRange(offset, target.length, this.size, 'read');
    if (target.length === 0) return;
    await this.readAt(target, offset);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new IoError('READ_ONLY', 'device is read-only', { offset });
    checkRange(offset, data.length, this.size, 'write');
    if (data.length === 0) return;
    await this.writeAt(data, offset);
  }

  async flush(): Promise<void> {
    this.checkOpen();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  protected checkOpen(): void {
    if (this.closed) throw new IoError('DEVICE_CLOSED', 'device is closed');
  }
}

/** Throws unless `[offset, offset + length)` lies within `[0, size]` and both are safe integers. */
export function checkRange(offset: number, length: number, size: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new UsageError('BAD_RANGE', `${what} at ${offset} of ${length} bytes: not a valid range`);
  }
  if (offset + length > size) {
    throw new IoError(
      'OUT_OF_RANGE',
      `${what} of ${length} bytes at ${offset} runs past the end of the ${size}-byte device`,
      {
        offset,
      },
    );
  }
}

/** A device held entirely in memory. Handy for tests, fuzzing and small images. */
export class MemoryDevice extends BaseBlockDevice {
  readonly size: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;
  /** The backing bytes (live; writes land here). */
  readonly bytes: Uint8Array;

  constructor(sizeOrBytes: number | Uint8Array, options: { sectorSize?: number; readOnly?: boolean } = {}) {
    super();
    this.bytes = typeof sizeOrBytes === 'number' ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.size = this.bytes.length;
    this.sectorSize = options.sectorSize ?? 512;
    this.readOnly = options.readOnly ?? false;
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    target.set(this.bytes.subarray(offset, offset + target.length));
  }

  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    this.bytes.set(data, offset);
  }
}

/**
 * A window `[offset, offset + length)` of another device — what a GPT partition is. Reads and
 * writes are translated and bounds-checked against the window, so a slice can never reach bytes
 * of its neighbours.
 */
export class SliceDevice extends BaseBlockDevice {
  readonly size: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;

  constructor(
    readonly parent: BlockDevice,
    readonly start: number,
    length: number,
    options: { sectorSize?: number; readOnly?: boolean } = {},
  ) {
    super();
    checkRange(start, length, parent.size, 'slice');
    this.size = length;
    this.sectorSize = options.sectorSize ?? parent.sectorSize;
    this.readOnly = parent.readOnly || (options.readOnly ?? false);
  }

  protected readAt(target: Uint8Array, offset: number): Promise<void> {
    return this.parent.readInto(target, this.start + offset);
  }

  protected override writeAt(data: Uint8Array, offset: number): Promise<void> {
    return this.parent.write(this.start + offset, data);
  }

  override flush(): Promise<void> {
    return this.parent.flush();
  }

  /** Closing a slice does not close its parent. */
  override async close(): Promise<void> {
    this.closed = true;
  }
}

/** Wraps a device so no write can reach it (flows that must leave their input untouched use it). */
export class ReadOnlyDevice extends BaseBlockDevice {
  readonly readOnly = true;
  get size(): number {
    return this.inner.size;
  }
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  constructor(readonly inner: BlockDevice) {
    super();
  }
  protected readAt(target: Uint8Array, offset: number): Promise<void> {
    return this.inner.readInto(target, offset);
  }
  override async flush(): Promise<void> {}
  override async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * Reads a whole device (or a range of it) in chunks, calling `fn` for each. The chunk buffer is
 * reused between calls: `fn` must copy what it keeps. This is the streaming primitive the hashing
 * and conversion paths use.
 */
export async function forEachChunk(
  dev: BlockDevice,
  fn: (chunk: Uint8Array, offset: number) => void | Promise<void>,
  options: { chunkSize?: number; start?: number; end?: number } = {},
): Promise<void> {
  const chunkSize = options.chunkSize ?? 4 * 1024 * 1024;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)
    throw new UsageError('BAD_SIZE', `chunk size ${chunkSize} is not a positive integer`);
  const start = options.start ?? 0;
  const end = options.end ?? dev.size;
  checkRange(start, end - start, dev.size, 'read');
  // Page-aligned: a file read into a buffer that starts just past a page boundary (where a fresh
  // `new Uint8Array(4 MiB)` lands) costs the kernel several times more (see io-buffers.ts).
  const [buf] = allocIoBuffers(1, chunkSize) as [Uint8Array];
  for (let off = start; off < end; off += chunkSize) {
    const n = Math.min(chunkSize, end - off);
    const view = n === chunkSize ? buf : buf.subarray(0, n);
    await dev.readInto(view, off);
    await fn(view, off);
  }
}
