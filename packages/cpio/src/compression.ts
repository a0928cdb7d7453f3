import { FormatError, LimitError, UnsupportedError, isLsvmError } from '@lsvm/core';
import { Gunzip, gzipSync } from 'fflate';
import { Decompress as ZstdDecompress } from 'fzstd';

/** Compression of an initramfs segment. */
export type Compression = 'none' | 'gzip' | 'xz' | 'zstd' | 'lz4' | 'bzip2' | 'lzma' | 'lzo';

/** Compressions {@link decompress} handles. */
export const DECOMPRESSIBLE: readonly Compression[] = ['none', 'gzip', 'xz', 'zstd'];
/** Compressions {@link compress} produces. */
export const COMPRESSIBLE: readonly Compression[] = ['none', 'gzip'];

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

const CHUNK = 1 << 20;

function runGzip(data: Uint8Array, sink: Sink): void {
  // Streaming, so the limit stops a bomb after a bounded amount of output; multi-member gzip
  // (concatenated members) is decoded as one stream, as gzip -d does.
  const g = new Gunzip((chunk) => sink.push(chunk));
  for (let i = 0; i < data.length; i += CHUNK) {
    g.push(data.subarray(i, Math.min(data.length, i + CHUNK)), i + CHUNK >= data.length);
  }
  if (data.length === 0) g.push(new Uint8Array(0), true);
}

function runZstd(data: Uint8Array, sink: Sink): void {
  const z = new ZstdDecompress((chunk) => sink.push(chunk));
  for (let i = 0; i < data.length; i += CHUNK) {
    z.push(data.subarray(i, Math.min(data.length, i + CHUNK)), i + CHUNK >= data.length);
  }
}

async function runXz(data: Uint8Array, sink: Sink): Promise<void> {
  // xz-decompress is CommonJS with a WebAssembly build of XZ Embedded; loaded lazily so the
  // gzip/zstd paths (and browsers that never see xz) do not pay for it.
  const mod = (await import('xz-decompress')) as unknown as {
    XzReadableStream?: XzCtor;
    default?: { XzReadableStream: XzCtor };
  };
  const Xz = mod.XzReadableStream ?? mod.default!.XzReadableStream;
  const input = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < data.length; i += CHUNK) c.enqueue(data.slice(i, Math.min(data.length, i + CHUNK)));
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
    throw e;
  }
}
type XzCtor = new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>;

async function runOnce(data: Uint8Array, kind: Compression, max: number): Promise<Uint8Array> {
  const sink = new Sink(max);
  if (kind === 'gzip') runGzip(data, sink);
  else if (kind === 'zstd') runZstd(data, sink);
  else if (kind === 'xz') await runXz(data, sink);
  return sink.result();
}

/**
 * Decompresses `data` (gzip with fflate, zstd with fzstd, xz with xz-decompress), producing at
 * most `maxBytes` (else {@link LimitError}: a decompression bomb). Concatenated members or frames
 * are decoded as one stream. Zero padding after the stream (boot loaders pad images) is tolerated.
 */
export async function decompress(data: Uint8Array, kind: Compression, maxBytes: number): Promise<Uint8Array> {
  if (kind === 'none') return data;
  if (!DECOMPRESSIBLE.includes(kind)) {
    throw new UnsupportedError(
      'CPIO_COMPRESSION',
      `${kind} compression is not supported (gzip, xz and zstd are)`,
      {
        structure: 'initramfs segment',
      },
    );
  }
  try {
    return await runOnce(data, kind, maxBytes);
  } catch (first) {
    if (isLsvmError(first)) throw first;
    // The stream may be followed by zero padding, which decoders read as a broken next member.
    // The real end lies within the last run of zeros, at most 8 bytes (a trailer's zero bytes)
    // into it: try those ends before giving up.
    let end = data.length;
    while (end > 0 && data[end - 1] === 0) end--;
    if (end < data.length) {
      for (let k = 0; k <= 8 && end + k <= data.length; k++) {
        try {
          return await runOnce(data.subarray(0, end + k), kind, maxBytes);
        } catch (e) {
          if (isLsvmError(e)) throw e;
        }
      }
    }
    throw new FormatError(
      'CPIO_DECOMPRESS',
      `${kind} data is corrupt: ${first instanceof Error ? first.message : String(first)}`,
      { structure: 'initramfs segment', cause: first },
    );
  }
}

/** Compresses `data` for a rewritten segment: `none` or `gzip` (deterministic: no timestamp). */
export function compress(data: Uint8Array, kind: Compression, options: { level?: number } = {}): Uint8Array {
  if (kind === 'none') return data;
  if (kind === 'gzip') {
    const level = (options.level ?? 9) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
    return gzipSync(data, { level, mtime: 0 });
  }
  throw new UnsupportedError(
    'CPIO_COMPRESSION',
    `cannot write ${kind}: no maintained pure-JS/WASM ${kind} encoder is used (write none or gzip)`,
  );
}
