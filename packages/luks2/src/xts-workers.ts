import { UsageError } from '@lsvm/core';
import { type SectorCipher, words, xorTweaks } from './cipher.js';

/**
 * Worker threads for XTS on large requests (DESIGN.md rule 7). Each worker holds its own AES-ECB
 * contexts for K1 and runs the same tweak/AES/tweak passes as {@link SectorCipher} on its share of
 * a SharedArrayBuffer; the main thread computes every initial tweak (one small ECB call with K2)
 * and processes a share itself. The worker code is built from the very functions the main thread
 * uses, so both paths compute bit-identical results.
 */

/** Bytes per ECB call inside a worker, as in cipher.ts. */
const WORKER_CHUNK = 256 * 1024;

function workerSource(): string {
  return `'use strict';
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv } = require('node:crypto');
${words.toString()}
${xorTweaks.toString()}
let enc;
let dec;
parentPort.on('message', (m) => {
  if (m.type === 'key') {
    const name = 'aes-' + m.key.length * 8 + '-ecb';
    enc = createCipheriv(name, m.key, null).setAutoPadding(false);
    dec = createDecipheriv(name, m.key, null).setAutoPadding(false);
    m.key.fill(0);
    return;
  }
  const data = new Uint8Array(m.sab, m.offset, m.length);
  const ss = m.sectorSize;
  const per = Math.max(ss, ${WORKER_CHUNK} - (${WORKER_CHUNK} % ss));
  for (let o = 0; o < data.length; o += per) {
    const part = data.subarray(o, Math.min(data.length, o + per));
    const t0 = m.t0.subarray((o / ss) * 16, ((o + part.length) / ss) * 16);
    xorTweaks(part, part, t0, ss);
    xorTweaks(m.enc ? enc.update(part) : dec.update(part), part, t0, ss);
  }
  parentPort.postMessage(m.id);
});
`;
}

interface Pending {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A small pool of XTS workers bound to one key. */
export class XtsWorkerPool {
  private readonly workers: import('node:worker_threads').Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
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
   */
  static async create(volumeKey: Uint8Array, threads: number): Promise<XtsWorkerPool> {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64)
      throw new UsageError('LUKS_THREADS', `worker count ${threads} is not 1…64`);
    const { Worker } = await import('node:worker_threads');
    const src = workerSource();
    const k1 = volumeKey.subarray(0, volumeKey.length / 2);
    const workers = [];
    for (let i = 0; i < threads; i++) {
      const w = new Worker(src, { eval: true });
      const copy = new Uint8Array(k1);
      w.postMessage({ type: 'key', key: copy }, [copy.buffer]);
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
    if (this.failed) throw new UsageError('LUKS_WORKER_FAILED', `XTS worker failed: ${this.failed.message}`);
    if (!(data.buffer instanceof SharedArrayBuffer))
      throw new UsageError('LUKS_NOT_SHARED', 'worker XTS needs a SharedArrayBuffer-backed buffer');
    const sectors = data.length / sectorSize;
    const parts = this.workers.length + 1;
    const per = Math.ceil(sectors / parts);
    const jobs: Promise<void>[] = [];
    // workers take the tail shares; the caller keeps the first
    for (let i = 1; i < parts; i++) {
      const s0 = i * per;
      const s1 = Math.min(sectors, s0 + per);
      if (s1 <= s0) continue;
      const iv = firstIv + BigInt((s0 * sectorSize) / 512);
      const t0 = cipher.xtsInitialTweaks(iv, s1 - s0, sectorSize);
      const id = this.nextId++;
      jobs.push(
        new Promise<void>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
        }).catch((e: Error) => {
          throw new UsageError('LUKS_WORKER_FAILED', `XTS worker failed: ${e.message}`, { cause: e });
        }),
      );
      this.workers[i - 1]!.postMessage(
        {
          type: 'run',
          id,
          sab: data.buffer,
          offset: data.byteOffset + s0 * sectorSize,
          length: (s1 - s0) * sectorSize,
          t0,
          sectorSize,
          enc,
        },
        [t0.buffer as ArrayBuffer],
      );
    }
    const head = data.subarray(0, Math.min(sectors, per) * sectorSize);
    // Idle workers are unref'd so they never keep a process alive; while a job is out they must
    // be ref'd, or an await on them alone would let Node exit with the promise unsettled.
    for (const w of this.workers) w.ref();
    try {
      if (enc) cipher.encrypt(head, firstIv, sectorSize);
      else cipher.decrypt(head, firstIv, sectorSize);
      await Promise.all(jobs);
    } finally {
      for (const w of this.workers) w.unref();
    }
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    this.failed ??= new Error('pool closed');
    for (const p of this.pending.values()) p.reject(this.failed);
    this.pending.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
