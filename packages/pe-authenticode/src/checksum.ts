/**
 * The PE image checksum (the algorithm of imagehlp's CheckSumMappedFile): the file summed as
 * little-endian 16-bit words with end-around carry folded into 16 bits, the stored CheckSum field
 * counted as zero, plus the file length. An odd final byte counts as a word with a zero high byte.
 * Firmware ignores it; Windows checks it for drivers; signers recompute it.
 */
export function peChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  const n = bytes.length;
  const even = n & ~1;
  for (let i = 0; i < even; i += 2) {
    if (i === checksumOffset || i === checksumOffset + 2) continue;
    sum += bytes[i]! | (bytes[i + 1]! << 8);
    // Fold often enough that the sum stays a small exact integer.
    if (sum > 0x7fffffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  if (n & 1) sum += bytes[n - 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return (sum + n) >>> 0;
}

/** Writes `peChecksum` into the CheckSum field of `bytes` (in place) and returns it. */
export function updatePeChecksum(bytes: Uint8Array, checksumOffset: number): number {
  const c = peChecksum(bytes, checksumOffset);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(checksumOffset, c, true);
  return c;
}
