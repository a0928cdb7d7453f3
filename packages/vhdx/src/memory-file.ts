import { BaseBlockDevice, IoError } from '@lsvm/core';

/** A device that can change its size — what a VHDX writer needs to allocate blocks at the end. */
export interface ResizableDevice {
  resize(size: number): Promise<void>;
}

/** True when `dev` has a `resize` method (FileDevice, {@link MemoryFile}). */
export function isResizable(dev: unknown): dev is ResizableDevice {
  return typeof (dev as { resize?: unknown }).resize === 'function';
}

/**
 * A growable in-memory file: a BlockDevice with `resize`, for building or editing VHDX images in
 * memory (tests, fuzzing, browsers). Capacity doubles as it grows; new bytes read as zeros.
 */
export class MemoryFile extends BaseBlockDevice implements ResizableDevice {
  private buf: Uint8Array;
  private _size: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;

  constructor(initial: Uint8Array | number = 0, options: { sectorSize?: number; readOnly?: boolean } = {}) {
    super();
    if (typeof initial === 'number') {
      this.buf = new Uint8Array(initial);
      this._size = initial;
    } else {
      this.buf = initial;
      this._size = initial.length;
    }
    this.sectorSize = options.sectorSize ?? 512;
    this.readOnly = options.readOnly ?? false;
  }

  get size(): number {
    return this._size;
  }

  /** The current contents (a view; copy it to keep a snapshot). */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this._size);
  }

  async resize(size: number): Promise<void> {
    this.checkOpen();
    if (this.readOnly) throw new IoError('READ_ONLY', 'device is read-only');
    if (!Number.isSafeInteger(size) || size < 0) throw new IoError('BAD_SIZE', `bad size ${size}`);
    if (size > this.buf.length) {
      let cap = Math.max(this.buf.length, 1 << 20);
      while (cap < size) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this._size));
      this.buf = next;
    } else if (size < this._size) {
      this.buf.fill(0, size, this._size);
    }
    this._size = size;
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    target.set(this.buf.subarray(offset, offset + target.length));
  }

  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    this.buf.set(data, offset);
  }
}
