/**
 * The corpus-and-mutation fuzz runner (issue "Monorepo foundation", Harnesses). Each target runs in
 * a worker thread with a heap limit; the main thread watches a shared counter to catch hangs and
 * reads the shared input area to save the input behind any failure.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type FailureKind,
  HEADER_BYTES,
  SLOT_COUNTER,
  SLOT_LENGTH,
  type WorkerConfig,
  type WorkerMessage,
} from './protocol.js';

/** A discovered fuzz target. */
export interface FuzzTarget {
  /** Name: the file name without `.fuzz.ts`. */
  name: string;
  file: string;
  corpusDir: string;
  crashDir: string;
}

export interface RunOptions {
  timeMs: number;
  runs: number;
  seed: number;
  /** Per-input time budget; an input running longer is a hang. */
  maxInputMs: number;
  /** Largest single allocation allowed. */
  maxAllocBytes: number;
  /** Heap bound checked every few inputs. */
  maxHeapBytes: number;
  /** Extra inputs to run first (replay of saved crashes). */
  extraInputs?: { name: string; bytes: Uint8Array }[];
  replayOnly?: boolean;
}

export interface RunResult {
  target: string;
  ok: boolean;
  execs: number;
  corpusExecs: number;
  lsvmErrors: number;
  codes: Record<string, number>;
  failure?: { kind: FailureKind; message: string; savedTo: string };
  ms: number;
}

/** Finds `packages/<pkg>/fuzz/<name>.fuzz.ts` (or any dirs given). */
export function discoverTargets(roots: string[]): FuzzTarget[] {
  const out: FuzzTarget[] = [];
  for (const dir of roots) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.fuzz.ts')) continue;
      const name = f.slice(0, -'.fuzz.ts'.length);
      out.push({
        name,
        file: join(dir, f),
        corpusDir: join(dir, 'corpus', name),
        crashDir: join(dir, 'crashes'),
      });
    }
  }
  return out;
}

function readCorpus(dir: string): { name: string; bytes: Uint8Array }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}

/** Runs one target to completion or first failure. */
export function runTarget(t: FuzzTarget, o: RunOptions): Promise<RunResult> {
  const corpus = [...(o.extraInputs ?? []), ...readCorpus(t.corpusDir)];
  const largest = corpus.reduce((m, c) => Math.max(m, c.bytes.length), 0);
  const maxLength = Math.max(4096, Math.ceil(largest * 1.25));
  const shared = new SharedArrayBuffer(HEADER_BYTES + maxLength);
  const slots = new Int32Array(shared, 0, HEADER_BYTES / 4);
  const area = new Uint8Array(shared, HEADER_BYTES);
  const cfg: WorkerConfig = {
    targetFile: t.file,
    corpus,
    seed: o.seed,
    timeMs: o.timeMs,
    runs: o.runs,
    maxLength,
    maxAllocBytes: o.maxAllocBytes,
    maxHeapBytes: o.maxHeapBytes,
    shared,
    replayOnly: o.replayOnly ?? false,
  };
  const started = Date.now();
  const heapMb = Math.ceil((o.maxHeapBytes * 2) / (1024 * 1024));
  const worker = new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), {
    workerData: cfg,
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 64 },
    stdout: false,
    stderr: false,
  });

  return new Promise<RunResult>((resolve) => {
    let settled = false;
    let ready = false;
    let lastCounter = -1;
    let lastChange = Date.now();
    const currentInput = (): Uint8Array => area.slice(0, Atomics.load(slots, SLOT_LENGTH));
    const finish = (r: Omit<RunResult, 'target' | 'ms'>): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      void worker.terminate();
      resolve({ target: t.name, ms: Date.now() - started, ...r });
    };
    const fail = (kind: FailureKind, message: string, input: Uint8Array): void => {
      mkdirSync(t.crashDir, { recursive: true });
      const hash = createHash('sha1').update(input).digest('hex').slice(0, 16);
      const savedTo = join(t.crashDir, `${t.name}-${kind}-${hash}.bin`);
      writeFileSync(savedTo, input);
      finish({
        ok: false,
        execs: Atomics.load(slots, SLOT_COUNTER),
        corpusExecs: 0,
        lsvmErrors: 0,
        codes: {},
        failure: { kind, message, savedTo },
      });
    };
    const timer = setInterval(() => {
      if (!ready) return;
      const c = Atomics.load(slots, SLOT_COUNTER);
      const now = Date.now();
      if (c !== lastCounter) {
        lastCounter = c;
        lastChange = now;
      } else if (now - lastChange > o.maxInputMs) {
        fail('hang', `an input ran longer than ${o.maxInputMs} ms`, currentInput());
      }
    }, 20);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        ready = true;
        lastChange = Date.now();
      } else if (m.type === 'failure') fail(m.kind, m.message, new Uint8Array(m.input));
      else if (m.type === 'done')
        finish({
          ok: true,
          execs: m.execs,
          corpusExecs: m.corpusExecs,
          lsvmErrors: m.lsvmErrors,
          codes: m.codes,
        });
    });
    worker.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'ERR_WORKER_OUT_OF_MEMORY')
        fail('oom', `worker ran out of memory (heap bound ${heapMb} MiB)`, currentInput());
      else if (!ready)
        finish({
          ok: false,
          execs: 0,
          corpusExecs: 0,
          lsvmErrors: 0,
          codes: {},
          failure: { kind: 'crash', message: `target failed to load: ${e.message}`, savedTo: '' },
        });
      else fail('crash', `worker error: ${e.stack ?? e.message}`, currentInput());
    });
    worker.on('exit', (code) => {
      if (!settled) fail('crash', `worker exited with code ${code}`, currentInput());
    });
  });
}

/** One line for a result, plus how to replay a failure. */
export function describeResult(
  r: RunResult,
  replayHint: (file: string) => string,
  shown: (file: string) => string,
): string {
  if (r.ok) {
    const top = Object.entries(r.codes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([c, n]) => `${c}×${n}`)
      .join(' ');
    return `ok   ${r.target.padEnd(24)} ${String(r.execs).padStart(8)} execs (${r.corpusExecs} corpus) in ${(r.ms / 1000).toFixed(1)} s; LsvmErrors ${r.lsvmErrors}${top ? ` [${top}]` : ''}`;
  }
  const f = r.failure!;
  return `FAIL ${r.target.padEnd(24)} ${f.kind}: ${f.message.split('\n')[0]}\n     saved ${f.savedTo ? shown(f.savedTo) : '(nothing)'}\n     replay: ${f.savedTo ? replayHint(f.savedTo) : '-'}\n${f.message.split('\n').slice(1, 8).join('\n')}`;
}
