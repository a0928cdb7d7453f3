/**
 * Fuzz target: the PDK reader. Any bytes must either parse or throw an LsvmError; what parses
 * must re-encode to the same bytes (canonical form) and verify or fail with an LsvmError.
 */
import { isLsvmError } from '@lsvm/core';
import { encodePdk, parsePdk, verifyPdk } from '../src/index.js';

export function fuzz(data: Buffer): void {
  try {
    const bytes = new Uint8Array(data);
    const p = parsePdk(bytes, { maxContainerBytes: 1 << 20 });
    if (Buffer.compare(Buffer.from(encodePdk(p)), data) !== 0)
      throw new Error('PDK re-encoding differs from the input');
    verifyPdk(p);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
