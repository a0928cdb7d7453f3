import {
  AuthError,
  BaseBlockDevice,
  type BlockDevice,
  FormatError,
  UnsupportedError,
  UsageError,
  zeroize,
} from '@lsvm/core';
import { SectorCipher } from './cipher.js';
import { type XtsJob, XtsWorkerPool } from './xts-workers.js';
import type { LuksLimits } from './limits.js';
import { luks1CipherSpec } from './luks1-header.js';
import type { Luks2Segment } from './luks2-metadata.js';
import { type LuksVolume, readLuks } from './luks-volume.js';
import { assertRequirementsMet, unlockLuks, type UnlockResult, volumeKeyMatches } from './unlock.js';

/** Where and how a data segment is encrypted. */
export interface DataSegmentLayout {
  /** Byte offset of the segment on the underlying device. */
  offset: number;
  /** Segment size in bytes (a multiple of sectorSize). */
  size: number;
  /** Encryption sector size: 512 … 4096. */
  sectorSize: number;
  /** IV of the segment's first 512-byte unit. */
  ivTweak: bigint;
  encryption: string;
}

/** The data segment of a volume, resolved against the device size. */
export function dataSegmentLayout(
  volume: LuksVolume,
  deviceSize: number,
  segmentId?: number,
): DataSegmentLayout {
  if (volume.version === 1) {
    const h = volume.header;
    const offset = h.payloadOffset * 512;
    if (offset > deviceSize)
      throw new FormatError('LUKS_PAYLOAD_OUTSIDE', 'payload offset lies beyond the device end');
    return {
      offset,
      size: deviceSize - offset - ((deviceSize - offset) % 512),
      sectorSize: 512,
      ivTweak: 0n,
      encryption: luks1CipherSpec(h),
    };
  }
  const segs = volume.active.metadata.segments;
  const seg: Luks2Segment | undefined =
    segmentId === undefined ? segs.find((s) => s.type === 'crypt') : segs.find((s) => s.id === segmentId);
  if (!seg) throw new UnsupportedError('LUKS2_NO_SEGMENT', 'the volume has no crypt data segment');
  if (seg.type !== 'crypt')
    throw new UnsupportedError('LUKS2_SEGMENT_TYPE', `segment type ${seg.type} cannot be opened`);
  if (seg.integrity)
    throw new UnsupportedError('LUKS2_INTEGRITY', 'segments with integrity protection are not supported');
  if (seg.offset > deviceSize)
    throw new FormatError('LUKS_PAYLOAD_OUTSIDE', 'data segment starts beyond the device end');
  let size: number;
  if (seg.size === 'dynamic') {
    size = deviceSize - seg.offset;
    size -= size % seg.sectorSize;
  } else {
    size = seg.size;
    if (seg.offset + size > deviceSize)
      throw new FormatError('LUKS_PAYLOAD_OUTSIDE', 'data segment runs past the device end');
  }
  return {
    offset: seg.offset,
    size,
    sectorSize: seg.sectorSize,
    ivTweak: seg.ivTweak,
    encryption: seg.encryption,
  };
}

/**
 * Bytes encrypted and written per request to the underlying device on writes. One buffer of this
 * size is reused for the whole write: a fresh 16 MiB buffer per request cost its page faults and
 * left nothing in cache for the cipher.
 */
const WRITE_PIECE = 1024 * 1024;
/**
 * Bytes per read from the underlying device on the single-thread path. The ciphertext lands in
 * the caller's buffer and is decrypted while still in the CPU cache; reading 16 MiB first and
 * decrypting it afterwards moves every byte between RAM and the CPU twice more, which on a busy
 * machine costs more than the AES. The next read is issued before the current piece is
 * decrypted, so a file device's read (done by libuv's threads) overlaps the decryption.
 */
const READ_PIECE = 256 * 1024;
/**
 * Bytes per request handed to the worker pool: two such shared buffers alternate (one being read
 * into while the other is decrypted), small enough to stay in the L3 cache, large enough that a
 * message round trip per request is noise.
 */
const PARALLEL_CHUNK = 4 * 1024 * 1024;
/** Scratch buffers of the threaded path at most (two in the steady state). */
const MAX_SCRATCH = 4;

/** A shared buffer for the threaded path and the worker job that last used it. */
interface ScratchBuffer {
  buf: Uint8Array;
  /** Reserved by a read, or its job's workers may still read it. */
  busy: boolean;
  /** Settles when the job's workers are done with it. */
  settled: Promise<void> | undefined;
}

/** Smallest read worth splitting across threads. */
const PARALLEL_MIN = 4 * 1024 * 1024;

/**
 * The decrypted view of a LUKS data segment, as a read-write {@link BlockDevice}. Whole requests
 * are read from the parent in large pieces and decrypted in bulk (one AES context per key, no
 * cipher object per sector); unaligned reads and writes go through the edge sectors.
 */
export class LuksDevice extends BaseBlockDevice {
  readonly size: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;
  private readonly cipher: SectorCipher;
  private readonly threads: number;
  private workerKey: Uint8Array | undefined;
  private pool: Promise<XtsWorkerPool> | undefined;
  /** Shared buffers of the threaded path (see {@link LuksDevice.scratchBuffer}). */
  private readonly scratch: ScratchBuffer[] = [];
  /** Parallel reads share the scratch buffers: one read at a time. */
  private parallelTail: Promise<void> = Promise.resolve();

  /**
   * @param options.threads threads for large XTS reads, the calling one included (default 1: no
   *   workers). With 2 or more, reads of at least 4 MiB are split between worker threads.
   */
  constructor(
    readonly parent: BlockDevice,
    readonly layout: DataSegmentLayout,
    volumeKey: Uint8Array,
    options: { readOnly?: boolean; threads?: number } = {},
  ) {
    super();
    this.cipher = new SectorCipher(layout.encryption, volumeKey);
    this.threads = options.threads ?? 1;
    if (!Number.isInteger(this.threads) || this.threads < 1 || this.threads > 64)
      throw new UsageError('LUKS_THREADS', `thread count ${this.threads} is not 1…64`);
    // Kept only while workers may still be started; zeroed by close().
    if (this.threads > 1 && this.cipher.spec.mode === 'xts') this.workerKey = new Uint8Array(volumeKey);
    this.size = layout.size;
    this.sectorSize = layout.sectorSize;
    this.readOnly = parent.readOnly || (options.readOnly ?? false);
  }

  /** IV number of the segment byte offset `off` (a multiple of the sector size). */
  private iv(off: number): bigint {
    // dm-crypt counts IVs in 512-byte units even for 4096-byte sectors (no iv_large_sectors).
    return this.layout.ivTweak + BigInt(off / 512);
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    const ss = this.sectorSize;
    const end = offset + target.length;
    const start = offset - (offset % ss);
    if (this.workerKey && Math.ceil(end / ss) * ss - start >= PARALLEL_MIN) {
      const run = this.parallelTail.then(() => this.readParallel(target, offset));
      this.parallelTail = run.catch(() => undefined);
      await run;
      return;
    }
    // whole sectors in the middle go straight into the target; partial edge sectors through
    // a small buffer
    const a = Math.ceil(offset / ss) * ss;
    const b = Math.floor(end / ss) * ss;
    if (a >= b) {
      await this.readEdge(target, offset, start, Math.ceil(end / ss) * ss);
      return;
    }
    if (a > offset) await this.readEdge(target.subarray(0, a - offset), offset, start, a);
    await this.readAligned(target.subarray(a - offset, b - offset), a);
    if (b < end) await this.readEdge(target.subarray(b - offset), b, b, b + ss);
  }

  /** Whole sectors at `offset`: read into `target` piece by piece, each decrypted in place. */
  private async readAligned(target: Uint8Array, offset: number): Promise<void> {
    const ss = this.sectorSize;
    const piece = Math.max(ss, READ_PIECE - (READ_PIECE % ss));
    const readPiece = (o: number): Promise<void> => {
      const p = this.parent.readInto(
        target.subarray(o, Math.min(target.length, o + piece)),
        this.layout.offset + offset + o,
      );
      // Awaited below; handled here so a failure while the previous piece decrypts is not an
      // unhandled rejection.
      p.catch(() => undefined);
      return p;
    };
    let pending = readPiece(0);
    try {
      for (let o = 0; o < target.length; o += piece) {
        await pending;
        if (o + piece < target.length) pending = readPiece(o + piece);
        const part = target.subarray(o, Math.min(target.length, o + piece));
        this.cipher.decrypt(part, this.iv(offset + o), ss);
      }
    } catch (e) {
      // a read still in flight would write into the caller's buffer after we return
      await pending.catch(() => undefined);
      throw e;
    }
  }

  /** Sectors [start, end) through a buffer, the part at `offset` copied to `target`. */
  private async readEdge(target: Uint8Array, offset: number, start: number, end: number): Promise<void> {
    const buf = await this.parent.read(this.layout.offset + start, end - start);
    this.cipher.decrypt(buf, this.iv(start), this.sectorSize);
    target.set(buf.subarray(offset - start, offset - start + target.length));
    zeroize(buf);
  }

  /**
   * A scratch buffer no worker touches any more. A worker the OS has not run for a while may
   * still hold a piece the calling thread took over; rather than wait for it, another buffer is
   * used (up to {@link MAX_SCRATCH}).
   */
  private async scratchBuffer(): Promise<ScratchBuffer> {
    for (;;) {
      const free = this.scratch.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      if (this.scratch.length < MAX_SCRATCH) {
        const s = {
          buf: new Uint8Array(new SharedArrayBuffer(PARALLEL_CHUNK)),
          busy: true,
          settled: undefined,
        };
        this.scratch.push(s);
        return s;
      }
      await Promise.race(this.scratch.map((s) => s.settled ?? new Promise<void>(() => undefined)));
    }
  }

  /**
   * Large reads through the worker pool: parent → shared scratch → (workers | this thread) →
   * target. The read of the next chunk overlaps the decryption of the current one, and this
   * thread never waits for a worker: when it runs out of pieces it takes over those a worker has
   * not finished (see XtsJob.drain).
   */
  private async readParallel(target: Uint8Array, offset: number): Promise<void> {
    const ss = this.sectorSize;
    const start = offset - (offset % ss);
    const end = Math.ceil((offset + target.length) / ss) * ss;
    this.pool ??= XtsWorkerPool.create(this.workerKey!, this.threads - 1);
    let pool: XtsWorkerPool;
    try {
      pool = await this.pool;
    } catch {
      // No workers (a sandbox without worker_threads, resource limits): this device reads on one
      // thread from now on, which is correct and only slower; the workers' key copy goes.
      this.pool = undefined;
      zeroize(this.workerKey);
      this.workerKey = undefined;
      await this.readAt(target, offset);
      return;
    }
    interface Chunk {
      o: number;
      s: ScratchBuffer;
      buf: Uint8Array;
      done: Promise<void>;
    }
    const startRead = async (o: number, max = PARALLEL_CHUNK): Promise<Chunk> => {
      const s = await this.scratchBuffer();
      const buf = s.buf.subarray(0, Math.min(max, end - o));
      const done = this.parent.readInto(buf, this.layout.offset + o);
      // Handled here so a read failing while the previous chunk decrypts is not an unhandled
      // rejection; awaiting `done` below still throws it. A failed read frees its buffer.
      done.catch(() => {
        s.busy = false;
      });
      return { o, s, buf, done };
    };
    /** Hands the chunk to the workers; its buffer is free again once they are done with it. */
    const startJob = (c: Chunk): XtsJob => {
      const job = pool.start(this.cipher, c.buf, this.iv(c.o), ss, false);
      c.s.settled = job.settled
        .catch(() => undefined)
        .finally(() => {
          c.s.busy = false;
          c.s.settled = undefined;
        });
      return job;
    };
    /** Copies the decrypted bytes at chunk offset `at` of the chunk at `o` into the target. */
    const deliverFor =
      (o: number) =>
      (at: number, bytes: Uint8Array): void => {
        const from = Math.max(o + at, offset);
        const to = Math.min(o + at + bytes.length, offset + target.length);
        if (to > from) target.set(bytes.subarray(from - o - at, to - o - at), from - offset);
      };
    const dstOffsetFor =
      (o: number) =>
      (at: number): number =>
        target.byteOffset + o + at - offset;
    // A smaller first chunk: the workers idle until it is read, so start them sooner.
    let cur = await startRead(start, PARALLEL_CHUNK / 4);
    await cur.done;
    let job: XtsJob;
    try {
      job = startJob(cur);
    } catch (e) {
      cur.s.busy = false;
      throw e;
    }
    for (;;) {
      const nextAt = cur.o + cur.buf.length;
      const next = nextAt < end ? await startRead(nextAt) : undefined;
      let nextJob: XtsJob | undefined;
      try {
        const deliver = deliverFor(cur.o);
        job.work(deliver, dstOffsetFor(cur.o));
        job.drain(deliver, dstOffsetFor(cur.o));
        if (!next) break;
        await next.done;
        nextJob = startJob(next);
      } catch (e) {
        // Let the read in flight settle before its buffer can be reused or zeroed.
        await next?.done.catch(() => undefined);
        if (next && !nextJob) next.s.busy = false;
        throw e;
      }
      cur = next;
      job = nextJob;
    }
  }

  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    const ss = this.sectorSize;
    const start = offset - (offset % ss);
    const end = Math.ceil((offset + data.length) / ss) * ss;
    const piece = Math.max(ss, WRITE_PIECE - (WRITE_PIECE % ss));
    const scratch = new Uint8Array(Math.min(piece, end - start));
    for (let o = start; o < end; o += piece) {
      const n = Math.min(piece, end - o);
      // Reused: every byte of it is either read back (edges) or overwritten by `data`.
      const buf = n === scratch.length ? scratch : scratch.subarray(0, n);
      const from = Math.max(o, offset);
      const to = Math.min(o + n, offset + data.length);
      if (from !== o || to !== o + n) {
        // Partial sectors at the edges: decrypt what is there, then overlay.
        await this.readAt(buf, o);
      }
      buf.set(data.subarray(from - offset, to - offset), from - o);
      this.cipher.encrypt(buf, this.iv(o), ss);
      await this.parent.write(this.layout.offset + o, buf);
    }
  }

  override flush(): Promise<void> {
    return this.parent.flush();
  }

  /** Closing releases the key copy; the parent stays open. */
  override async close(): Promise<void> {
    this.cipher.destroy();
    // workers first: one may still be reading a scratch buffer
    try {
      // A pool that failed to start has nothing to close; the key copy is wiped all the same.
      if (this.pool) await (await this.pool.catch(() => undefined))?.close();
    } finally {
      zeroize(this.workerKey, ...this.scratch.map((s) => s.buf));
      this.workerKey = undefined;
      this.closed = true;
    }
  }
}

/** Options of {@link openLuks}. */
export interface OpenLuksOptions {
  keyslot?: number;
  /** Threads for large XTS reads, the caller's included (default 1). */
  threads?: number;
  readOnly?: boolean;
  limits?: Partial<LuksLimits>;
  /** A volume already read with readLuks (saves a read). */
  volume?: LuksVolume;
  /** LUKS2: the segment to open (default: the first crypt segment). */
  segment?: number;
}

/** The key material to open with: a passphrase / key-file content, or the volume key itself. */
export type LuksKey = { passphrase: Uint8Array } | { volumeKey: Uint8Array };

/**
 * Opens a LUKS volume on `device` and returns the decrypted data segment as a BlockDevice.
 * @throws AuthError on a wrong key, UnsupportedError for ciphers, requirements or integrity
 *   segments we do not implement.
 */
export async function openLuks(
  device: BlockDevice,
  key: LuksKey | Uint8Array,
  options: OpenLuksOptions = {},
): Promise<LuksDevice & { unlock?: Omit<UnlockResult, 'volumeKey'> }> {
  const volume = options.volume ?? (await readLuks(device));
  assertRequirementsMet(volume, 'open');
  const layout = dataSegmentLayout(volume, device.size, options.segment);
  const k: LuksKey = key instanceof Uint8Array ? { passphrase: key } : key;
  let vk: Uint8Array;
  let info: Omit<UnlockResult, 'volumeKey'> | undefined;
  if ('volumeKey' in k) {
    vk = k.volumeKey;
    if (!(await volumeKeyMatches(volume, vk)))
      throw new AuthError('LUKS_WRONG_KEY', 'the volume key does not match the header digest');
  } else {
    const r = await unlockLuks(device, volume, k.passphrase, {
      boundOnly: true,
      ...(options.keyslot !== undefined ? { keyslot: options.keyslot } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
    });
    if (r.unbound) {
      zeroize(r.volumeKey);
      throw new UsageError(
        'LUKS2_UNBOUND_KEY',
        `keyslot ${r.keyslot} holds an unbound key, not the data key`,
      );
    }
    vk = r.volumeKey;
    const { volumeKey: _omit, ...rest } = r;
    info = rest;
  }
  try {
    const dev = new LuksDevice(device, layout, vk, {
      ...(options.readOnly !== undefined ? { readOnly: options.readOnly } : {}),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
    });
    return Object.assign(dev, info ? { unlock: info } : {});
  } finally {
    if ('passphrase' in k) zeroize(vk);
  }
}
