import { UsageError } from '@lsvm/core';
import { digestSize, hash, hmac } from './hash.js';

/**
 * The two TPM key-derivation functions (Part 1 §11.4.10). Both produce `bits` bits; when `bits`
 * is not a multiple of 8 the surplus high-order bits of the first byte are cleared, as the
 * reference implementation does.
 */

const enc = new TextEncoder();

/** A label as the KDFs use it: the ASCII bytes followed by one zero octet (Part 1 §11.4.10.1). */
function labelBytes(label: string | Uint8Array): Uint8Array {
  const b = typeof label === 'string' ? enc.encode(label) : label;
  if (b.length > 0 && b[b.length - 1] === 0) return b;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function u32(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

function finish(blocks: Uint8Array[], bits: number): Uint8Array {
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(bytes);
  let off = 0;
  for (const b of blocks) {
    const n = Math.min(b.length, bytes - off);
    out.set(b.subarray(0, n), off);
    off += n;
    b.fill(0);
  }
  if (bits % 8 !== 0) out[0]! &= (1 << (bits % 8)) - 1;
  return out;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits <= 0 || bits > 8 * 65536)
    throw new UsageError('TPM2_KDF_BITS', `bad KDF output length ${bits} bits`);
}

/**
 * KDFa, SP 800-108 counter mode with HMAC (Part 1 §11.4.10.2):
 * `HMAC(key, [i]32 || label || 00 || contextU || contextV || [bits]32)` for i = 1, 2, …
 */
export function kdfa(
  hashAlg: number,
  key: Uint8Array,
  label: string | Uint8Array,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  checkBits(bits);
  const l = labelBytes(label);
  const size = digestSize(hashAlg);
  const blocks: Uint8Array[] = [];
  for (let i = 1; (i - 1) * size * 8 < bits; i++)
    blocks.push(hmac(hashAlg, key, u32(i), l, contextU, contextV, u32(bits)));
  return finish(blocks, bits);
}

/**
 * KDFe, SP 800-56A concatenation KDF (Part 1 §11.4.10.3):
 * `H([i]32 || Z || label || 00 || partyUInfo || partyVInfo)` for i = 1, 2, …
 */
export function kdfe(
  hashAlg: number,
  z: Uint8Array,
  label: string | Uint8Array,
  partyUInfo: Uint8Array,
  partyVInfo: Uint8Array,
  bits: number,
): Uint8Array {
  checkBits(bits);
  const l = labelBytes(label);
  const size = digestSize(hashAlg);
  const blocks: Uint8Array[] = [];
  for (let i = 1; (i - 1) * size * 8 < bits; i++)
    blocks.push(hash(hashAlg, u32(i), z, l, partyUInfo, partyVInfo));
  return finish(blocks, bits);
}
