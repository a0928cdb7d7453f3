import { createHash, createHmac } from 'node:crypto';
import { UnsupportedError } from '@lsvm/core';
import { TPM_ALG, algName } from './constants.js';

/** Hash algorithms this library computes, with their digest sizes (Part 2 §10.3.1 TPMU_HA). */
const HASHES: ReadonlyMap<number, { node: string; size: number }> = new Map([
  [TPM_ALG.SHA1, { node: 'sha1', size: 20 }],
  [TPM_ALG.SHA256, { node: 'sha256', size: 32 }],
  [TPM_ALG.SHA384, { node: 'sha384', size: 48 }],
  [TPM_ALG.SHA512, { node: 'sha512', size: 64 }],
  [TPM_ALG.SM3_256, { node: 'sm3', size: 32 }],
  [TPM_ALG.SHA3_256, { node: 'sha3-256', size: 32 }],
  [TPM_ALG.SHA3_384, { node: 'sha3-384', size: 48 }],
  [TPM_ALG.SHA3_512, { node: 'sha3-512', size: 64 }],
]);

/** The hash algorithm IDs a TPMI_ALG_HASH may hold. */
export const HASH_ALGS: ReadonlySet<number> = new Set(HASHES.keys());

/** Digest size in bytes of a TPM hash algorithm; 0 for TPM_ALG_NULL. */
export function digestSize(alg: number): number {
  if (alg === TPM_ALG.NULL) return 0;
  const h = HASHES.get(alg);
  if (!h)
    throw new UnsupportedError('TPM2_HASH_UNSUPPORTED', `hash algorithm ${algName(alg)} is not supported`);
  return h.size;
}

function nodeName(alg: number): string {
  const h = HASHES.get(alg);
  if (!h)
    throw new UnsupportedError('TPM2_HASH_UNSUPPORTED', `hash algorithm ${algName(alg)} is not supported`);
  return h.node;
}

/** H(parts…) with a TPM hash algorithm. */
export function hash(alg: number, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(nodeName(alg));
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HMAC(key, parts…) with a TPM hash algorithm. */
export function hmac(alg: number, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(nodeName(alg), key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Parses `sha256`, `SHA-256`, `sha1`… into a TPM_ALG hash ID. */
export function parseHashAlg(name: string): number {
  const n = name.toLowerCase().replace(/[-_]/g, '');
  const table: Record<string, number> = {
    sha1: TPM_ALG.SHA1,
    sha256: TPM_ALG.SHA256,
    sha384: TPM_ALG.SHA384,
    sha512: TPM_ALG.SHA512,
    sm3256: TPM_ALG.SM3_256,
    sha3256: TPM_ALG.SHA3_256,
    sha3384: TPM_ALG.SHA3_384,
    sha3512: TPM_ALG.SHA3_512,
  };
  // Own keys only: `constructor` must not return Object.prototype.constructor as an algorithm.
  const v = Object.hasOwn(table, n) ? table[n] : undefined;
  if (v === undefined)
    throw new UnsupportedError('TPM2_HASH_UNSUPPORTED', `unknown hash algorithm '${name}'`);
  return v;
}
