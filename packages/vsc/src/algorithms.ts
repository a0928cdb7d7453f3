import { UnsupportedError } from '@lsvm/core';

/**
 * Hash algorithms a catalog may use for its block hashes and root hashes. SHA-256 is the default;
 * SHA-384 and SHA-512 exist for policies that demand them. Names are the catalog's own (lower
 * case, as written in the `algorithm` field) and also node:crypto's.
 */
export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** Every supported algorithm, in preference order. */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/** Digest length in bytes of each algorithm. */
export const DIGEST_LENGTH: Readonly<Record<HashAlgorithm, number>> = Object.freeze({
  sha256: 32,
  sha384: 48,
  sha512: 64,
});

/** True when `s` names a supported algorithm. */
export function isHashAlgorithm(s: unknown): s is HashAlgorithm {
  return s === 'sha256' || s === 'sha384' || s === 'sha512';
}

/** Accepts `sha256`, `SHA-256`, `sha-384`…; throws {@link UnsupportedError} for anything else. */
export function parseHashAlgorithm(s: string): HashAlgorithm {
  const n = s.toLowerCase().replace(/-/g, '');
  if (isHashAlgorithm(n)) return n;
  throw new UnsupportedError(
    'VSC_UNSUPPORTED_ALGORITHM',
    `hash algorithm ${JSON.stringify(s)} is not supported (sha256, sha384, sha512)`,
  );
}

/** Smallest and largest block sizes (4 KiB to 64 MiB, powers of two) and the default (1 MiB). */
export const MIN_BLOCK_SIZE = 4096;
export const MAX_BLOCK_SIZE = 64 * 1024 * 1024;
export const DEFAULT_BLOCK_SIZE = 1024 * 1024;

/** True for a power of two within [4 KiB, 64 MiB]. */
export function isValidBlockSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= MIN_BLOCK_SIZE && n <= MAX_BLOCK_SIZE && (n & (n - 1)) === 0;
}
