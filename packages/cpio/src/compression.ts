import { ChecksumError, FormatError, LimitError, UnsupportedError, crc32, isLsvmError } from '@lsvm/core';
import { Gunzip, gunzipSync, gzipSync } from 'fflate';
import { Decompress as ZstdDecompress } from 'fzstd';
import { gunzipMembers, nodeZlib } from './gzip-zlib.js';
import { decodeLz4Legacy } from './lz4-legacy.js';

/** Compression of an initramfs segment. */
export type Compression = 'none' | 'gzip' | 'xz' | 'zstd' | 'lz4' | 'bzip2' | 'lzma' | 'lzo';

/** Compressions {@link decompress} handles. */
export const DECOMPRESSIBLE: readonly Compression[] = ['none', 'gzip', 'xz', 'zstd', 'lz4'];
/** Compressions {@link compress} produces. */
export const COMPRESSIBLE: readonly Compression[] = ['none', 'gzip', 'zstd'];

const MAGICS: [Compression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['gzip', [0x1f, 0x9e]], // old gzip magic, accepted by the kernel's decompressor table
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]], // lz4 "legacy" frame, what the kernel's lz4 support reads
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lzma', [0x5d, 0x00, 0x00]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
];

/**
 * The compression of the data at `offset`, by magic number (the table of the kernel's
 * lib/decompress.c), `none` for a cpio header, `undefined` when neither.
 */
export function detectCompression(bytes: Uint8Array, offset = 0): Compression | undefined {
  if (offset + 6 <= bytes.length) {
    const s = String.fromCharCode(...bytes.subarray(offset, offset + 6));
    if (s === '070701' || s === '070702' || s === '070707') return 'none';
  }
  for (const [kind, magic] of MAGICS) {
    if (offset + magic.length <= bytes.length && magic.every((b, i) => bytes[offset + i] === b)) return kind;
  }
  return undefined;
}

/** Collects output chunks and enforces the expansion limit while a decompressor runs. */
class Sink {
  chunks: Uint8Array[] = [];
  total = 0;
  constructor(private readonly max: number) {}
  push(c: Uint8Array): void {
    this.total += c.length;
    if (this.total > this.max) {
      throw new LimitError(
        'CPIO_LIMIT_EXPANDED',
        `decompressed data exceeds the limit of ${this.max} bytes`,
        {
          structure: 'initramfs segment',
        },
      );
    }
    this.chunks.push(c);
  }
  result(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/**
 * Input fed to a streaming decoder per step. fflate hands over the whole output of a step at once,
 * so its step is small enough that a maximal deflate bomb (~1032:1) produces ≤ 66 MB before the
 * limit is checked — and 64 KiB steps measured as fast as 4 MiB ones. fzstd hands over each block
 * (≤ 128 KiB) as it is decoded, so the limit applies within a step and a large step is safe.
 */
const CHUNK = 1 << 20;
const GZIP_STEP = 64 << 10;
const ZSTD_STEP = 1 << 20;

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function corrupt(kind: Compression, why: string, offset?: number, cause?: unknown): FormatError {
  return new FormatError('CPIO_DECOMPRESS', `${kind} data is corrupt: ${why}`, {
    structure: `${kind} stream`,
    ...(offset !== undefined ? { offset } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * gzip (RFC 1952) with fflate, streaming so the limit stops a bomb early. Concatenated members are
 * one stream, as `gzip -d` treats them. fflate neither reports where the last member ends nor
 * checks trailers, so both are done here: each member's CRC-32 and ISIZE must match its output,
 * and the last member ends where its trailer is (whatever follows is the next segment).
 */
function runGzip(data: Uint8Array, sink: Sink): number {
  const starts = [0];
  const marks = [0];
  const g = new Gunzip((chunk) => sink.push(chunk));
  g.onmember = (offset) => {
    starts.push(offset);
    marks.push(sink.total);
  };
  let failure: unknown;
  try {
    for (let i = 0; i < data.length; i += GZIP_STEP) {
      g.push(data.subarray(i, Math.min(data.length, i + GZIP_STEP)), i + GZIP_STEP >= data.length);
    }
  } catch (e) {
    if (isLsvmError(e)) throw e;
    // Either corruption, or data after the last member that is not another member: the trailer
    // search below tells which.
    failure = e;
  }
  const out = sink.result();
  sink.chunks = [out];
  const trailerOk = (at: number, from: number, to: number): boolean =>
    at >= 0 &&
    at + 8 <= data.length &&
    u32le(data, at) === crc32(out.subarray(from, to)) &&
    u32le(data, at + 4) === (to - from) >>> 0;
  for (let m = 0; m + 1 < starts.length; m++) {
    if (!trailerOk(starts[m + 1]! - 8, marks[m]!, marks[m + 1]!)) {
      throw new ChecksumError(
        'CPIO_GZIP_CRC',
        `gzip member ${m + 1}: CRC-32 or length does not match its trailer`,
        {
          structure: 'gzip trailer',
          offset: starts[m + 1]! - 8,
        },
      );
    }
  }
  const last = starts.length - 1;
  const from = marks[last]!;
  const crc = crc32(out.subarray(from));
  const size = (out.length - from) >>> 0;
  // The trailer follows the deflate data directly. Its first occurrence after the header is it,
  // except when the same 8 bytes also occur inside the deflate data — likely only for a small
  // member (an empty one's trailer is 8 zero bytes, and deflate data can end in zeros). For a
  // member of up to 1 MiB each candidate is confirmed by decoding the member up to it, which fails
  // when the cut falls inside the deflate data; past that size a false match is a 2^-32 event.
  const c0 = crc & 0xff;
  const confirm = size <= 1 << 20;
  for (let at = starts[last]! + 10; at + 8 <= data.length; at++) {
    if (data[at] !== c0 || u32le(data, at) !== crc || u32le(data, at + 4) !== size) continue;
    if (confirm && !completeMember(data.subarray(starts[last]!, at + 8))) continue;
    return at + 8;
  }
  if (failure !== undefined)
    throw corrupt('gzip', failure instanceof Error ? failure.message : String(failure), undefined, failure);
  throw new ChecksumError(
    'CPIO_GZIP_CRC',
    `gzip member ${last + 1}: CRC-32 or length does not match its trailer`,
    {
      structure: 'gzip trailer',
    },
  );
}

/** True when `member` decodes as one whole gzip member (its deflate data ends where it ends). */
function completeMember(member: Uint8Array): boolean {
  try {
    gunzipSync(member);
    return true;
  } catch {
    return false;
  }
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The length of the run of Zstandard frames (and skippable frames) at the start of `data`, found
 * from the frame and block headers alone (RFC 8878 §3.1) without decoding.
 */
export function zstdFramesLength(data: Uint8Array): number {
  let p = 0;
  let frames = 0;
  for (;;) {
    if (p + 4 > data.length) break;
    const magic = u32le(data, p);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (p + 8 > data.length) throw corrupt('zstd', 'skippable frame truncated', p);
      p += 8 + u32le(data, p + 4);
      if (p > data.length) throw corrupt('zstd', 'skippable frame truncated', p);
      frames++;
      continue;
    }
    if (magic !== ZSTD_MAGIC) break;
    const fhd = data[p + 4];
    if (fhd === undefined) throw corrupt('zstd', 'frame header truncated', p);
    const fcsFlag = fhd >> 6;
    const single = (fhd >> 5) & 1;
    const hasChecksum = (fhd >> 2) & 1;
    const dictFlag = fhd & 3;
    let q = p + 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag]! + [single ? 1 : 0, 2, 4, 8][fcsFlag]!;
    for (;;) {
      if (q + 3 > data.length) throw corrupt('zstd', 'block header truncated', q);
      const h = data[q]! | (data[q + 1]! << 8) | (data[q + 2]! << 16);
      const type = (h >> 1) & 3;
      if (type === 3) throw corrupt('zstd', 'reserved block type', q);
      q += 3 + (type === 1 ? 1 : h >>> 3);
      if (q > data.length) throw corrupt('zstd', 'block runs past the end', q);
      if (h & 1) break;
    }
    q += hasChecksum ? 4 : 0;
    if (q > data.length) throw corrupt('zstd', 'frame checksum truncated', q);
    p = q;
    frames++;
  }
  if (frames === 0) throw corrupt('zstd', 'no frame', 0);
  return p;
}

function runZstd(data: Uint8Array, sink: Sink): number {
  const end = zstdFramesLength(data);
  const z = new ZstdDecompress((chunk) => sink.push(chunk));
  try {
    for (let i = 0; i < end; i += ZSTD_STEP)
      z.push(data.subarray(i, Math.min(end, i + ZSTD_STEP)), i + ZSTD_STEP >= end);
  } catch (e) {
    if (isLsvmError(e)) throw e;
    throw corrupt('zstd', e instanceof Error ? e.message : String(e), undefined, e);
  }
  return end;
}

/**
 * The length of the xz stream(s) at the start of `data` (xz file format §2.1): a stream ends with
 * a 12-byte footer (CRC32, backward size, flags, "YZ") whose CRC32 covers its fields and whose
 * flags repeat the header's; stream padding (zeros in 4-byte units) and further streams may follow.
 */
export function xzStreamsLength(data: Uint8Array): number {
  const HEADER = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
  let p = 0;
  let streams = 0;
  while (p + 12 <= data.length && HEADER.every((b, i) => data[p + i] === b)) {
    const flags0 = data[p + 6]!;
    const flags1 = data[p + 7]!;
    let end = -1;
    // Streams are a multiple of 4 bytes long, so the footer's "YZ" sits at p + 4k + 10.
    for (let at = p + 24; at + 12 <= data.length; at += 4) {
      if (
        data[at + 10] === 0x59 &&
        data[at + 11] === 0x5a &&
        data[at + 8] === flags0 &&
        data[at + 9] === flags1
      ) {
        if (crc32(data.subarray(at + 4, at + 10)) === u32le(data, at)) {
          end = at + 12;
          break;
        }
      }
    }
    if (end < 0) throw corrupt('xz', 'no stream footer found', p);
    p = end;
    streams++;
    while (p + 4 <= data.length && u32le(data, p) === 0) p += 4;
  }
  if (streams === 0) throw corrupt('xz', 'no stream header', 0);
  return p;
}

async function runXz(data: Uint8Array, sink: Sink): Promise<number> {
  const end = xzStreamsLength(data);
  // xz-decompress is CommonJS with a WebAssembly build of XZ Embedded; loaded lazily so the
  // gzip/zstd paths (and browsers that never see xz) do not pay for it.
  const mod = (await import('xz-decompress')) as unknown as {
    XzReadableStream?: XzCtor;
    default?: { XzReadableStream: XzCtor };
  };
  const Xz = mod.XzReadableStream ?? mod.default!.XzReadableStream;
  const input = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < end; i += CHUNK) c.enqueue(data.slice(i, Math.min(end, i + CHUNK)));
      c.close();
    },
  });
  const reader = new Xz(input).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sink.push(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (isLsvmError(e)) throw e;
    throw corrupt('xz', e instanceof Error ? e.message : String(e), undefined, e);
  }
  return end;
}
type XzCtor = new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>;

/** What {@link decompressStream} returns. */
export interface DecompressResult {
  data: Uint8Array;
  /** Bytes of the input the compressed stream occupies; what follows belongs to the next segment. */
  consumed: number;
}

/**
 * Decompresses the stream at the start of `input` (gzip with Node's zlib, or fflate where there is
 * no zlib — see gzip-zlib.ts; zstd with fzstd, xz with
 * xz-decompress, lz4 legacy with our own block decoder), producing at most `maxBytes` (else {@link LimitError}: a decompression bomb),
 * and says where the stream ends. Concatenated gzip members, zstd frames and xz streams are one
 * stream.
 */
export async function decompressStream(
  input: Uint8Array,
  kind: Compression,
  maxBytes: number,
): Promise<DecompressResult> {
  if (kind === 'none') return { data: input, consumed: input.length };
  if (!DECOMPRESSIBLE.includes(kind)) {
    throw new UnsupportedError(
      'CPIO_COMPRESSION',
      `${kind} compression is not supported (gzip, xz, zstd and lz4 legacy are)`,
      {
        structure: 'initramfs segment',
      },
    );
  }
  const sink = new Sink(maxBytes);
  let consumed: number;
  const zlib = kind === 'gzip' && input[1] === 0x8b ? nodeZlib() : null;
  if (zlib) {
    const r = gunzipMembers(zlib, input, maxBytes);
    for (const c of r.chunks) sink.push(c);
    consumed = r.consumed;
  } else if (kind === 'gzip') consumed = runGzip(input, sink);
  else if (kind === 'zstd') consumed = runZstd(input, sink);
  else if (kind === 'lz4') {
    consumed = decodeLz4Legacy(
      input,
      (b) => sink.push(b),
      (at) => {
        const k = detectCompression(input, at);
        return k !== undefined && k !== 'lz4';
      },
    );
  } else consumed = await runXz(input, sink);
  return { data: sink.result(), consumed };
}

/** {@link decompressStream} when only the data matters. */
export async function decompress(
  input: Uint8Array,
  kind: Compression,
  maxBytes: number,
): Promise<Uint8Array> {
  return (await decompressStream(input, kind, maxBytes)).data;
}

/**
 * Compresses `data` for a rewritten segment: `none`, `gzip` (Node's zlib, else fflate;
 * deterministic, no timestamp)
 * or `zstd` (@bokuweb/zstd-wasm, the reference libzstd compiled to WebAssembly; level 9 by default:
 * Debian's initramfs-tools use -1 to -19; 9 balances size and the time a re-key takes).
 */
export async function compress(
  data: Uint8Array,
  kind: Compression,
  options: { level?: number } = {},
): Promise<Uint8Array> {
  if (kind === 'none') return data;
  if (kind === 'gzip') {
    const level = (options.level ?? 6) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
    // zlib's gzip header has MTIME 0 as well, so both paths are deterministic.
    const zlib = nodeZlib();
    if (zlib) {
      const out = zlib.gzipSync(data, { level });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    return gzipSync(data, { level, mtime: 0 });
  }
  if (kind === 'zstd') {
    const z = await loadZstd();
    // The WASM encoder reads from a Buffer; a view avoids copying the archive.
    return new Uint8Array(
      z.compress(Buffer.from(data.buffer, data.byteOffset, data.byteLength), options.level ?? 9),
    );
  }
  throw new UnsupportedError(
    'CPIO_COMPRESSION',
    `cannot write ${kind}: rewritten segments are written as none, gzip or zstd`,
  );
}

interface ZstdWasm {
  init(): Promise<void>;
  compress(data: Buffer, level: number): Uint8Array;
}
let zstdReady: Promise<ZstdWasm> | undefined;

/** Loads and initialises the zstd WebAssembly module once, on first use. */
function loadZstd(): Promise<ZstdWasm> {
  zstdReady ??= (async () => {
    const mod = (await import('@bokuweb/zstd-wasm')) as unknown as ZstdWasm & { default?: ZstdWasm };
    const z = typeof mod.init === 'function' ? mod : mod.default!;
    await z.init();
    return z;
  })();
  return zstdReady;
}
