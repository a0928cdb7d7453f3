import { FormatError } from '@lsvm/core';

/**
 * VHDX marks every structure with an ASCII signature ("vhdxfile", "head", "regi", "metadata",
 * "loge", "desc", "zero", "data"). These helpers compare and write them as bytes, which keeps the
 * spec's spelling visible in the code instead of little-endian integer constants.
 */
const enc = new TextEncoder();

/** The bytes of an ASCII signature. */
export function signatureBytes(sig: string): Uint8Array {
  return enc.encode(sig);
}

/** True when `bytes` at `offset` start with `sig`. */
export function hasSignature(bytes: Uint8Array, offset: number, sig: string): boolean {
  if (offset < 0 || offset + sig.length > bytes.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[offset + i] !== sig.charCodeAt(i)) return false;
  return true;
}

/** Throws a FormatError with `code` unless `bytes` at `offset` start with `sig`. */
export function expectSignature(
  bytes: Uint8Array,
  offset: number,
  sig: string,
  code: string,
  structure: string,
  base = 0,
): void {
  if (!hasSignature(bytes, offset, sig)) {
    throw new FormatError(code, `signature "${sig}" not found`, { structure, offset: base + offset });
  }
}

/** Writes `sig` into `bytes` at `offset`. */
export function writeSignature(bytes: Uint8Array, offset: number, sig: string): void {
  for (let i = 0; i < sig.length; i++) bytes[offset + i] = sig.charCodeAt(i);
}
