import { BaseBlockDevice, FormatError } from '@lsvm/core';

/**
 * A compact encoding of mostly-zero files, so that real VHDX images (megabytes, nearly all zeros:
 * the header section alone is 1 MiB) fit in a fuzz corpus of a few KiB and mutations land on the
 * structures rather than on zero padding.
 *
 *   "VXSP" | u32 fileSize | repeated { u32 offset | u16 length | length bytes }
 *
 * Bytes not covered by a chunk are zero. Later chunks win where they overlap.
 */
export const SPARSE_MAGIC = 'VXSP';

interface Chunk {
  offset: number;
  bytes: Uint8Array;
}

/** A read-only device over decoded chunks; nothing of `size` is allocated. */
export class SparseImageDevice extends BaseBlockDevice {
  readonly readOnly = true;
  readonly sectorSize = 512;
  constructor(
    readonly size: number,
    private readonly chunks: Chunk[],
  ) {
    super();
  }
  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    target.fill(0);
    const end = offset + target.length;
    for (const c of this.chunks) {
      const from = Math.max(offset, c.offset);
      const to = Math.min(end, c.offset + c.bytes.length);
      if (from < to) target.set(c.bytes.subarray(from - c.offset, to - c.offset), from - offset);
    }
  }
}

/** Decodes the sparse form; `undefined` when `data` does not start with the magic. */
export function decodeSparse(data: Uint8Array): SparseImageDevice | undefined {
  if (data.length < 8 || String.fromCharCode(...data.subarray(0, 4)) !== SPARSE_MAGIC) return undefined;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const size = v.getUint32(4, true);
  const chunks: Chunk[] = [];
  let at = 8;
  while (at + 6 <= data.length) {
    const offset = v.getUint32(at, true);
    const len = v.getUint16(at + 4, true);
    at += 6;
    const bytes = data.subarray(at, Math.min(data.length, at + len));
    at += len;
    if (offset + bytes.length > size) {
      throw new FormatError('SPARSE_CHUNK', 'sparse chunk past the declared size', {
        structure: 'sparse image',
      });
    }
    chunks.push({ offset, bytes });
  }
  return new SparseImageDevice(size, chunks);
}

/** Encodes a file: every 512-byte sector holding a non-zero byte, adjacent ones merged. */
export function encodeSparse(file: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(8);
  head.set([0x56, 0x58, 0x53, 0x50]);
  new DataView(head.buffer).setUint32(4, file.length, true);
  parts.push(head);
  const S = 512;
  let s = 0;
  while (s * S < file.length) {
    if (!nonZero(file.subarray(s * S, (s + 1) * S))) {
      s++;
      continue;
    }
    let e = s + 1;
    while (e * S < file.length && e - s < 120 && nonZero(file.subarray(e * S, (e + 1) * S))) e++;
    const bytes = file.subarray(s * S, Math.min(file.length, e * S));
    // Trim trailing zeros of the run.
    let len = bytes.length;
    while (len > 0 && bytes[len - 1] === 0) len--;
    const h = new Uint8Array(6);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, s * S, true);
    dv.setUint16(4, len, true);
    parts.push(h, bytes.subarray(0, len));
    s = e;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function nonZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return true;
  return false;
}
