import { createHmac, hkdfSync } from 'node:crypto';

/**
 * Keys derived from the transport key (or, for specialization.aes, from the boot volume key) with
 * HKDF-SHA256 (RFC 5869), empty salt, and a distinct ASCII `info` label per use, so no key serves
 * two purposes. The labels are part of the format (docs/formats/shielding-data.md, "Key
 * derivation").
 */
export const KDF_LABELS = {
  /** HMAC key of the key protector's wrapping MAC. */
  wrappingMac: 'lsvm key-protector wrapping-mac v1',
  /** AES-256-GCM key of the PDK encrypted section. */
  pdkSection: 'lsvm pdk encrypted-section v1',
  /** HMAC-SHA256 key of specialization.aes mode 2. */
  specializationHmac: 'lsvm specialization.aes hmac v1',
  /** KEK of an ECDH-ES+A256KW wrapping (info continues with the context, see key-protector.ts). */
  ecdhKek: 'lsvm key-protector ecdh-es+a256kw v1',
} as const;

/** HKDF-SHA256 with an empty salt. */
export function hkdfSha256(ikm: Uint8Array, info: string | Uint8Array, length = 32): Uint8Array {
  const i = typeof info === 'string' ? new TextEncoder().encode(info) : info;
  return new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), i, length));
}

/** HMAC-SHA256 of the concatenation of `parts`. */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
