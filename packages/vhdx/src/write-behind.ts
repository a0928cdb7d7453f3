import { allocIoBuffers, IoError } from '@lsvm/core';

/**
 * Write-behind: a worker thread that performs a converter's positional writes while the calling
 * thread reads and tests the next chunks.
 *
 * Why: a conversion on one thread is a serial chain of two kernel copies per chunk — pread into
 * our buffer, pwrite out of it — plus the zero test. Both copies are system time on the calling
 * thread, so a 2-core machine runs it on one core. With the writes on a second thread the two
 * copies overlap: measured on the 2 GiB half-zero benchmark disk (raw → VHDX), see the package
 * README's "Performance". The thread costs a few tens of milliseconds to start, so converters use
 * it only for large disks.
 *
 * The hand-off is a ring of page-aligned chunk buffers in shared memory (page-aligned for the
 * reason given in core's io-buffers.ts) and a few shared counters. No message crosses threads per chunk:
 * the caller fills the slot at `head`, publishes its file position and length, and moves `head`
 * on; the worker writes slots in order and moves `tail` on. Each side sleeps with Atomics.wait on
 * an event counter the other side bumps after every change, so a wake-up can never be missed
 * (a bump between reading the counter and waiting makes the wait return at once).
 *
 * Starting: the caller never waits for the worker to come up. If the ring is full before the
 * worker has announced itself, the caller takes the ring back with one compare-and-exchange on the
 * state word, writes the queued slots itself and carries on writing synchronously; a worker that
 * starts later sees the state and exits without touching the file. So a worker that cannot start
 * at all (a thread limit, a sandbox) costs a short wait, never a hang.
 */

/** Indices into the shared control array. */
const HEAD = 0; // slots published by the caller
const TAIL = 1; // slots written by the worker
const STATE = 2; // see STARTING…
const MAIN_EVENT = 3; // bumped by the caller after every change
const WORKER_EVENT = 4; // bumped by the worker after every change
const FAILED_SLOT = 5; // the slot whose write failed (valid when STATE is FAILED)
const CONTROL_WORDS = 6;

const STARTING = 0;
const RUNNING = 1;
const TAKEN_BACK = 2; // the caller writes for itself
const FINISHING = 3; // no more slots will come: write what is queued and exit
const STOPPING = 4; // exit now, leave queued slots unwritten (the caller is failing)
const FAILED = 5; // a write failed; the worker has exited

/** Bytes of the failure text the worker leaves for the caller. */
const ERROR_BYTES = 1024;
/** How long the caller waits for a starting worker before it takes the ring back. */
const START_GRACE_MS = 250;

/** A queue of positional writes to one file descriptor, performed by a worker thread. */
export interface WriteBehind {
  /**
   * The buffer to read the next chunk into: the slot at the head of the ring, once it is free
   * (this may wait for the worker). It stays the same until {@link submit} queues it.
   */
  current(): Uint8Array;
  /** Queues `data` — a prefix of {@link current}'s buffer — to be written at `position`. */
  submit(position: number, data: Uint8Array): void;
  /** Waits until every queued write is done; throws the IoError of a write that failed. */
  drain(): void;
  /**
   * Stops the worker and waits for it to exit; the file descriptor may be closed after this.
   * Without a prior {@link drain}, queued writes may be left unwritten (the failure path).
   */
  close(): Promise<void>;
}

/** What {@link startWriteBehind} needs. */
export interface WriteBehindOptions {
  /** An open file descriptor, writable, that stays open until {@link WriteBehind.close} returns. */
  fd: number;
  /** The file's path, for error messages. */
  path: string;
  /** Bytes per slot (a multiple of 4 KiB keeps every slot page-aligned). */
  chunkSize: number;
  /** Slots in the ring. */
  slots: number;
  /** Synchronous positional write on the caller's thread (used when it writes for itself). */
  writeSync(position: number, data: Uint8Array): void;
  /**
   * How long the caller waits, with a full ring, for a worker that has not started yet before it
   * takes the ring back (default {@link START_GRACE_MS}).
   */
  startGraceMs?: number;
}

/**
 * The worker's whole program. It only ever writes slots the caller published, in order, and only
 * while the state says it runs, so it can never write after the caller has taken the ring back.
 */
const WORKER_SOURCE = `'use strict';
const { workerData: d } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const ctl = new Int32Array(d.control);
const pos = new Float64Array(d.positions);
const len = new Int32Array(d.lengths);
const slotBytes = d.slotBuffers.map((b) => new Uint8Array(b.buffer, b.offset, b.length));
const err = new Uint8Array(d.error);
const bump = () => { Atomics.add(ctl, ${WORKER_EVENT}, 1); Atomics.notify(ctl, ${WORKER_EVENT}); };
if (Atomics.compareExchange(ctl, ${STATE}, ${STARTING}, ${RUNNING}) === ${STARTING}) {
  bump();
  let t = Atomics.load(ctl, ${TAIL});
  for (;;) {
    const ev = Atomics.load(ctl, ${MAIN_EVENT});
    const state = Atomics.load(ctl, ${STATE});
    if (state === ${STOPPING}) break;
    if (t === Atomics.load(ctl, ${HEAD})) {
      if (state === ${FINISHING}) break;
      Atomics.wait(ctl, ${MAIN_EVENT}, ev);
      continue;
    }
    const s = t % d.slots;
    try {
      let done = 0;
      const n = len[s];
      while (done < n) {
        const k = writeSync(d.fd, slotBytes[s], done, n - done, pos[s] + done);
        if (k <= 0) throw new Error('short write');
        done += k;
      }
    } catch (e) {
      const text = new TextEncoder().encode(String(e && e.message ? e.message : e));
      err.set(text.subarray(0, err.length));
      ctl[${FAILED_SLOT}] = s;
      Atomics.store(ctl, ${STATE}, ${FAILED});
      bump();
      break;
    }
    t++;
    Atomics.store(ctl, ${TAIL}, t);
    bump();
  }
}
`;

/**
 * Starts a write-behind worker for `fd`, or returns undefined where worker threads or shared
 * WebAssembly memory are unavailable (the caller then writes synchronously itself).
 */
export async function startWriteBehind(o: WriteBehindOptions): Promise<WriteBehind | undefined> {
  let Worker: typeof import('node:worker_threads').Worker;
  try {
    ({ Worker } = await import('node:worker_threads'));
  } catch {
    return undefined;
  }
  if (o.slots < 2 || o.chunkSize <= 0 || typeof SharedArrayBuffer !== 'function') return undefined;
  // Page-aligned and shared (core's allocIoBuffers: one shared WebAssembly memory, or plain
  // SharedArrayBuffers where the engine refuses it).
  let slots: Uint8Array[];
  try {
    slots = allocIoBuffers(o.slots, o.chunkSize, { shared: true });
  } catch {
    return undefined;
  }
  const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const positions = new SharedArrayBuffer(o.slots * 8);
  const lengths = new SharedArrayBuffer(o.slots * 4);
  const error = new SharedArrayBuffer(ERROR_BYTES);
  let worker: InstanceType<typeof Worker>;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        control,
        positions,
        lengths,
        error,
        fd: o.fd,
        slots: o.slots,
        slotBuffers: slots.map((b) => ({ buffer: b.buffer, offset: b.byteOffset, length: b.length })),
      },
      stdout: true,
      stderr: true,
    });
  } catch {
    return undefined;
  }
  // A worker that fails to start (or dies) is handled through the state word; the event only
  // keeps the process from crashing on an unhandled 'error'.
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => resolve());
    worker.on('error', () => undefined);
  });
  // Not unref()'d: close() awaits the worker's exit, which must keep the process alive.
  return new SharedRing(o, worker, exited, slots, {
    control: new Int32Array(control),
    positions: new Float64Array(positions),
    lengths: new Int32Array(lengths),
    error: new Uint8Array(error),
  });
}

interface RingViews {
  control: Int32Array;
  positions: Float64Array;
  lengths: Int32Array;
  error: Uint8Array;
}

class SharedRing implements WriteBehind {
  private head = 0;
  private closed = false;

  constructor(
    private readonly o: WriteBehindOptions,
    private readonly worker: { terminate(): Promise<number> },
    private readonly exited: Promise<void>,
    private readonly slotViews: Uint8Array[],
    private readonly v: RingViews,
  ) {}

  current(): Uint8Array {
    this.waitFor(() => this.head - Atomics.load(this.v.control, TAIL) < this.o.slots);
    return this.slotViews[this.head % this.o.slots]!;
  }

  submit(position: number, data: Uint8Array): void {
    const s = this.head % this.o.slots;
    const slot = this.slotViews[s]!;
    if (data.buffer !== slot.buffer || data.byteOffset !== slot.byteOffset || data.length > slot.length)
      throw new RangeError('WriteBehind.submit: data is not the current slot');
    if (this.takenBack()) {
      this.o.writeSync(position, data);
      return;
    }
    this.v.positions[s] = position;
    this.v.lengths[s] = data.length;
    this.head++;
    Atomics.store(this.v.control, HEAD, this.head);
    this.bump();
  }

  drain(): void {
    this.waitFor(() => Atomics.load(this.v.control, TAIL) === this.head);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.v.control;
    // FINISHING after a drain (nothing queued), STOPPING otherwise; a worker that already exited
    // (failed) or never ran (taken back) is left alone.
    const next = Atomics.load(c, TAIL) === this.head ? FINISHING : STOPPING;
    for (const from of [STARTING, RUNNING]) {
      if (Atomics.compareExchange(c, STATE, from, from === STARTING ? TAKEN_BACK : next) === from) break;
    }
    this.bump();
    // A worker that is still starting has nothing to do once it sees the state; one that never
    // starts is terminated rather than waited for.
    const state = Atomics.load(c, STATE);
    if (state === TAKEN_BACK) {
      await this.worker.terminate();
      return;
    }
    await this.exited;
  }

  private bump(): void {
    Atomics.add(this.v.control, MAIN_EVENT, 1);
    Atomics.notify(this.v.control, MAIN_EVENT);
  }

  private takenBack(): boolean {
    return Atomics.load(this.v.control, STATE) === TAKEN_BACK;
  }

  /** Waits until `ready()`, taking the ring back from a worker that has not started in time. */
  private waitFor(ready: () => boolean): void {
    const c = this.v.control;
    const started = Date.now();
    const grace = this.o.startGraceMs ?? START_GRACE_MS;
    for (;;) {
      const ev = Atomics.load(c, WORKER_EVENT);
      const state = Atomics.load(c, STATE);
      if (state === FAILED) throw this.failure();
      if (state === TAKEN_BACK || ready()) return;
      if (state === STARTING) {
        if (Date.now() - started >= grace) {
          if (Atomics.compareExchange(c, STATE, STARTING, TAKEN_BACK) === STARTING) {
            this.writeQueued();
            return;
          }
          continue; // the worker started meanwhile
        }
        Atomics.wait(c, WORKER_EVENT, ev, Math.max(1, grace - (Date.now() - started)));
        continue;
      }
      Atomics.wait(c, WORKER_EVENT, ev);
    }
  }

  /** After taking the ring back: the queued slots, written on this thread, in order. */
  private writeQueued(): void {
    const c = this.v.control;
    for (let t = Atomics.load(c, TAIL); t < this.head; t++) {
      const s = t % this.o.slots;
      this.o.writeSync(this.v.positions[s]!, this.slotViews[s]!.subarray(0, this.v.lengths[s]!));
      Atomics.store(c, TAIL, t + 1);
    }
  }

  private failure(): IoError {
    const c = this.v.control;
    const s = c[FAILED_SLOT]!;
    const end = this.v.error.indexOf(0);
    const text = new TextDecoder().decode(this.v.error.slice(0, end < 0 ? this.v.error.length : end));
    const offset = this.v.positions[s]!;
    return new IoError('WRITE_FAILED', `cannot write ${this.o.path} at ${offset}: ${text}`, { offset });
  }
}
