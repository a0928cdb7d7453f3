import { allocIoBuffers, throwIfAborted } from '@lsvm/core';

/** What {@link pipelineChunks} needs. */
export interface PipelineOptions {
  /** Bytes to stream. */
  size: number;
  /** Bytes per chunk. */
  chunkSize: number;
  /** Buffers in flight (reads ahead plus writes behind); memory use is `depth × chunkSize`. */
  depth: number;
  /** True when `[off, off + n)` is known to be zero and need not be read. */
  isHole(off: number, n: number): boolean;
  /** Reads `[off, off + buf.length)` into `buf`. */
  read(off: number, buf: Uint8Array): Promise<void>;
  /**
   * Consumes chunks in order (`data` is null for holes); the stream waits for what it returns. A
   * write that still uses `data` is handed to `hold` instead of being awaited: the stream moves on
   * at once and reuses the buffer only once that write settles, so several writes can be queued
   * on the I/O threads while the next chunks are read. (A promise cannot be *returned* for this:
   * awaiting a promise that resolves to a promise waits for both.)
   */
  consume(
    off: number,
    data: Uint8Array | null,
    hold: (write: Promise<void>) => void,
  ): Promise<void> | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/**
 * Streams a range through a small pool of buffers so that reads ahead, the in-order consumer and
 * writes behind overlap (node's file I/O runs on the libuv thread pool). Memory is bounded by the
 * pool whatever the size; the first failing read or write rejects the whole stream.
 */
export async function pipelineChunks(o: PipelineOptions): Promise<void> {
  const free: Uint8Array[] = allocIoBuffers(Math.max(2, o.depth), o.chunkSize);
  const busy = new Set<Promise<void>>();
  const state: { failure?: { error: unknown } } = {};
  const rethrow = (): void => {
    if (state.failure) throw state.failure.error;
  };
  interface Job {
    off: number;
    n: number;
    base: Uint8Array | undefined;
    read: Promise<void> | undefined;
  }
  const queue: Job[] = [];
  let next = 0;
  const track = (base: Uint8Array | undefined, p: Promise<void>): void => {
    const done = p.then(
      () => {
        busy.delete(done);
        if (base) free.push(base);
      },
      (error: unknown) => {
        busy.delete(done);
        state.failure ??= { error };
      },
    );
    busy.add(done);
  };
  const fill = (): void => {
    while (next < o.size && queue.length < o.depth * 2) {
      const n = Math.min(o.chunkSize, o.size - next);
      if (o.isHole(next, n)) {
        queue.push({ off: next, n, base: undefined, read: undefined });
      } else {
        const base = free.pop();
        if (!base) return;
        const read = o.read(next, base.subarray(0, n));
        // Observe failures now; they are rethrown when the job is consumed.
        read.catch(() => undefined);
        queue.push({ off: next, n, base, read });
      }
      next += n;
    }
  };
  try {
    for (;;) {
      rethrow();
      throwIfAborted(o.signal);
      fill();
      const job = queue.shift();
      if (!job) {
        if (next >= o.size) break;
        // Every buffer is held by a write in flight: wait for one.
        await Promise.race(busy);
        continue;
      }
      if (job.read) await job.read;
      const view = job.base ? job.base.subarray(0, job.n) : null;
      let held: Promise<void> | undefined;
      await o.consume(job.off, view, (w) => {
        held = w;
      });
      // The buffer (if any) comes back when the write settles; a failure stops the stream.
      if (held) track(job.base, held);
      else if (job.base) free.push(job.base);
      // Writes of holes (zeros into a fixed disk) hold no pool buffer: bound them here instead.
      while (busy.size > o.depth) await Promise.race(busy);
      o.onProgress?.(job.off + job.n, o.size);
    }
    await Promise.all(busy);
    rethrow();
  } finally {
    // On a failure, an abort or a throwing consumer: let the reads and writes still in flight
    // settle before returning, so the caller never closes the files (or reuses the buffers)
    // underneath them.
    await Promise.allSettled([...busy, ...queue.flatMap((j) => (j.read ? [j.read] : []))]);
  }
}
