import { isLsvmError } from '@lsvm/core';
import { parseAuthenticodeSignature, verifySignature } from '../src/index.js';

/**
 * Fuzz target: the PKCS#7 / Authenticode decoder (ContentInfo, SignedData, SignerInfo,
 * SpcIndirectDataContent, nested signatures, RFC 3161 tokens and countersignatures, X.509 in the
 * bag) and the signature check over a fixed digest.
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // parseAuthenticodeSignature decodes the blob and maps the whole SignedData (parseSignedData's
  // work) before it looks for SpcIndirectDataContent, so one call covers both decoders.
  try {
    const sig = parseAuthenticodeSignature(bytes);
    verifySignature(sig, '0', () => new Uint8Array(32), sig.signedData.certificates);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
