import { TPM2B_PUBLIC, marshal, objectName, unmarshal } from '../src/index.js';

/**
 * TPM2B_PUBLIC (the tpm2-tools `-u` file). Contract: returns or throws an LsvmError; whatever
 * parses must re-marshal to the same bytes (the canonical round trip).
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  const pub = unmarshal(TPM2B_PUBLIC, bytes);
  const again = marshal(TPM2B_PUBLIC, pub);
  if (Buffer.compare(again, bytes) !== 0) throw new Error('TPM2B_PUBLIC round trip changed the bytes');
  objectName(pub);
}
