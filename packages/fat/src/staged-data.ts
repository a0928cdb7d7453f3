import type { PendingWrite } from './write-phase.js';

/** Smallest buffer a new run starts with (it doubles as data is appended). */
const MIN_RUN_CAPACITY = 64 * 1024;

/** One run of staged bytes: `length` bytes of `buffer` belong at byte `offset` of the device. */
interface Run {
  offset: number;
  buffer: Uint8Array;
  length: number;
}

/**
 * New-file data held in memory until the next write-out of a {@link FatFileSystem}. Clusters are
 * handed out one after the other, so the data of consecutive small files (and the zeroed clusters
 * of growing directories between them) usually lands end to end: it is appended into one growing
 * buffer per run, which becomes a single write — no per-file buffer and no second copy to join
 * them later.
 */
export class StagedData {
  private runs: Run[] = [];
  private total = 0;

  /** Bytes staged. */
  get bytes(): number {
    return this.total;
  }

  /** True when nothing is staged. */
  get empty(): boolean {
    return this.runs.length === 0;
  }

  /**
   * Stages `src` (copied) at `offset`, followed by zeros up to `length` bytes (a partly filled
   * last cluster is written whole).
   */
  add(offset: number, src: Uint8Array, length = src.length): void {
    if (length === 0) return;
    let run = this.runs[this.runs.length - 1];
    if (!run || run.offset + run.length !== offset) {
      run = { offset, buffer: new Uint8Array(Math.max(MIN_RUN_CAPACITY, length)), length: 0 };
      this.runs.push(run);
    } else if (run.length + length > run.buffer.length) {
      const grown = new Uint8Array(Math.max(run.buffer.length * 2, run.length + length));
      grown.set(run.buffer.subarray(0, run.length));
      run.buffer = grown;
    }
    // Past `run.length` a buffer was never written: the padding is already zeros.
    run.buffer.set(src.subarray(0, Math.min(src.length, length)), run.length);
    run.length += length;
    this.total += length;
  }

  /** Returns the staged runs as writes and forgets them. */
  take(): PendingWrite[] {
    const out = this.runs.map((r) => ({ offset: r.offset, bytes: r.buffer.subarray(0, r.length) }));
    this.runs = [];
    this.total = 0;
    return out;
  }

  /** Forgets everything staged. */
  clear(): void {
    this.runs = [];
    this.total = 0;
  }
}
