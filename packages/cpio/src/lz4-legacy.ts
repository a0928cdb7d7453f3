import { FormatError } from '@lsvm/core';

/** Magic of the lz4 "legacy" frame (`lz4 -l`), the lz4 format the kernel's initramfs code reads. */
export const LZ4_LEGACY_MAGIC = 0x184c2102;
/** Each legacy block decompresses to at most 8 MiB. */
const BLOCK_MAX = 8 << 20;

function fail(why: string, offset: number): FormatError {
  return new FormatError('CPIO_DECOMPRESS', `lz4 data is corrupt: ${why}`, {
    structure: 'lz4 stream',
    offset,
  });
}

/**
 * Decodes one LZ4 block (the LZ4 block format: sequences of a token, literals, a 2-byte offset and
 * a match length) into `out`, returning the number of bytes produced. Every read and write is
 * bounds-checked; a block that would exceed `out` is corrupt.
 */
export function decodeLz4Block(src: Uint8Array, out: Uint8Array): number {
  let ip = 0;
  let op = 0;
  const end = src.length;
  while (ip < end) {
    const token = src[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= end) throw fail('literal length runs past the block', ip);
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > end) throw fail('literals run past the block', ip);
    if (op + lit > out.length) throw fail('block expands past 8 MiB', ip);
    out.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === end) break; // the last sequence carries literals only
    if (ip + 2 > end) throw fail('match offset runs past the block', ip);
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw fail(`match offset ${offset} points before the output`, ip - 2);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= end) throw fail('match length runs past the block', ip);
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (op + len > out.length) throw fail('block expands past 8 MiB', ip);
    // Overlapping copies (offset < length) repeat the pattern, so copy forwards byte by byte then.
    if (offset >= len) out.copyWithin(op, op - offset, op - offset + len);
    else for (let i = 0; i < len; i++) out[op + i] = out[op + i - offset]!;
    op += len;
  }
  return op;
}

/**
 * Decodes an lz4 legacy stream: the magic, then blocks each preceded by their u32 LE compressed
 * size; a repeated magic starts another stream (concatenation). The legacy format has no end
 * mark: the stream ends at the end of the input, at zero padding, or where `isBoundary` says the
 * next segment starts (a cpio header or another compressed stream). `push` receives each decoded
 * block (a fresh copy). Returns the bytes consumed.
 */
export function decodeLz4Legacy(
  data: Uint8Array,
  push: (block: Uint8Array) => void,
  isBoundary: (at: number) => boolean = () => false,
): number {
  const u32 = (at: number): number =>
    (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
  if (data.length < 4 || u32(0) !== LZ4_LEGACY_MAGIC) throw fail('no legacy frame magic', 0);
  const buf = new Uint8Array(BLOCK_MAX);
  let p = 4;
  while (p + 4 <= data.length) {
    const size = u32(p);
    if (size === LZ4_LEGACY_MAGIC) {
      p += 4;
      continue;
    }
    if (size === 0 || isBoundary(p)) break; // zero padding, or the next segment
    // A block can hold at most LZ4_compressBound(8 MiB) bytes; anything larger is corrupt.
    if (size > BLOCK_MAX + (BLOCK_MAX >>> 8) + 16) throw fail(`block size ${size} is too large`, p);
    if (p + 4 + size > data.length) throw fail('block runs past the end', p);
    const n = decodeLz4Block(data.subarray(p + 4, p + 4 + size), buf);
    push(buf.slice(0, n));
    p += 4 + size;
  }
  return p;
}
