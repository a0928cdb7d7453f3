import { AbortedError } from './errors.js';

/** Called during long operations with the work done so far and the total, in the same unit (bytes). */
export type ProgressCallback = (done: number, total: number) => void;

/** Options accepted by every long-running operation. */
export interface LongOperationOptions {
  /** Progress reports, at most a few per second in practice. */
  onProgress?: ProgressCallback;
  /** Cancels the operation; it then rejects with {@link AbortedError}. */
  signal?: AbortSignal;
}

/** Throws {@link AbortedError} when the signal has fired. Call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    throw new AbortedError(reason instanceof Error ? reason.message : 'operation aborted');
  }
}
