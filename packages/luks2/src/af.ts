import * as nodeCrypto from 'node:crypto';
import { createHash, getHashes, randomFillSync } from 'node:crypto';
import { UnsupportedError, UsageError, zeroize } from '@lsvm/core';

/**
 * The anti-forensic information splitter of LUKS (LUKS1 On-Disk Format Specification §2.4,
 * "AF-Splitter"; LUKS2 reuses it as af type `luks1`). A key of n bytes becomes `stripes` blocks of
 * n bytes; all of them are needed to recover it, so destroying a few sectors destroys the key.
 */

/** `crypto.hash` (Node ≥ 20.12), looked up so older Nodes fall back to createHash. */
const oneShotHash = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

/** Digest length of a hash, or UnsupportedError when Node's OpenSSL lacks it. */
export function hashLength(hash: string): number {
  const known = hashLengths.get(hash);
  if (known !== undefined) return known;
  if (!getHashes().includes(hash))
    throw new UnsupportedError('LUKS_UNSUPPORTED_HASH', `hash ${JSON.stringify(hash)} is not supported`);
  const n = createHash(hash).digest().length;
  hashLengths.set(hash, n);
  return n;
}
const hashLengths = new Map<string, number>();

/**
 * The diffusion function H of the spec: the block is cut into digest-sized pieces, piece i is
 * replaced by hash(be32(i) ‖ piece) truncated to the piece's length (the last piece may be short).
 */
function diffuse(block: Uint8Array, hash: string, digestSize: number): void {
  // be32(i) ‖ piece in one buffer, hashed by the one-shot crypto.hash where Node has it (20.12+):
  // half the cost of a Hash object per piece, and AF runs 4000 diffusions per key.
  const input = new Uint8Array(4 + digestSize);
  const pieces = Math.ceil(block.length / digestSize);
  for (let i = 0; i < pieces; i++) {
    const start = i * digestSize;
    const piece = block.subarray(start, Math.min(block.length, start + digestSize));
    input[0] = i >>> 24;
    input[1] = (i >>> 16) & 0xff;
    input[2] = (i >>> 8) & 0xff;
    input[3] = i & 0xff;
    input.set(piece, 4);
    const data = input.subarray(0, 4 + piece.length);
    const d = oneShotHash ? oneShotHash(hash, data, 'buffer') : createHash(hash).update(data).digest();
    piece.set(d.subarray(0, piece.length));
  }
  input.fill(0);
}

/**
 * AF merge: recovers the key of `keySize` bytes from `material` (stripes × keySize bytes).
 * d_0 = 0; d_{k+1} = H(d_k ⊕ s_k) for k < stripes-1; key = d_{stripes-1} ⊕ s_{stripes-1}.
 */
export function afMerge(material: Uint8Array, keySize: number, stripes: number, hash: string): Uint8Array {
  if (keySize <= 0 || stripes <= 0 || material.length < keySize * stripes)
    throw new UsageError('LUKS_AF_SIZE', `AF material of ${material.length} bytes is too short`);
  const digestSize = hashLength(hash);
  const d = new Uint8Array(keySize);
  for (let k = 0; k < stripes - 1; k++) {
    const s = material.subarray(k * keySize, (k + 1) * keySize);
    for (let i = 0; i < keySize; i++) d[i]! ^= s[i]!;
    diffuse(d, hash, digestSize);
  }
  const last = material.subarray((stripes - 1) * keySize, stripes * keySize);
  for (let i = 0; i < keySize; i++) d[i]! ^= last[i]!;
  return d;
}

/**
 * AF split: random stripes s_0 … s_{stripes-2}, and the last one chosen so that {@link afMerge}
 * gives `key` back. `random` is injectable for deterministic tests.
 */
export function afSplit(
  key: Uint8Array,
  stripes: number,
  hash: string,
  random: (buf: Uint8Array) => void = (b) => {
    randomFillSync(b);
  },
): Uint8Array {
  const keySize = key.length;
  const digestSize = hashLength(hash);
  const out = new Uint8Array(keySize * stripes);
  random(out.subarray(0, keySize * (stripes - 1)));
  const d = new Uint8Array(keySize);
  for (let k = 0; k < stripes - 1; k++) {
    const s = out.subarray(k * keySize, (k + 1) * keySize);
    for (let i = 0; i < keySize; i++) d[i]! ^= s[i]!;
    diffuse(d, hash, digestSize);
  }
  const last = out.subarray((stripes - 1) * keySize);
  for (let i = 0; i < keySize; i++) last[i] = d[i]! ^ key[i]!;
  zeroize(d);
  return out;
}
