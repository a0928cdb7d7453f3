import { allocIoBuffers, throwIfAborted } from '@lsvm/core';

/** What {@link streamChunksSync} needs. */
export interface SyncStreamOptions {
  /** Bytes to stream. */
  size: number;
  /** Bytes per chunk: the one buffer's size. */
  chunkSize: number;
  /** Bytes streamed between two returns to the event loop (default {@link SYNC_SLICE}). */
  sliceBytes?: number;
  /** True when `[off, off + n)` is known to be all zeros: neither read nor consumed. */
  skip?(off: number, n: number): boolean;
  /** Fills `buf` with `[off, off + buf.length)`. */
  read(off: number, buf: Uint8Array): void;
  /** Consumes a chunk; `data` is only valid until it returns (the buffer is reused). */
  consume(off: number, data: Uint8Array): void;
  signal?: AbortSignal | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/**
 * Bytes between two yields: 8 MiB is a few milliseconds of blocking at page-cache speed (tens
 * under heavy load), and 256 yields for a 2 GiB disk, which cost nothing measurable.
 */
export const SYNC_SLICE = 8 * 1024 * 1024;

const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise((resolve) => setImmediate(resolve))
    : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Streams a range through one buffer with synchronous reads and consumers, in slices: after each
 * slice it reports progress, returns to the event loop (timers, signals, other I/O run) and checks
 * the abort signal. The counterpart of `pipelineChunks` for devices with synchronous I/O (see
 * `SyncFile` for why that is faster): no promise per chunk, one buffer that stays in the CPU cache
 * between the read and the write, memory use one chunk whatever the size.
 */
export async function streamChunksSync(o: SyncStreamOptions): Promise<void> {
  const [buf] = allocIoBuffers(1, o.chunkSize) as [Uint8Array];
  const slice = Math.max(o.chunkSize, o.sliceBytes ?? SYNC_SLICE);
  let off = 0;
  while (off < o.size) {
    throwIfAborted(o.signal);
    const end = Math.min(o.size, off + slice);
    while (off < end) {
      const n = Math.min(o.chunkSize, o.size - off);
      if (!o.skip?.(off, n)) {
        const view = n === buf.length ? buf : buf.subarray(0, n);
        o.read(off, view);
        o.consume(off, view);
      }
      off += n;
    }
    o.onProgress?.(off, o.size);
    if (off < o.size) await yieldToEventLoop();
  }
}
