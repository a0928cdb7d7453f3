import { type BatGeometry, batByteLength, PayloadState, payloadEntryIndex, writeBatEntry } from './bat.js';

/**
 * Where a new image's payload goes, for the converters: blocks are allocated in disk order at the
 * end of the file, each when the first chunk that needs it arrives (any chunk of a fixed disk, a
 * chunk that is not all zeros of a dynamic one), and the in-memory BAT is filled as they are.
 * Chunks must come in increasing order and never straddle two blocks.
 */
export class PayloadPlacer {
  /** The BAT of the new image, written to the file once, after the payload. */
  readonly bat: Uint8Array;
  private _end: number;
  private block = -1;
  private at = -1;

  constructor(
    private readonly g: BatGeometry,
    /** Where the payload area starts: the first block goes there. */
    readonly payloadOffset: number,
    private readonly fixed: boolean,
  ) {
    this.bat = new Uint8Array(batByteLength(g));
    this._end = payloadOffset;
  }

  get blockSize(): number {
    return this.g.blockSize;
  }

  /** End of the last allocated block: the file's size once the payload is written. */
  get end(): number {
    return this._end;
  }

  /**
   * The file offset at which to write the chunk at virtual offset `off`, or -1 when it needs no
   * write (it is `empty`, all zeros, and the disk is dynamic: its block stays unallocated, or the
   * chunk stays a hole inside an allocated block).
   */
  place(off: number, empty: boolean): number {
    const bs = this.g.blockSize;
    const b = Math.floor(off / bs);
    if (b !== this.block) {
      this.block = b;
      this.at = -1;
    }
    if (empty && !this.fixed) return -1;
    if (this.at < 0) {
      this.at = this._end;
      this._end += bs;
      writeBatEntry(this.bat, payloadEntryIndex(this.g, b), {
        state: PayloadState.FULLY_PRESENT,
        fileOffset: this.at,
      });
    }
    return this.at + (off - b * bs);
  }

  /**
   * For a fixed disk whose size is not a multiple of the block size: the part of the last block past
   * the disk's end, `[offset, offset + length)` in the file. It is allocated space too, so it is
   * written (with zeros) for the file not to be sparse.
   */
  fixedTail(): { offset: number; length: number } | undefined {
    if (!this.fixed || this.at < 0) return undefined;
    const bs = this.g.blockSize;
    const used = this.g.virtualDiskSize - this.block * bs;
    if (used >= bs) return undefined;
    return { offset: this.at + used, length: bs - used };
  }
}
