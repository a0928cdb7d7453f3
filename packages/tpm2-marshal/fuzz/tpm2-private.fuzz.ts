import { LsvmError } from '@lsvm/core';
import { TPM2B_PRIVATE, TPM2B_SENSITIVE, marshal, unmarshal } from '../src/index.js';

/**
 * TPM2B_PRIVATE (the tpm2-tools `-r` file), and the same bytes as a TPM2B_SENSITIVE (the
 * plaintext a duplication blob wraps). Contract: returns or throws an LsvmError; whatever parses
 * re-marshals to the same bytes.
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  try {
    const s = unmarshal(TPM2B_SENSITIVE, bytes);
    if (s !== undefined && Buffer.compare(marshal(TPM2B_SENSITIVE, s), bytes) !== 0)
      throw new Error('TPM2B_SENSITIVE round trip changed the bytes');
  } catch (e) {
    if (!(e instanceof LsvmError)) throw e;
  }
  const priv = unmarshal(TPM2B_PRIVATE, bytes);
  if (Buffer.compare(marshal(TPM2B_PRIVATE, priv), bytes) !== 0)
    throw new Error('TPM2B_PRIVATE round trip changed the bytes');
}
