/**
 * Builds small synthetic PE32+ images for tests: headers, a section table, section data, and
 * optional overlay, with every field a test may want to make hostile.
 */
export interface SyntheticSection {
  name: string;
  data: Uint8Array;
  /** File offset; default: packed after the previous section on FileAlignment. */
  pointer?: number;
  /** Declared SizeOfRawData; default: data length rounded to FileAlignment. */
  rawSize?: number;
}

export interface SyntheticPe {
  sections: SyntheticSection[];
  /** Bytes appended after the last section. */
  overlay?: Uint8Array;
  numberOfRvaAndSizes?: number;
  fileAlignment?: number;
  /** Extra file length (zeros) to make the total not a multiple of 8, etc. */
  trailingZeros?: number;
  /** Build a PE32 (magic 0x10b) image instead of PE32+. */
  pe32?: boolean;
}

const FILE_ALIGN = 0x200;

export function makePe(spec: SyntheticPe): Uint8Array {
  const fa = spec.fileAlignment ?? FILE_ALIGN;
  const nDirs = spec.numberOfRvaAndSizes ?? 16;
  const peOff = 0x80;
  const dirsAt = spec.pe32 ? 96 : 112;
  const optSize = dirsAt + nDirs * 8;
  const tableOff = peOff + 24 + optSize;
  const headersEnd = tableOff + spec.sections.length * 40;
  const sizeOfHeaders = Math.ceil(headersEnd / fa) * fa;
  let cursor = sizeOfHeaders;
  const placed = spec.sections.map((s) => {
    const raw = s.rawSize ?? Math.ceil(s.data.length / fa) * fa;
    const ptr = s.pointer ?? cursor;
    cursor = Math.max(cursor, ptr + raw);
    return { ...s, raw, ptr };
  });
  let size = Math.max(cursor, sizeOfHeaders);
  const overlayAt = size;
  size += spec.overlay?.length ?? 0;
  size += spec.trailingZeros ?? 0;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out[0] = 0x4d;
  out[1] = 0x5a;
  v.setUint32(0x3c, peOff, true);
  v.setUint32(peOff, 0x4550, true);
  v.setUint16(peOff + 4, spec.pe32 ? 0x14c : 0x8664, true);
  v.setUint16(peOff + 6, spec.sections.length, true);
  v.setUint16(peOff + 20, optSize, true);
  v.setUint16(peOff + 22, 0x2022, true);
  const o = peOff + 24;
  v.setUint16(o, spec.pe32 ? 0x10b : 0x20b, true);
  v.setUint32(o + 32, 0x1000, true); // SectionAlignment
  v.setUint32(o + 36, fa, true);
  let va = 0x1000;
  v.setUint32(o + 60, sizeOfHeaders, true);
  v.setUint16(o + 68, 10, true); // EFI application
  v.setUint32(o + dirsAt - 4, nDirs, true);
  placed.forEach((s, i) => {
    const h = tableOff + i * 40;
    new TextEncoder().encodeInto(s.name.slice(0, 8), out.subarray(h, h + 8));
    v.setUint32(h + 8, s.data.length, true);
    v.setUint32(h + 12, va, true);
    v.setUint32(h + 16, s.raw, true);
    v.setUint32(h + 20, s.ptr, true);
    v.setUint32(h + 36, 0x60000020, true);
    va += Math.ceil(Math.max(1, s.data.length) / 0x1000) * 0x1000;
    out.set(s.data.subarray(0, Math.max(0, Math.min(s.data.length, size - s.ptr))), s.ptr);
  });
  v.setUint32(o + 56, va, true); // SizeOfImage
  if (spec.overlay) out.set(spec.overlay, overlayAt);
  return out;
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
