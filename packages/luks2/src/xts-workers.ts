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
  const t0all = new Uint8Array(m.t0, 0, (m.length / m.sectorSize) * 16);
  const ctl = new Int32Array(m.ctl);
  const ss = m.sectorSize;
  const pieces = Math.ceil(m.length / m.piece);
  const aes = m.enc ? encrypt : decrypt;
  for (;;) {
    const i = Atomics.add(ctl, 0, 1);
    if (i >= pieces) break;
    const off = i * m.piece;
    const part = data.subarray(off, Math.min(m.length, off + m.piece));
    const t0 = t0all.subarray((off / ss) * 16, ((off + part.length) / ss) * 16);
    if (kernel) part.set(pieceFn(kernel, part, t0, ss, aes, part.byteOffset));
    else {
      xorTweaksFn(part, part, t0, ss);
      xorTweaksFn(aes(part), part, t0, ss);
    }
    Atomics.store(ctl, 1 + i, 1);
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

/** Shared buffers of one request in flight: initial tweaks and the claim counter / owner flags. */
interface JobSlot {
  t0: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
}

/**
 * One request handed to the pool: the workers are already claiming pieces. The caller claims its
 * own with {@link XtsJob.work}, then awaits {@link XtsJob.finish}.
 */
export interface XtsJob {
  /**
   * Claims and processes pieces on the calling thread until none is left, delivering each.
   * `dstOffset(at)` tells where (as a byteOffset) the bytes for request offset `at` will be
   * copied, which lets the kernel keep that copy fast (see xtsKernelPiece).
   */
  work(deliver?: XtsDeliver, dstOffset?: (at: number) => number): void;
  /**
   * Delivers the pieces the workers have finished so far and not yet delivered (they are in the
   * buffer already); the calling thread's copying then overlaps the workers' last pieces.
   */
  collect(deliver: XtsDeliver): void;
  /** Waits for the workers, then delivers their pieces not yet delivered by `collect`. */
  finish(deliver?: XtsDeliver): Promise<void>;
}

/** A small pool of XTS workers bound to one key. */
export class XtsWorkerPool {
  private readonly workers: import('node:worker_threads').Worker[];
  private readonly pending = new Map<number, Pending>();
  private readonly slots: (JobSlot | undefined)[] = [undefined, undefined];
  private nextId = 1;
  private jobs = 0;
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
    job.work();
    await job.finish();
  }

  /**
   * Hands `data` (a view of a SharedArrayBuffer, whole sectors) to the workers and returns the
   * job; the caller then takes its share with `work` and collects the rest with `finish`. At most
   * two jobs may be unfinished at once (one finishing while the next runs).
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
    const slot = this.slot(this.jobs++ % 2, sectors * 16, 4 * (1 + pieces));
    const t0 = new Uint8Array(slot.t0, 0, sectors * 16);
    t0.set(cipher.xtsInitialTweaks(firstIv, sectors, sectorSize));
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
        ctl: slot.ctl,
        sectorSize,
        piece,
        enc,
      });
    }
    const all = Promise.all(done).finally(() => {
      if (--this.active === 0) for (const w of this.workers) w.unref();
    });
    // Settled here too, so a worker failing while the caller still works is not unhandled;
    // `finish` rethrows it.
    all.catch(() => undefined);
    const bounds = (i: number): [number, number] => [i * piece, Math.min(data.length, (i + 1) * piece)];
    // Per piece: 0 = unclaimed or the caller's, 1 = done by a worker (set by it after writing
    // the piece, so the bytes are visible once the flag is), 2 = a worker's, delivered.
    const collect = (deliver: XtsDeliver): void => {
      for (let i = 0; i < pieces; i++) {
        if (Atomics.load(ctl, 1 + i) !== 1) continue;
        Atomics.store(ctl, 1 + i, 2);
        const [from, to] = bounds(i);
        deliver(from, data.subarray(from, to));
      }
    };
    return {
      work: (deliver, dstOffset) => {
        for (;;) {
          const i = Atomics.add(ctl, 0, 1);
          if (i >= pieces) return;
          const [from, to] = bounds(i);
          const part = data.subarray(from, to);
          let out: Uint8Array = part;
          if (cipher.usesKernel) {
            const tweaks = t0.subarray((from / sectorSize) * 16, (to / sectorSize) * 16);
            const dst = dstOffset ? dstOffset(from) : part.byteOffset;
            out = cipher.xtsKernelPiece(part, tweaks, sectorSize, enc, dst);
            if (!deliver) part.set(out);
          } else if (enc) cipher.encrypt(part, firstIv + BigInt(from / 512), sectorSize);
          else cipher.decrypt(part, firstIv + BigInt(from / 512), sectorSize);
          deliver?.(from, out);
        }
      },
      collect,
      finish: async (deliver) => {
        await all;
        if (deliver) collect(deliver);
      },
    };
  }

  /** The shared buffers of job slot `n`, grown to the sizes asked. */
  private slot(n: number, t0Bytes: number, ctlBytes: number): JobSlot {
    let s = this.slots[n];
    if (!s || s.t0.byteLength < t0Bytes || s.ctl.byteLength < ctlBytes) {
      s = {
        t0: new SharedArrayBuffer(Math.max(t0Bytes, s?.t0.byteLength ?? 0)),
        ctl: new SharedArrayBuffer(Math.max(ctlBytes, s?.ctl.byteLength ?? 0)),
      };
      this.slots[n] = s;
    }
    return s;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.failed ??= new Error('pool closed');
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
