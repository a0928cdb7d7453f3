/** Messages and shared-memory layout between the fuzz runner and its worker. */

/** Int32 slots at the start of the shared buffer. */
export const SLOT_COUNTER = 0; // incremented before each input
export const SLOT_LENGTH = 1; // length of the current input
export const HEADER_BYTES = 16;

export interface WorkerConfig {
  targetFile: string;
  corpus: { name: string; bytes: Uint8Array }[];
  seed: number;
  timeMs: number;
  runs: number;
  maxLength: number;
  maxAllocBytes: number;
  maxHeapBytes: number;
  shared: SharedArrayBuffer;
  /** Only replay the corpus (and the given inputs), no mutation. */
  replayOnly: boolean;
}

export type FailureKind = 'exception' | 'allocation' | 'heap' | 'hang' | 'oom' | 'crash';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'failure'; kind: FailureKind; message: string; input: Uint8Array }
  | { type: 'done'; execs: number; corpusExecs: number; lsvmErrors: number; codes: Record<string, number> };
