import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a MAC this package computed with the one a file carries, in constant time
 * (node's `crypto.timingSafeEqual`, OpenSSL's CRYPTO_memcmp): how many leading bytes of a forged
 * MAC are right must not show in the time a check takes (DESIGN rule 6). Every MAC and tag check
 * of the package goes through here — the PKCS#12 password MAC, the key protector's wrapping MAC,
 * the specialization.aes HMAC — except the AES-GCM tag, which OpenSSL checks inside
 * `decipher.final()`. The lengths are public (fixed by the algorithm), so a length mismatch
 * returns false at once instead of making timingSafeEqual throw a RangeError.
 */
export function macEqual(computed: Uint8Array, stored: Uint8Array): boolean {
  return computed.length === stored.length && timingSafeEqual(computed, stored);
}
