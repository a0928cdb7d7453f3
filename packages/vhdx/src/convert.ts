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
  /** I/O unit in bytes (default 8 MiB). Memory use is about one chunk whatever the disk size. */
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

const DEFAULT_CHUNK = 8 * MiB;
/** Buffers in flight per conversion: 4 × 8 MiB = 32 MiB whatever the disk size. */
const PIPELINE_DEPTH = 4;
// Node's Buffer compares with memcmp; browsers fall back to a word loop.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
let zeroBuf: Uint8Array = new Uint8Array(0);

/** True when every byte of `b` is zero. */
export function isZero(b: Uint8Array): boolean {
  if (NodeBuffer) {
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
 * up to the logical sector size. Memory use is one chunk plus the BAT.
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
    consume: async (off, data) => {
      const b = Math.floor(off / bs);
      if (b !== block) {
        const t = finishBlock();
        if (t) tails.push(t);
        block = b;
        at = -1;
      }
      if (data) stats.bytesRead += Math.max(0, Math.min(data.length, source.size - off));
      const empty = data === null || isZero(data);
      if (empty && !fixed) return undefined;
      if (at < 0) {
        at = next;
        next += bs;
        await out.resize(next);
      }
      stats.bytesWritten += (data ?? zeros).length;
      return out.write(at + (off - b * bs), data ?? zeros.subarray(0, Math.min(chunk, size - off)));
    },
  });
  const t = finishBlock();
  if (t) tails.push(t);
  await Promise.all(tails);
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
    consume: (off, data) => {
      if (!data) return undefined;
      stats.bytesRead += data.length;
      if (isZero(data)) return undefined;
      stats.bytesWritten += data.length;
      return out.write(off, data);
    },
  });
  if (options.sync) await out.flush();
  return stats;
}
