import { isLsvmError } from '@lsvm/core';
import { authenticodeDigest, digestReport, extractVendorCert, parsePe, verifyImage } from '../src/index.js';

/**
 * Fuzz target: the whole PE parser and what `lsvm pe info` / `authenticode verify` run on a file —
 * headers, sections, long names, certificate table, SBAT, checksum, layout findings, digests and
 * the signature decoder. Contract: returns, or throws an LsvmError.
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  try {
    const pe = parsePe(bytes);
    // verifyImage below decodes every signature (imageSignatures) first; decoding twice adds nothing.
    extractVendorCert(bytes, pe);
    try {
      digestReport(bytes, 'sha256', pe);
      authenticodeDigest(bytes, { method: 'linear', algorithm: 'sha1' }, pe);
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
    verifyImage(bytes, {}, pe);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
