import { type BlockDevice, type LongOperationOptions, UsageError } from '@lsvm/core';
import { batByteLength, PayloadState, payloadEntryIndex, writeBatEntry } from './bat.js';
import { MiB } from './constants.js';
import { metadataOf, resolveCreate, type VhdxCreateOptions, writeSkeleton } from './create.js';
import { planLayout } from './layout-plan.js';
import { pipelineChunks } from './pipeline.js';
import type { ResizableDevice } from './memory-file.js';
import { VhdxDevice } from './vhdx-device.js';

/** Options shared by the converters. */
export interface ConvertOptions extends LongOperationOptions {
  /**
   * I/O unit in bytes (default 256 KiB). Memory use is four chunks whatever the disk size. Larger
   * chunks are slower, not faster: see {@link DEFAULT_CHUNK}.
   */
  chunkSize?: number;
  /**
   * fsync the output before returning (default false, like `qemu-img convert`, whose default cache
   * mode for the output is "unsafe"). With true, a VHDX output's payload and BAT are also made
   * durable before its headers are written.
   */
  sync?: boolean;
}

/** Options of {@link convertToVhdx}: the new image's parameters and the streaming options. */
export interface ConvertToVhdxOptions extends ConvertOptions, Omit<VhdxCreateOptions, 'size' | 'parent'> {}

/** What a conversion did. */
export interface ConvertStats {
  virtualSize: number;
  /** Bytes read from the source (holes known in advance are not read). */
  bytesRead: number;
  /** Payload bytes written to the output. */
  bytesWritten: number;
}

/**
 * The conversion is a copy through the page cache: the kernel copies each chunk into our buffer
 * (pread) and out of it again (pwrite), and those two copies are nearly all of its CPU time. With
 * a working set of 4 × 256 KiB the buffer is still in the CPU cache for the second copy; with
 * 4 × 8 MiB it is not, and every byte makes two more trips to memory. Measured on the 2 GiB
 * half-zero benchmark disk (2-core EPYC, 512 KiB L2 per core, shared with other jobs): system time
 * about 1 s at 256 KiB against 3–5 s at 8 MiB, wall time 2–3× shorter. Below 128 KiB the
 * per-request overhead (promises, thread-pool round trips) starts to show in user time.
 */
const DEFAULT_CHUNK = 256 * 1024;
/** Buffers in flight per conversion (reads ahead plus writes behind): one per libuv pool thread. */
const PIPELINE_DEPTH = 4;
/** The largest step by which a VHDX output grows ahead of its last allocated block. */
const GROW_STEP = 1024 * MiB;
// Node's Buffer compares with memcmp; browsers fall back to a word loop.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
let zeroBuf: Uint8Array = new Uint8Array(0);

/** True when every byte of `b` is zero. */
export function isZero(b: Uint8Array): boolean {
  if (NodeBuffer) {
    // memcmp against a zero block; it stops at the first differing byte, so data chunks cost little.
    if (zeroBuf.length < b.length) zeroBuf = NodeBuffer.alloc(Math.max(b.length, DEFAULT_CHUNK));
    return NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).equals(zeroBuf.subarray(0, b.length));
  }
  return isZeroWords(b);
}

/** The portable path of {@link isZero}: 32-bit words between unaligned head and tail bytes. */
export function isZeroWords(b: Uint8Array): boolean {
  const n = b.length;
  const head = Math.min(n, (4 - (b.byteOffset % 4)) % 4);
  for (let i = 0; i < head; i++) if (b[i] !== 0) return false;
  const words = Math.floor((n - head) / 4);
  if (words > 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset + head, words);
    for (let i = 0; i < words; i++) if (w[i] !== 0) return false;
  }
  for (let i = head + words * 4; i < n; i++) if (b[i] !== 0) return false;
  return true;
}

/** Reads `[off, off + buf.length)` of `src`, zero past its end. Returns the bytes actually read. */
async function readClipped(src: BlockDevice, buf: Uint8Array, off: number): Promise<number> {
  const avail = Math.max(0, Math.min(buf.length, src.size - off));
  if (avail > 0) await src.readInto(buf.subarray(0, avail), off);
  buf.fill(0, avail);
  return avail;
}

function mayHaveData(src: BlockDevice, off: number, len: number): boolean {
  return !(src instanceof VhdxDevice) || src.mayHaveData(off, len);
}

/**
 * Streams any BlockDevice (a raw file, a VhdxDevice — differencing chains come out flattened) into a
 * new VHDX image in `out`. Dynamic output leaves all-zero blocks unallocated (and all-zero chunks
 * of allocated blocks as holes); fixed output writes every block. The size is the source's, rounded
 * up to the logical sector size. Memory use is four chunks plus the BAT.
 *
 * The new file is written without the log ([MS-VHDX] §2.3), unlike writes through
 * {@link VhdxDevice}: payload first, then in {@link writeSkeleton} the metadata, the whole BAT in
 * one write, the region tables and file identifier, and the two headers last. The log protects an
 * existing disk's old state against a torn update; a file being created has no old state to
 * protect. Until its headers exist it is not a VHDX file at all (no "vhdxfile" header pair with
 * valid checksums), so a crash at any point leaves a file every reader refuses — never one that
 * opens with a half-written BAT. One BAT write instead of one log transaction (entry, flush,
 * apply, flush) per allocated block is what makes conversion run at copy speed.
 */
export async function convertToVhdx(
  source: BlockDevice,
  out: BlockDevice & ResizableDevice,
  options: ConvertToVhdxOptions = {},
): Promise<ConvertStats> {
  const lss =
    options.logicalSectorSize ?? (source instanceof VhdxDevice ? (source.sectorSize as 512 | 4096) : 512);
  const size = Math.ceil(source.size / lss) * lss;
  if (size === 0) throw new UsageError('VHDX_DISK_SIZE', 'the source is empty');
  const s = resolveCreate({ ...options, size, logicalSectorSize: lss });
  const plan = planLayout({ ...s, hasParent: false });
  const g = plan.geometry;
  const bs = g.blockSize;
  // Chunks divide blocks (both powers of two), so no chunk straddles two blocks.
  const chunk = Math.min(options.chunkSize ?? DEFAULT_CHUNK, bs);
  const bat = new Uint8Array(batByteLength(g));
  const fixed = s.type === 'fixed';
  const zeros = new Uint8Array(chunk);
  await out.resize(0);
  await out.resize(plan.payloadOffset);
  // The file grows geometrically (by what the payload holds so far, at least a block, at most
  // GROW_STEP) rather than by one ftruncate per allocated block: each resize is a round trip
  // through the I/O thread pool that stalls the pipeline behind the writes in flight. The slack
  // (a sparse hole in a file, at most the payload's size in a MemoryFile) is cut off at the end.
  const maxEnd = plan.payloadOffset + g.dataBlocks * bs;
  let next = plan.payloadOffset;
  let block = -1;
  let at = -1;
  const stats: ConvertStats = { virtualSize: size, bytesRead: 0, bytesWritten: 0 };
  const finishBlock = (): Promise<void> | undefined => {
    if (at < 0) return undefined;
    writeBatEntry(bat, payloadEntryIndex(g, block), { state: PayloadState.FULLY_PRESENT, fileOffset: at });
    const blockLen = Math.min(bs, size - block * bs);
    if (!fixed || blockLen === bs) return undefined;
    // The tail of the last block is allocated space too: write it so a fixed file is not sparse.
    const writes: Promise<void>[] = [];
    for (let p = blockLen; p < bs; p += chunk)
      writes.push(out.write(at + p, zeros.subarray(0, Math.min(chunk, bs - p))));
    return Promise.all(writes).then(() => undefined);
  };
  const tails: Promise<void>[] = [];
  await pipelineChunks({
    size,
    chunkSize: chunk,
    depth: PIPELINE_DEPTH,
    signal: options.signal,
    onProgress: options.onProgress,
    isHole: (off, n) => !mayHaveData(source, off, n),
    read: async (off, buf) => {
      await readClipped(source, buf, off);
    },
    consume: async (off, data, hold) => {
      const b = Math.floor(off / bs);
      if (b !== block) {
        const t = finishBlock();
        if (t) tails.push(t);
        block = b;
        at = -1;
      }
      if (data) stats.bytesRead += Math.max(0, Math.min(data.length, source.size - off));
      const empty = data === null || isZero(data);
      if (empty && !fixed) return;
      if (at < 0) {
        at = next;
        next += bs;
        if (next > out.size) {
          const step = Math.min(GROW_STEP, Math.max(bs, next - plan.payloadOffset));
          await out.resize(Math.min(maxEnd, next + step));
        }
      }
      const payload = data ?? zeros.subarray(0, Math.min(chunk, size - off));
      stats.bytesWritten += payload.length;
      hold(out.write(at + (off - b * bs), payload));
    },
  });
  const t = finishBlock();
  if (t) tails.push(t);
  await Promise.all(tails);
  // Exactly the allocated blocks: no BAT entry may point past the end, nothing may dangle after it.
  if (out.size !== next) await out.resize(next);
  await writeSkeleton(out, plan, metadataOf(s), bat, s.creator, options.sync ?? false);
  return stats;
}

/**
 * Streams a BlockDevice (typically a VhdxDevice) into a raw image in `out`, which is truncated and
 * sized to the disk: unallocated ranges and all-zero chunks are not written, so they stay holes of
 * a sparse output file.
 */
export async function convertToRaw(
  source: BlockDevice,
  out: BlockDevice & ResizableDevice,
  options: ConvertOptions = {},
): Promise<ConvertStats> {
  const size = source.size;
  const chunk = Math.max(4096, Math.min(options.chunkSize ?? DEFAULT_CHUNK, Math.max(size, 1)));
  await out.resize(0);
  await out.resize(size);
  const stats: ConvertStats = { virtualSize: size, bytesRead: 0, bytesWritten: 0 };
  await pipelineChunks({
    size,
    chunkSize: chunk,
    depth: PIPELINE_DEPTH,
    signal: options.signal,
    onProgress: options.onProgress,
    isHole: (off, n) => !mayHaveData(source, off, n),
    read: (off, buf) => source.readInto(buf, off),
    consume: (off, data, hold) => {
      if (!data) return undefined;
      stats.bytesRead += data.length;
      if (isZero(data)) return undefined;
      stats.bytesWritten += data.length;
      hold(out.write(off, data));
      return undefined;
    },
  });
  if (options.sync) await out.flush();
  return stats;
}
