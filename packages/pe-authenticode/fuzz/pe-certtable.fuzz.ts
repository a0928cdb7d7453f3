import { isLsvmError } from '@lsvm/core';
import { parseCertificateTable } from '../src/index.js';

/**
 * Fuzz target: the WIN_CERTIFICATE walk. The input is the table itself; the first 4 bytes (when
 * present) choose the declared table size, so sizes larger than the data are exercised too.
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const declared = bytes.length >= 4 ? (bytes[0]! | (bytes[1]! << 8)) % (bytes.length + 64) : bytes.length;
  try {
    parseCertificateTable(bytes, 0, bytes.length);
    parseCertificateTable(bytes, Math.min(4, bytes.length), declared);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
