/**
 * Fuzz target: one LUKS2 header copy (binary header, checksum, JSON area, metadata validation).
 * The checksum is recomputed over the mutated input half of the time so mutations reach the JSON
 * validator instead of stopping at the checksum. Contract: returns or throws an LsvmError.
 */
import { isLsvmError } from '@lsvm/core';
import { computeLuks2Checksum, parseLuks2HeaderCopy } from '../src/index.js';

export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  if (bytes.length >= 4096 && (bytes[0]! & 1) === 0) {
    // fix the checksum (sha256) over the claimed hdr_size when it fits
    const size = Number(new DataView(bytes.buffer).getBigUint64(8, false));
    if (size <= bytes.length && size >= 4096)
      bytes.set(computeLuks2Checksum(bytes.subarray(0, size), 'sha256'), 448);
  }
  try {
    parseLuks2HeaderCopy(bytes, 0);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
