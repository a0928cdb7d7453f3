/**
 * Fuzz target: the standalone key protector reader and its public verification. Parsed input
 * must re-encode byte for byte.
 */
import { isLsvmError } from '@lsvm/core';
import { encodeKeyProtector, parseKeyProtector, verifyKeyProtector } from '../src/index.js';

export function fuzz(data: Buffer): void {
  try {
    const kp = parseKeyProtector(new Uint8Array(data), { maxContainerBytes: 1 << 20 });
    if (Buffer.compare(Buffer.from(encodeKeyProtector(kp)), data) !== 0)
      throw new Error('key protector re-encoding differs');
    verifyKeyProtector(kp);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
