import { BaseBlockDevice, type MemoryDevice } from '@lsvm/core';

/** One write a {@link RecordingDevice} saw. */
export interface Recorded {
  offset: number;
  bytes: Uint8Array;
  /** Writes of one epoch were in flight together: the device may complete them in any order. */
  epoch: number;
}

/**
 * A memory device that records every write and keeps each one in flight until the next turn of
 * the event loop, so writes the file system issues together overlap.
 *
 * `'process'` models a crash of the process: a write that starts while none is in flight opens a
 * new epoch — everything of the epochs before it had completed (and sits in the OS cache), so a
 * crash can only lose a subset of the current epoch and everything after it. `'power'` models a
 * power loss under a cache that writes back in any order: only a flush ends an epoch.
 */
export class RecordingDevice extends BaseBlockDevice {
  readonly inner: MemoryDevice;
  readonly writes: Recorded[] = [];
  flushes = 0;
  private inFlight = 0;
  private epoch = 1;
  private fresh = true;

  constructor(
    inner: MemoryDevice,
    readonly model: 'process' | 'power' = 'process',
  ) {
    super();
    this.inner = inner;
  }
  get size(): number {
    return this.inner.size;
  }
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  readonly readOnly = false;

  protected readAt(target: Uint8Array, offset: number): Promise<void> {
    return this.inner.readInto(target, offset);
  }

  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    if (this.model === 'process' && this.inFlight === 0 && !this.fresh) this.epoch++;
    this.fresh = false;
    this.inFlight++;
    this.writes.push({ offset, bytes: data.slice(), epoch: this.epoch });
    await this.inner.write(offset, data);
    await new Promise((r) => setImmediate(r));
    this.inFlight--;
  }

  override async flush(): Promise<void> {
    if (this.inFlight !== 0) throw new Error('flush with writes in flight');
    this.flushes++;
    if (!this.fresh) this.epoch++;
    this.fresh = true;
  }
}
