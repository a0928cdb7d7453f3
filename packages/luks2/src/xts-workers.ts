import { UsageError } from '@lsvm/core';
import { type SectorCipher, type XtsKernelChoice, words, xorTweaks } from './cipher.js';
import { XTS_PIECE, xtsKernelModule, xtsKernelPiece, xtsKernelReserve } from './xts-kernel.js';

/**
 * Worker threads for XTS on large requests (DESIGN.md rule 7). A request (whole sectors in a
 * SharedArrayBuffer) is cut into {@link XTS_PIECE}-byte pieces that the calling thread and the
 * workers claim one at a time from a shared atomic counter, so the split follows whichever thread
 * is faster at the moment (on a shared machine that changes from one millisecond to the next).
 * The calling thread computes every initial tweak (one ECB call with K2 for the whole request);
 * each worker holds AES-ECB contexts for K1 and its own instance of the XTS tweak kernel
 * (xts-kernel.ts), built from the very functions the calling thread uses, so both compute
 * bit-identical results. Pieces the calling thread takes go straight to the caller's
 * destination; pieces a worker takes are written back into the shared buffer.
 */

/**
 * States of a piece in a job's control array (index 1 + piece; index 0 is the claim counter).
 * A worker moves its claimed piece FREE → WORKING → DONE; the calling thread marks its own
 * pieces MINE and moves every other one to TAKEN when it delivers it, taking over the pieces a
 * worker has not finished (recomputed from the input, which nobody modifies): a worker the OS
 * does not run at the moment never holds up the request. Every transition is a
 * compare-and-exchange, so a worker never starts a piece already taken, and a late result is
 * simply ignored.
 */
const PIECE_FREE = 0;
const PIECE_WORKING = 3;
const PIECE_DONE = 1;
const PIECE_TAKEN = 2;
const PIECE_MINE = 4;

function workerSource(): string {
  // Referred to through their runtime names: a bundler may have renamed them.
  return `'use strict';
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv } = require('node:crypto');
${words.toString()}
${xorTweaks.toString()}
${xtsKernelReserve.toString()}
${xtsKernelPiece.toString()}
const xorTweaksFn = ${xorTweaks.name};
const reserveFn = ${xtsKernelReserve.name};
const pieceFn = ${xtsKernelPiece.name};
let enc;
let dec;
let kernel;
const encrypt = (b) => enc.update(b);
const decrypt = (b) => dec.update(b);
parentPort.on('message', (m) => {
  if (m.type === 'key') {
    const name = 'aes-' + m.key.length * 8 + '-ecb';
    enc = createCipheriv(name, m.key, null).setAutoPadding(false);
    dec = createDecipheriv(name, m.key, null).setAutoPadding(false);
    m.key.fill(0);
    if (m.module) {
      const x = new WebAssembly.Instance(m.module, {}).exports;
      kernel = { x, cap: 0, mem: new Uint8Array(x.memory.buffer) };
      reserveFn(kernel, m.piece);
    }
    return;
  }
  const data = new Uint8Array(m.sab, m.offset, m.length);
  const out = new Uint8Array(m.out, 0, m.length);
  const t0all = new Uint8Array(m.t0, 0, (m.length / m.sectorSize) * 16);
  const ctl = new Int32Array(m.ctl);
  const ss = m.sectorSize;
  const pieces = Math.ceil(m.length / m.piece);
  const aes = m.enc ? encrypt : decrypt;
  for (;;) {
    const i = Atomics.add(ctl, 0, 1);
    if (i >= pieces) break;
    // taken over by the calling thread before we got to it (${PIECE_TAKEN})
    if (Atomics.compareExchange(ctl, 1 + i, ${PIECE_FREE}, ${PIECE_WORKING}) !== ${PIECE_FREE}) continue;
    const off = i * m.piece;
    const part = data.subarray(off, Math.min(m.length, off + m.piece));
    const dst = out.subarray(off, off + part.length);
    const t0 = t0all.subarray((off / ss) * 16, ((off + part.length) / ss) * 16);
    if (kernel) dst.set(pieceFn(kernel, part, t0, ss, aes, dst.byteOffset));
    else {
      const tmp = new Uint8Array(part);
      xorTweaksFn(tmp, tmp, t0, ss);
      xorTweaksFn(aes(tmp), dst, t0, ss);
    }
    Atomics.compareExchange(ctl, 1 + i, ${PIECE_WORKING}, ${PIECE_DONE});
  }
  if (kernel) kernel.mem.fill(0);
  parentPort.postMessage(m.id);
});
`;
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Receives finished bytes: `bytes` is the result for offset `offset` of the request. */
export type XtsDeliver = (offset: number, bytes: Uint8Array) => void;

/** Shared buffers of one request in flight: initial tweaks, workers' output, control. */
interface JobSlot {
  t0: SharedArrayBuffer;
  out: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  /** A job using these buffers may still have workers reading or writing them. */
  busy: boolean;
}

/**
 * One request handed to the pool: the workers are already claiming pieces. The caller takes its
 * share with {@link XtsJob.work}, then gets every other piece with {@link XtsJob.drain}; the
 * input must stay untouched until {@link XtsJob.settled}.
 */
export interface XtsJob {
  /**
   * Claims and processes pieces on the calling thread until none is left, delivering each.
   * `dstOffset(at)` tells where (as a byteOffset) the bytes for request offset `at` will be
   * copied, which lets the kernel keep that copy fast (see xtsKernelPiece).
   */
  work(deliver: XtsDeliver, dstOffset?: (at: number) => number): void;
  /**
   * After `work`: delivers every piece not yet delivered, without waiting — those the workers
   * finished from their output, those they still hold recomputed on the calling thread.
   */
  drain(deliver: XtsDeliver, dstOffset?: (at: number) => number): void;
  /**
   * Settles once no worker touches this job's buffers any more; rejects with
   * `LUKS_WORKER_FAILED` if a worker failed.
   */
  readonly settled: Promise<void>;
}

/** A small pool of XTS workers bound to one key. */
export class XtsWorkerPool {
  private readonly workers: import('node:worker_threads').Worker[];
  private readonly pending = new Map<number, Pending>();
  private readonly slots: JobSlot[] = [];
  private nextId = 1;
  private active = 0;
  private failed: Error | undefined;

  private constructor(workers: import('node:worker_threads').Worker[]) {
    this.workers = workers;
    for (const w of workers) {
      w.on('message', (id: number) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        p?.resolve();
      });
      const fail = (e: Error): void => {
        this.failed ??= e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', (code) => {
        if (code !== 0 || this.pending.size > 0) fail(new Error(`XTS worker exited with code ${code}`));
      });
      w.unref();
    }
  }

  /**
   * Starts `threads` workers holding K1 of `volumeKey` (an XTS key). The caller's key buffer is
   * not kept; the workers' copies are zeroed after their contexts are built.
   * @param options.kernel `js` makes the workers use the portable JavaScript tweak passes instead
   *   of the WebAssembly kernel (same bytes, slower); `auto` (default) and `wasm` use the kernel
   *   when the runtime has it.
   */
  static async create(
    volumeKey: Uint8Array,
    threads: number,
    options: { kernel?: XtsKernelChoice } = {},
  ): Promise<XtsWorkerPool> {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64)
      throw new UsageError('LUKS_THREADS', `worker count ${threads} is not 1…64`);
    const { Worker } = await import('node:worker_threads');
    const src = workerSource();
    const module = options.kernel === 'js' ? undefined : xtsKernelModule();
    const k1 = volumeKey.subarray(0, volumeKey.length / 2);
    const workers = [];
    for (let i = 0; i < threads; i++) {
      const w = new Worker(src, { eval: true });
      const copy = new Uint8Array(k1);
      w.postMessage({ type: 'key', key: copy, module, piece: XTS_PIECE }, [copy.buffer]);
      workers.push(w);
    }
    return new XtsWorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Encrypts or decrypts `data` (a view of a SharedArrayBuffer, whole sectors) in place, split
   * between the workers and the calling thread.
   */
  async run(
    cipher: SectorCipher,
    data: Uint8Array,
    firstIv: bigint,
    sectorSize: number,
    enc: boolean,
  ): Promise<void> {
    const job = this.start(cipher, data, firstIv, sectorSize, enc);
    const deliver: XtsDeliver = (at, bytes) => {
      if (bytes.buffer !== data.buffer || bytes.byteOffset !== data.byteOffset + at) data.set(bytes, at);
    };
    try {
      job.work(deliver);
      job.drain(deliver);
    } finally {
      // the caller may reuse `data` once we return
      await job.settled.catch(() => undefined);
    }
    await job.settled;
  }

  /**
   * Hands `data` (a view of a SharedArrayBuffer, whole sectors) to the workers and returns the
   * job; the caller then takes its share with `work` and everything else with `drain`. `data`
   * is only read, never written.
   */
  start(cipher: SectorCipher, data: Uint8Array, firstIv: bigint, sectorSize: number, enc: boolean): XtsJob {
    if (this.failed) throw new UsageError('LUKS_WORKER_FAILED', `XTS worker failed: ${this.failed.message}`);
    if (!(data.buffer instanceof SharedArrayBuffer))
      throw new UsageError('LUKS_NOT_SHARED', 'worker XTS needs a SharedArrayBuffer-backed buffer');
    if (data.length % sectorSize !== 0)
      throw new UsageError('LUKS_BAD_SECTOR_REQUEST', `${data.length} bytes are not whole sectors`);
    const piece = Math.max(sectorSize, XTS_PIECE - (XTS_PIECE % sectorSize));
    const pieces = Math.ceil(data.length / piece);
    const sectors = data.length / sectorSize;
    const slot = this.slot(sectors * 16, data.length, 4 * (1 + pieces));
    const t0 = new Uint8Array(slot.t0, 0, sectors * 16);
    t0.set(cipher.xtsInitialTweaks(firstIv, sectors, sectorSize));
    const out = new Uint8Array(slot.out, 0, data.length);
    const ctl = new Int32Array(slot.ctl, 0, 1 + pieces);
    ctl.fill(0);
    const done: Promise<void>[] = [];
    // Idle workers are unref'd so they never keep a process alive; while a job is out they must
    // be ref'd, or an await on them alone would let Node exit with the promise unsettled.
    if (this.active++ === 0) for (const w of this.workers) w.ref();
    for (const w of this.workers) {
      const id = this.nextId++;
      done.push(
        new Promise<void>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
        }).catch((e: Error) => {
          throw new UsageError('LUKS_WORKER_FAILED', `XTS worker failed: ${e.message}`, { cause: e });
        }),
      );
      w.postMessage({
        type: 'run',
        id,
        sab: data.buffer,
        offset: data.byteOffset,
        length: data.length,
        t0: slot.t0,
        out: slot.out,
        ctl: slot.ctl,
        sectorSize,
        piece,
        enc,
      });
    }
    const settled = Promise.all(done)
      .then(() => undefined)
      .finally(() => {
        slot.busy = false;
        if (--this.active === 0) for (const w of this.workers) w.unref();
      });
    // Handled here too: nobody may be waiting on it when a worker fails.
    settled.catch(() => undefined);
    const bounds = (i: number): [number, number] => [i * piece, Math.min(data.length, (i + 1) * piece)];
    /** XTS of piece i on this thread, from the input (never modified). */
    const compute = (i: number, dstOffset: ((at: number) => number) | undefined): Uint8Array => {
      const [from, to] = bounds(i);
      const part = data.subarray(from, to);
      if (cipher.usesKernel) {
        const tweaks = t0.subarray((from / sectorSize) * 16, (to / sectorSize) * 16);
        const dst = dstOffset ? dstOffset(from) : data.byteOffset + from;
        return cipher.xtsKernelPiece(part, tweaks, sectorSize, enc, dst);
      }
      const copy = new Uint8Array(part);
      if (enc) cipher.encrypt(copy, firstIv + BigInt(from / 512), sectorSize);
      else cipher.decrypt(copy, firstIv + BigInt(from / 512), sectorSize);
      return copy;
    };
    return {
      work: (deliver, dstOffset) => {
        for (;;) {
          const i = Atomics.add(ctl, 0, 1);
          if (i >= pieces) return;
          Atomics.store(ctl, 1 + i, PIECE_MINE);
          deliver(bounds(i)[0], compute(i, dstOffset));
        }
      },
      drain: (deliver, dstOffset) => {
        for (let i = 0; i < pieces; i++) {
          for (;;) {
            const state = Atomics.load(ctl, 1 + i);
            if (state === PIECE_MINE || state === PIECE_TAKEN) break;
            // changed under us (a worker started or finished it): look again
            if (Atomics.compareExchange(ctl, 1 + i, state, PIECE_TAKEN) !== state) continue;
            const [from, to] = bounds(i);
            deliver(from, state === PIECE_DONE ? out.subarray(from, to) : compute(i, dstOffset));
            break;
          }
        }
      },
      settled,
    };
  }

  /** Free shared buffers of at least the sizes asked, marked busy. */
  private slot(t0Bytes: number, outBytes: number, ctlBytes: number): JobSlot {
    let s = this.slots.find((x) => !x.busy);
    if (!s) {
      s = {
        t0: new SharedArrayBuffer(0),
        out: new SharedArrayBuffer(0),
        ctl: new SharedArrayBuffer(0),
        busy: false,
      };
      this.slots.push(s);
    }
    if (s.t0.byteLength < t0Bytes) s.t0 = new SharedArrayBuffer(t0Bytes);
    if (s.out.byteLength < outBytes) s.out = new SharedArrayBuffer(outBytes);
    if (s.ctl.byteLength < ctlBytes) s.ctl = new SharedArrayBuffer(ctlBytes);
    s.busy = true;
    return s;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.failed ??= new Error('pool closed');
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
    // the workers' output held plaintext (or, encrypting, its input did)
    for (const s of this.slots) new Uint8Array(s.out).fill(0);
  }
}
