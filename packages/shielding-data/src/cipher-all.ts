import type { Cipher, Decipher } from 'node:crypto';

/**
 * Runs a whole buffer through a node:crypto cipher and returns ONE Uint8Array, zeroing the
 * intermediate buffers node returns (they may hold plaintext), with a single copy instead of the
 * two of `new Uint8Array(Buffer.concat(…))`.
 */
export function cipherAll(c: Cipher | Decipher, input: Uint8Array, trailer?: () => Uint8Array): Uint8Array {
  const a = c.update(input);
  let b: Buffer;
  try {
    b = c.final();
  } catch (e) {
    a.fill(0); // bad padding or tag: do not leave the unauthenticated plaintext behind
    throw e;
  }
  const t = trailer?.() ?? new Uint8Array(0);
  const out = new Uint8Array(a.length + b.length + t.length);
  out.set(a, 0);
  out.set(b, a.length);
  out.set(t, a.length + b.length);
  a.fill(0);
  b.fill(0);
  return out;
}
