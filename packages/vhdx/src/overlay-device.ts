import { BaseBlockDevice, type BlockDevice } from '@lsvm/core';
import type { LogWrite } from './log.js';

/**
 * A read-only view of a file with a log replayed in memory ([MS-VHDX] §2.3.3 applied without
 * writing): reads see the file as it would be after replay, and the file itself is untouched. The
 * view is `lastFileOffset` long if that is past the file's end (bytes past the end read as zeros).
 */
export class LogOverlayDevice extends BaseBlockDevice {
  readonly readOnly = true;
  readonly size: number;
  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  constructor(
    readonly inner: BlockDevice,
    private readonly writes: readonly LogWrite[],
    lastFileOffset: number,
  ) {
    super();
    let size = Math.max(inner.size, lastFileOffset);
    for (const w of writes)
      size = Math.max(size, w.fileOffset + (w.kind === 'data' ? w.data.length : w.length));
    this.size = size;
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    const end = offset + target.length;
    const inFile = Math.max(0, Math.min(end, this.inner.size) - offset);
    if (inFile > 0) await this.inner.readInto(target.subarray(0, inFile), offset);
    target.fill(0, inFile);
    // Later writes win, so apply in log order.
    for (const w of this.writes) {
      const wLen = w.kind === 'data' ? w.data.length : w.length;
      const from = Math.max(offset, w.fileOffset);
      const to = Math.min(end, w.fileOffset + wLen);
      if (from >= to) continue;
      if (w.kind === 'data') {
        target.set(w.data.subarray(from - w.fileOffset, to - w.fileOffset), from - offset);
      } else {
        target.fill(0, from - offset, to - offset);
      }
    }
  }

  override async flush(): Promise<void> {}
  /** Closing the overlay does not close the file under it. */
  override async close(): Promise<void> {
    this.closed = true;
  }
}
