import { isLsvmError } from '@lsvm/core';
import { parseAuthVariable, parseSignatureLists, signatureDatabase } from '../src/index.js';

/** Fuzz target: EFI_SIGNATURE_LIST buffers and EFI_VARIABLE_AUTHENTICATION_2 descriptors. */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  try {
    signatureDatabase(parseSignatureLists(bytes));
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
  try {
    parseAuthVariable(bytes);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
