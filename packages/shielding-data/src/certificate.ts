import { type KeyObject, X509Certificate, createHash, createPublicKey, sign, verify } from 'node:crypto';
import { FormatError, UnsupportedError, VerificationError, toHex } from '@lsvm/core';

/**
 * Certificates of guardians, read through node:crypto's X509Certificate (OpenSSL), and the one
 * signature scheme per key type that the shielding-data formats use:
 *
 * | key            | signature                                   | scheme id |
 * |----------------|---------------------------------------------|-----------|
 * | RSA ≥ 2048     | RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2) | `RS256` |
 * | ECDSA P-256    | ECDSA with SHA-256, r‖s (IEEE P1363, 64 bytes)  | `ES256` |
 * | ECDSA P-384    | ECDSA with SHA-384, r‖s (96 bytes)              | `ES384` |
 *
 * PKCS#1 v1.5 is chosen over PSS because it is deterministic, so published vectors can be checked
 * byte for byte.
 */

/** Signature scheme of a key (see table above). */
export type SignatureScheme = 'RS256' | 'ES256' | 'ES384';

/** What a parsed guardian certificate tells. */
export interface CertificateInfo {
  /** The DER bytes. */
  der: Uint8Array;
  /** Lower-case hex SHA-256 of the DER certificate (the VIQ signer thumbprint form). */
  thumbprint: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  /** `rsa` or `ec`. */
  keyType: 'rsa' | 'ec';
  /** RSA modulus bits, or EC field bits (256, 384). */
  keyBits: number;
  /** EC curve as in JOSE (`P-256`, `P-384`), absent for RSA. */
  curve?: 'P-256' | 'P-384';
  /** Signature scheme of this certificate's key. */
  scheme: SignatureScheme;
  /** The public key. */
  publicKey: KeyObject;
}

/** Lower-case hex SHA-256 of `der`. */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** SHA-256 of `data`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Describes a public or private key: type, size, curve and signature scheme; rejects others. */
export function describeKey(
  key: KeyObject,
  structure: string,
): Pick<CertificateInfo, 'keyType' | 'keyBits' | 'curve' | 'scheme'> {
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'rsa') {
    const bits = d.modulusLength ?? 0;
    if (bits < 2048 || bits > 16384)
      throw new UnsupportedError('GUARDIAN_KEY_SIZE', `RSA keys must have 2048..16384 bits, not ${bits}`, {
        structure,
      });
    return { keyType: 'rsa', keyBits: bits, scheme: 'RS256' };
  }
  if (t === 'ec') {
    if (d.namedCurve === 'prime256v1')
      return { keyType: 'ec', keyBits: 256, curve: 'P-256', scheme: 'ES256' };
    if (d.namedCurve === 'secp384r1') return { keyType: 'ec', keyBits: 384, curve: 'P-384', scheme: 'ES384' };
    throw new UnsupportedError(
      'GUARDIAN_KEY_CURVE',
      `EC curve ${String(d.namedCurve)} is not P-256 or P-384`,
      {
        structure,
      },
    );
  }
  throw new UnsupportedError('GUARDIAN_KEY_TYPE', `key type ${String(t)} is not RSA or EC`, { structure });
}

// Parsing a certificate costs ~1 ms in OpenSSL and a key protector names each certificate several
// times; results are pure functions of the bytes, so a small cache keyed by SHA-256 is safe.
const cache = new Map<string, CertificateInfo>();
const CACHE_SIZE = 64;

/** Parses a DER certificate and checks its key is one the formats allow. */
export function parseCertificate(der: Uint8Array, structure = 'certificate'): CertificateInfo {
  const key = der.length <= 65536 ? certificateThumbprint(der) : undefined;
  const hit = key !== undefined ? cache.get(key) : undefined;
  if (hit) return { ...hit, der: hit.der.slice() };
  const info = parseCertificateUncached(der, structure);
  if (key !== undefined) {
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, { ...info, der: info.der.slice() });
  }
  return info;
}

function parseCertificateUncached(der: Uint8Array, structure: string): CertificateInfo {
  // OpenSSL would also accept PEM text here; the formats carry DER only.
  if (der.length < 2 || der[0] !== 0x30)
    throw new FormatError('CERT_MALFORMED', 'not a DER certificate', { structure });
  let x: X509Certificate;
  let publicKey: KeyObject;
  try {
    x = new X509Certificate(der);
    publicKey = x.publicKey;
  } catch (e) {
    throw new FormatError('CERT_MALFORMED', 'certificate does not parse', { structure, cause: e });
  }
  // Reject trailing bytes and non-canonical encodings: the re-encoded certificate must be `der`.
  const raw = new Uint8Array(x.raw);
  if (raw.length !== der.length || !raw.every((b, i) => b === der[i]))
    throw new FormatError('CERT_MALFORMED', 'certificate has trailing or non-DER bytes', { structure });
  return {
    der: raw,
    thumbprint: certificateThumbprint(raw),
    subject: x.subject,
    issuer: x.issuer,
    notBefore: x.validFrom,
    notAfter: x.validTo,
    publicKey,
    ...describeKey(publicKey, structure),
  };
}

function hashOf(scheme: SignatureScheme): string {
  return scheme === 'ES384' ? 'sha384' : 'sha256';
}

/** Signs `data` with a private key under the key's scheme. */
export function signData(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  const { scheme } = describeKey(privateKey, 'signing key');
  if (scheme === 'RS256') return new Uint8Array(sign('sha256', data, privateKey));
  return new Uint8Array(sign(hashOf(scheme), data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** True when `signature` over `data` verifies under `cert`'s key. Never throws on bad signatures. */
export function verifyData(cert: CertificateInfo, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (cert.scheme === 'RS256') return verify('sha256', data, cert.publicKey, signature);
    const expected = cert.keyBits === 256 ? 64 : 96;
    if (signature.length !== expected) return false;
    return verify(hashOf(cert.scheme), data, { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** Throws a {@link VerificationError} with `code` unless the signature verifies. */
export function requireSignature(
  cert: CertificateInfo,
  data: Uint8Array,
  signature: Uint8Array,
  code: string,
  what: string,
  structure: string,
): void {
  if (!verifyData(cert, data, signature))
    throw new VerificationError(code, `${what} does not verify`, { structure });
}

/** True when the public halves of a private key and a certificate match. */
export function keyMatchesCertificate(privateKey: KeyObject, cert: CertificateInfo): boolean {
  const a = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const b = cert.publicKey.export({ type: 'spki', format: 'der' });
  return toHex(new Uint8Array(a)) === toHex(new Uint8Array(b));
}
