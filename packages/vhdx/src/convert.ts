import { type BlockDevice, type LongOperationOptions, UsageError } from '@lsvm/core';
import { MiB } from './constants.js';
import { metadataOf, resolveCreate, type VhdxCreateOptions, writeSkeleton } from './create.js';
import { planLayout } from './layout-plan.js';
import type { ResizableDevice } from './memory-file.js';
import { PayloadPlacer } from './payload-placer.js';
import { pipelineChunks } from './pipeline.js';
import { hasSyncIo, type SyncIoDevice } from './sync-file.js';
import { streamChunksSync } from './sync-stream.js';
import { VhdxDevice } from './vhdx-device.js';

/** Options shared by the converters. */
export interface ConvertOptions extends LongOperationOptions {
  /**
   * I/O unit in bytes (default 256 KiB). Memory use is one chunk (synchronous file-to-file path) or
   * four (pipelined path) whatever the disk size. Larger chunks are slower, not faster: see
   * {@link DEFAULT_CHUNK}.
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
 * about 1 s at 256 KiB against 3–5 s at 8 MiB, wall time 2–3× shorter. Through the synchronous
 * path with page-aligned buffers (core's allocIoBuffers), a process converting raw → VHDX, 4 rounds
 * each, CPU time including start-up: 0.9–1.3 s at 256 KiB, 1.0–1.4 s at 64 and 128 KiB (more
 * system calls), 2.2–3.2 s at 1 MiB and 1.9–2.4 s at 4 MiB.
 */
const DEFAULT_CHUNK = 256 * 1024;
/** Buffers in flight per conversion (reads ahead plus writes behind): one per libuv pool thread. */
const PIPELINE_DEPTH = 4;
/** The largest step by which a VHDX output grows ahead of its last allocated block. */
const GROW_STEP = 1024 * MiB;
// Node's Buffer compares with memcmp; browsers fall back to a word loop.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
/** Zeros to compare a chunk's first page against. */
const ZERO_PAGE = 4096;
let zeroPage: Uint8Array | undefined;

/**
 * True when every byte of `b` is zero. With Node's Buffer: the first 4 KiB are compared with a
 * zero page, then the chunk with itself shifted by 4 KiB (`b[i] === b[i - 4096]` for every i, so
 * by induction every byte equals one of the first page's zeros). Both are memcmp calls that stop
 * at the first difference, so data chunks cost almost nothing, and unlike a comparison with a
 * chunk-sized zero buffer this touches no memory but the chunk itself, which the read just put in
 * the CPU cache.
 */
export function isZero(b: Uint8Array): boolean {
  if (NodeBuffer) {
    zeroPage ??= NodeBuffer.alloc(ZERO_PAGE);
    const buf = NodeBuffer.from(b.buffer, b.byteOffset, b.byteLength);
    const head = Math.min(b.length, ZERO_PAGE);
    if (buf.compare(zeroPage, 0, head, 0, head) !== 0) return false;
    return head === b.length || buf.compare(buf, 0, b.length - ZERO_PAGE, ZERO_PAGE, b.length) === 0;
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

/** A synchronous positional read of a source: `target.length` bytes at `offset`, inside it. */
type SyncRead = (target: Uint8Array, offset: number) => void;

/**
 * How to read `source` synchronously, if it can be: a raw file (SyncFile), or a VHDX file that
 * needs nothing asynchronous (see {@link VhdxDevice.syncReader}).
 */
function syncReadOf(source: BlockDevice): SyncRead | undefined {
  if (hasSyncIo(source)) return (buf, off) => source.readIntoSync(buf, off);
  return source instanceof VhdxDevice ? source.syncReader() : undefined;
}

/** {@link readClipped} for a source read through a {@link SyncRead}. */
function readClippedSync(read: SyncRead, srcSize: number, buf: Uint8Array, off: number): number {
  const avail = Math.max(0, Math.min(buf.length, srcSize - off));
  if (avail > 0) read(avail === buf.length ? buf : buf.subarray(0, avail), off);
  if (avail < buf.length) buf.fill(0, avail);
  return avail;
}

/**
 * Empties the output, unless it is empty already. Why not always: on ext4 (default mount option
 * auto_da_alloc) truncating a file to zero, even an empty one, marks it as "replaced via
 * truncate", and closing it then forces the allocation and writeback of all its delayed-allocation
 * blocks inside `close()` — half a second for the benchmark's 1 GiB of payload, spent before the
 * conversion returns. A new output file skips that; an existing one being replaced keeps ext4's
 * protection.
 */
async function emptyOutput(out: BlockDevice & ResizableDevice): Promise<void> {
  if (out.size !== 0) await out.resize(0);
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
 * When the source reads synchronously (a `SyncFile`, or a VHDX file whose reads need nothing
 * asynchronous: see {@link VhdxDevice.syncReader}) and the output offers synchronous I/O (the files
 * `convertFile` opens), the payload is copied by a synchronous loop, in slices between which the
 * event loop runs; otherwise through a pipeline of asynchronous reads and writes.
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
  // Chunks divide blocks (both powers of two), so no chunk straddles two blocks.
  const chunk = Math.min(options.chunkSize ?? DEFAULT_CHUNK, g.blockSize);
  const fixed = s.type === 'fixed';
  const placer = new PayloadPlacer(g, plan.payloadOffset, fixed);
  const stats: ConvertStats = { virtualSize: size, bytesRead: 0, bytesWritten: 0 };
  await emptyOutput(out);
  await out.resize(plan.payloadOffset);
  const readSync = syncReadOf(source);
  if (readSync && hasSyncIo(out)) {
    await payloadSync(source, readSync, out, placer, { size, chunk, fixed, stats, options });
  } else {
    await payloadPipelined(source, out, placer, { size, chunk, fixed, stats, options });
  }
  // Exactly the allocated blocks: no BAT entry may point past the end, nothing may dangle after it.
  if (out.size !== placer.end) await out.resize(placer.end);
  const tail = placer.fixedTail();
  if (tail) {
    // The tail of the last block is allocated space too: write it so a fixed file is not sparse.
    const zeros = new Uint8Array(Math.min(chunk, tail.length));
    for (let p = 0; p < tail.length; p += zeros.length) {
      await out.write(tail.offset + p, zeros.subarray(0, Math.min(zeros.length, tail.length - p)));
    }
  }
  await writeSkeleton(out, plan, metadataOf(s), placer.bat, s.creator, options.sync ?? false);
  return stats;
}

/** What the two payload loops of {@link convertToVhdx} share. */
interface PayloadJob {
  size: number;
  chunk: number;
  fixed: boolean;
  stats: ConvertStats;
  options: ConvertOptions;
}

/** The payload of {@link convertToVhdx} through synchronous I/O: read, test, write, one chunk at a time. */
async function payloadSync(
  source: BlockDevice,
  readSync: SyncRead,
  out: SyncIoDevice,
  placer: PayloadPlacer,
  { size, chunk, fixed, stats, options }: PayloadJob,
): Promise<void> {
  // Blocks are written past the end of the file, which extends it: no ftruncate per block or step.
  await streamChunksSync({
    size,
    chunkSize: chunk,
    signal: options.signal,
    onProgress: options.onProgress,
    // Unallocated ranges of a VHDX source are zeros known without reading: a dynamic output
    // leaves them unallocated too (a fixed one writes every block, so it reads them as zeros).
    ...(fixed ? {} : { skip: (off: number, n: number) => !mayHaveData(source, off, n) }),
    read: (off, buf) => {
      stats.bytesRead += readClippedSync(readSync, source.size, buf, off);
    },
    consume: (off, data) => {
      const at = placer.place(off, !fixed && isZero(data));
      if (at < 0) return;
      out.writeSync(at, data);
      stats.bytesWritten += data.length;
    },
  });
}

/** The payload of {@link convertToVhdx} through asynchronous BlockDevice I/O, pipelined. */
async function payloadPipelined(
  source: BlockDevice,
  out: BlockDevice & ResizableDevice,
  placer: PayloadPlacer,
  { size, chunk, fixed, stats, options }: PayloadJob,
): Promise<void> {
  const zeros = new Uint8Array(chunk);
  // The file grows geometrically (by what the payload holds so far, at least a block, at most
  // GROW_STEP) rather than by one ftruncate per allocated block: each resize is a round trip
  // through the I/O thread pool that stalls the pipeline behind the writes in flight. The slack
  // (a sparse hole in a file, at most the payload's size in a MemoryFile) is cut off at the end.
  const bs = placer.blockSize;
  const payloadOffset = placer.payloadOffset;
  const maxEnd = payloadOffset + Math.ceil(size / bs) * bs;
  await pipelineChunks({
    size,
    chunkSize: chunk,
    depth: PIPELINE_DEPTH,
    signal: options.signal,
    onProgress: options.onProgress,
    isHole: (off, n) => !mayHaveData(source, off, n),
    read: async (off, buf) => {
      // Not `stats.bytesRead += await …`: that reads the total before the await, and with reads in
      // flight concurrently the updates would overwrite each other.
      const n = await readClipped(source, buf, off);
      stats.bytesRead += n;
    },
    consume: async (off, data, hold) => {
      const at = placer.place(off, data === null || (!fixed && isZero(data)));
      if (at < 0) return;
      if (placer.end > out.size) {
        const step = Math.min(GROW_STEP, Math.max(bs, placer.end - payloadOffset));
        await out.resize(Math.min(maxEnd, placer.end + step));
      }
      const payload = data ?? zeros.subarray(0, Math.min(chunk, size - off));
      stats.bytesWritten += payload.length;
      hold(out.write(at, payload));
    },
  });
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
  await emptyOutput(out);
  await out.resize(size);
  const stats: ConvertStats = { virtualSize: size, bytesRead: 0, bytesWritten: 0 };
  // A raw file, or a VHDX file that needs nothing asynchronous (see VhdxDevice.syncReader), into a
  // raw file: the synchronous loop (see convertToVhdx), skipping unallocated VHDX blocks unread.
  const readSync = syncReadOf(source);
  if (readSync && hasSyncIo(out)) {
    await streamChunksSync({
      size,
      chunkSize: chunk,
      signal: options.signal,
      onProgress: options.onProgress,
      skip: (off, n) => !mayHaveData(source, off, n),
      read: (off, buf) => readSync(buf, off),
      consume: (off, data) => {
        stats.bytesRead += data.length;
        if (isZero(data)) return;
        stats.bytesWritten += data.length;
        out.writeSync(off, data);
      },
    });
    if (options.sync) await out.flush();
    return stats;
  }
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
