import { isLsvmError } from '@lsvm/core';
import { parseTrustInput, signatureDatabase } from '../src/index.js';

/**
 * Fuzz target: what `--trust` / `--dbx` files go through — PEM (any number of blocks, any text
 * around them), one DER certificate, an EFI_SIGNATURE_LIST buffer or an authenticated variable —
 * and the signature database built from the result. Contract: returns, or throws an LsvmError,
 * in time linear in the input (the PEM scan once was quadratic).
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  try {
    const t = parseTrustInput(bytes);
    signatureDatabase(t.lists);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
