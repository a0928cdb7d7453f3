import { type BlockDevice, type LongOperationOptions, throwIfAborted, UsageError } from '@lsvm/core';
import { batByteLength, PayloadState, payloadEntryIndex, writeBatEntry } from './bat.js';
import { MiB } from './constants.js';
import { metadataOf, resolveCreate, type VhdxCreateOptions, writeSkeleton } from './create.js';
import { planLayout } from './layout-plan.js';
import type { ResizableDevice } from './memory-file.js';
import { VhdxDevice } from './vhdx-device.js';

/** Options shared by the converters. */
export interface ConvertOptions extends LongOperationOptions {
  /** I/O unit in bytes (default 8 MiB). Memory use is about one chunk whatever the disk size. */
  chunkSize?: number;
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
let zeroBuf = Buffer.alloc(0);

/** True when every byte of `b` is zero (memcmp against a shared zero buffer). */
export function isZero(b: Uint8Array): boolean {
  if (zeroBuf.length < b.length) zeroBuf = Buffer.alloc(Math.max(b.length, DEFAULT_CHUNK));
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(zeroBuf.subarray(0, b.length));
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
  const chunk = Math.min(options.chunkSize ?? DEFAULT_CHUNK, bs);
  const buf = new Uint8Array(chunk);
  const bat = new Uint8Array(batByteLength(g));
  const fixed = s.type === 'fixed';
  await out.resize(0);
  await out.resize(plan.payloadOffset);
  let next = plan.payloadOffset;
  const stats: ConvertStats = { virtualSize: size, bytesRead: 0, bytesWritten: 0 };
  for (let b = 0; b < g.dataBlocks; b++) {
    throwIfAborted(options.signal);
    const blockStart = b * bs;
    const blockLen = Math.min(bs, size - blockStart);
    let at = -1;
    if (fixed) {
      at = next;
      next += bs;
      await out.resize(next);
    }
    for (let p = 0; p < blockLen; p += chunk) {
      const n = Math.min(chunk, blockLen - p);
      const view = buf.subarray(0, n);
      if (!mayHaveData(source, blockStart + p, n)) {
        if (!fixed) continue;
        view.fill(0);
      } else {
        stats.bytesRead += await readClipped(source, view, blockStart + p);
        if (!fixed && isZero(view)) continue;
      }
      if (at < 0) {
        at = next;
        next += bs;
        await out.resize(next);
      }
      await out.write(at + p, view);
      stats.bytesWritten += n;
    }
    if (fixed && blockLen < bs) {
      // The tail of the last block is allocated space too: write it so the file is not sparse.
      buf.fill(0);
      for (let p = blockLen; p < bs; p += chunk)
        await out.write(at + p, buf.subarray(0, Math.min(chunk, bs - p)));
    }
    if (at >= 0)
      writeBatEntry(bat, payloadEntryIndex(g, b), { state: PayloadState.FULLY_PRESENT, fileOffset: at });
    options.onProgress?.(blockStart + blockLen, size);
  }
  await writeSkeleton(out, plan, metadataOf(s), bat, s.creator);
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
  const chunk = options.chunkSize ?? DEFAULT_CHUNK;
  const buf = new Uint8Array(Math.min(chunk, Math.max(size, 1)));
  await out.resize(0);
  await out.resize(size);
  const stats: ConvertStats = { virtualSize: size, bytesRead: 0, bytesWritten: 0 };
  for (let off = 0; off < size; off += chunk) {
    throwIfAborted(options.signal);
    const n = Math.min(chunk, size - off);
    if (mayHaveData(source, off, n)) {
      const view = buf.subarray(0, n);
      await source.readInto(view, off);
      stats.bytesRead += n;
      if (!isZero(view)) {
        await out.write(off, view);
        stats.bytesWritten += n;
      }
    }
    options.onProgress?.(off + n, size);
  }
  await out.flush();
  return stats;
}
