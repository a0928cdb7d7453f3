import { createHash, randomBytes } from 'node:crypto';

/**
 * Where writers take their randomness from: transport keys, OAEP seeds, ECDH ephemeral keys, GCM
 * nonces and IVs. The default is the operating system's CSPRNG; tests and published vectors pass
 * {@link deterministicRandom} so that output is reproducible byte for byte.
 */
export type RandomSource = (length: number) => Uint8Array;

/** The operating system's CSPRNG (node:crypto randomBytes). */
export const systemRandom: RandomSource = (n) => new Uint8Array(randomBytes(n));

/**
 * A reproducible byte stream for test vectors ONLY: block i is SHA-256(seed ‖ u32be(i)), blocks
 * concatenated and consumed in order. Never use it for real secrets.
 */
export function deterministicRandom(seed: string | Uint8Array): RandomSource {
  const s = typeof seed === 'string' ? new TextEncoder().encode(seed) : seed;
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n) => {
    while (pool.length < n) {
      const c = new Uint8Array(4);
      new DataView(c.buffer).setUint32(0, counter++);
      const block = createHash('sha256').update(s).update(c).digest();
      const next = new Uint8Array(pool.length + block.length);
      next.set(pool);
      next.set(block, pool.length);
      pool = next;
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
}
