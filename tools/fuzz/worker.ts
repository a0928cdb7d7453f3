/**
 * Fuzz worker: loads one target, replays the corpus, then mutates until the time or run budget is
 * spent. Before each input it publishes the input and bumps a counter in shared memory, so the
 * runner can name the input that hung or exhausted memory even after terminating this thread.
 */
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { installAllocGuard } from './alloc-guard.js';
import { type FuzzHints, Rng, mutate } from './mutate.js';
import {
  HEADER_BYTES,
  SLOT_COUNTER,
  SLOT_LENGTH,
  type WorkerConfig,
  type WorkerMessage,
} from './protocol.js';

const cfg = workerData as WorkerConfig;
const port = parentPort!;
const slots = new Int32Array(cfg.shared, 0, HEADER_BYTES / 4);
const area = new Uint8Array(cfg.shared, HEADER_BYTES);

function post(m: WorkerMessage): void {
  port.postMessage(m);
}

/** An LsvmError by class identity or, across module instances, by its prototype chain. */
function isLsvmError(e: unknown): e is Error & { code: string } {
  let p: unknown = e;
  while (p !== null && typeof p === 'object') {
    const ctor = (p as { constructor?: { name?: string } }).constructor;
    if (ctor?.name === 'LsvmError') return true;
    p = Object.getPrototypeOf(p);
  }
  return false;
}

const guard = installAllocGuard(cfg.maxAllocBytes);
const mod = (await import(pathToFileURL(cfg.targetFile).href)) as {
  fuzz?: (data: Buffer) => unknown;
  fuzzHints?: FuzzHints;
};
if (typeof mod.fuzz !== 'function') throw new Error(`${cfg.targetFile} does not export fuzz(data)`);
const target = mod.fuzz;
const hints = mod.fuzzHints ?? {};

post({ type: 'ready' });

let execs = 0;
let lsvmErrors = 0;
const codes: Record<string, number> = {};

async function runOne(input: Uint8Array): Promise<boolean> {
  area.set(input.subarray(0, Math.min(input.length, area.length)));
  Atomics.store(slots, SLOT_LENGTH, Math.min(input.length, area.length));
  Atomics.add(slots, SLOT_COUNTER, 1);
  guard.reset();
  execs++;
  try {
    const r = target(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
    if (r && typeof (r as Promise<unknown>).then === 'function') await r;
  } catch (e) {
    if (guard.violation() === 0 && isLsvmError(e)) {
      lsvmErrors++;
      codes[e.code] = (codes[e.code] ?? 0) + 1;
    } else if (guard.violation() === 0) {
      const err = e as Error;
      post({
        type: 'failure',
        kind: 'exception',
        message: `${err?.name ?? 'thrown'}: ${err?.message ?? String(e)}\n${err?.stack ?? ''}`,
        input,
      });
      return false;
    }
  }
  if (guard.violation() > 0) {
    post({
      type: 'failure',
      kind: 'allocation',
      message: `allocation of ${guard.violation()} bytes (bound ${cfg.maxAllocBytes})`,
      input,
    });
    return false;
  }
  if (execs % 32 === 0) {
    const heap = process.memoryUsage().heapUsed;
    if (heap > cfg.maxHeapBytes) {
      (globalThis as { gc?: () => void }).gc?.();
      const after = process.memoryUsage().heapUsed;
      if (after > cfg.maxHeapBytes) {
        post({
          type: 'failure',
          kind: 'heap',
          message: `heap grew to ${after} bytes (bound ${cfg.maxHeapBytes})`,
          input,
        });
        return false;
      }
    }
  }
  return true;
}

const seeds = cfg.corpus.map((c) => c.bytes);
let ok = true;
for (const s of seeds) {
  ok = await runOne(s);
  if (!ok) break;
}
const corpusExecs = execs;
if (ok && !cfg.replayOnly) {
  const rng = new Rng(cfg.seed);
  const deadline = Date.now() + cfg.timeMs;
  const pool = seeds.length > 0 ? seeds : [new Uint8Array(0)];
  while (execs - corpusExecs < cfg.runs && Date.now() < deadline) {
    const base = pool[rng.below(pool.length)]!;
    const input = mutate(base, pool, rng, hints, cfg.maxLength);
    if (!(await runOne(input))) {
      ok = false;
      break;
    }
  }
}
if (ok) post({ type: 'done', execs, corpusExecs, lsvmErrors, codes });
