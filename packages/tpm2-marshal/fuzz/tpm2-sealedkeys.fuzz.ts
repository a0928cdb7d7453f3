import { checkLsvmloadSealedKeys, parseSealedKeys, serializeSealedKeys } from '../src/index.js';

/** lsvmload's sealedkeys file. Contract: returns or throws an LsvmError; parse∘serialize is the identity. */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  const k = parseSealedKeys(bytes);
  if (Buffer.compare(serializeSealedKeys(k), bytes) !== 0)
    throw new Error('sealedkeys round trip changed the bytes');
  checkLsvmloadSealedKeys(k);
}
