/** Fuzz target: the FSK reader and signature check; parsed unsigned input must re-encode exactly. */
import { isLsvmError } from '@lsvm/core';
import { createFsk, parseFsk, verifyFsk } from '../src/index.js';

export function fuzz(data: Buffer): void {
  try {
    const fsk = parseFsk(new Uint8Array(data), { maxContainerBytes: 1 << 20 });
    if (!fsk.signature && Buffer.compare(Buffer.from(createFsk(fsk.pairs)), data) !== 0)
      throw new Error('FSK re-encoding differs from the input');
    verifyFsk(fsk);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
