import { type KeyObject, createHash, createPublicKey, sign, verify } from 'node:crypto';
import { FormatError, UnsupportedError, VerificationError, toHex } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { decodeDer } from './der.js';

/**
 * Certificates of guardians, parsed with pkijs behind a strict-DER gate (`der.ts`); the public
 * key goes to node:crypto (OpenSSL) for every primitive. And the one
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
  /** Start of validity, ISO 8601 UTC (`2026-01-01T00:00:00Z`). */
  notBefore: string;
  /** End of validity, ISO 8601 UTC. */
  notAfter: string;
  /** KeyUsage bits set (RFC 5280 §4.2.1.3), or `undefined` when the extension is absent (any use). */
  keyUsage: KeyUsage[] | undefined;
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

// Parsing a certificate (asn1js, pkijs, then OpenSSL for the key) costs about a millisecond and a
// key protector names each certificate several times; results are pure functions of the bytes, so
// a small cache keyed by SHA-256 is safe.
const cache = new Map<string, CertificateInfo>();
const CACHE_SIZE = 64;

/** Parses a DER certificate and checks its key is one the formats allow. */
export function parseCertificate(der: Uint8Array, structure = 'certificate'): CertificateInfo {
  const key = der.length <= 65536 ? certificateThumbprint(der) : undefined;
  const hit = key !== undefined ? cache.get(key) : undefined;
  if (hit) return { ...hit, der: hit.der.slice(), keyUsage: hit.keyUsage?.slice() };
  const info = parseCertificateUncached(der, structure);
  if (key !== undefined) {
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, { ...info, der: info.der.slice() });
  }
  return info;
}

function parseCertificateUncached(input: Uint8Array, structure: string): CertificateInfo {
  const der = new Uint8Array(input);
  // Exactly one DER value: trailing bytes or a second encoding of the same certificate would give
  // the same certificate two thumbprints.
  let cert: pkijs.Certificate;
  let spki: Uint8Array;
  try {
    const tree = decodeDer(der, structure);
    cert = new pkijs.Certificate({ schema: tree });
    spki = storedSpki(tree, structure);
  } catch (e) {
    const why = e instanceof FormatError ? e.message : 'not an X.509 certificate (RFC 5280 §4.1)';
    throw new FormatError('CERT_MALFORMED', why, { structure, cause: e });
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    throw new FormatError('CERT_MALFORMED', 'certificate public key does not parse', { structure, cause: e });
  }
  return {
    der,
    thumbprint: certificateThumbprint(der),
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    notBefore: isoTime(cert.notBefore, structure),
    notAfter: isoTime(cert.notAfter, structure),
    keyUsage: keyUsageOf(cert, structure),
    publicKey,
    ...describeKey(publicKey, structure),
  };
}

/** The members of a constructed element of a decoded tree. */
function members(el: asn1js.AsnType | undefined): asn1js.AsnType[] {
  const v = (el?.valueBlock as { value?: unknown } | undefined)?.value;
  return Array.isArray(v) ? (v as asn1js.AsnType[]) : [];
}

/** True for a context-specific `[n]` element. */
function isContextTag(el: asn1js.AsnType | undefined, n: number): boolean {
  return el !== undefined && el.idBlock.tagClass === 3 && el.idBlock.tagNumber === n;
}

/**
 * The subjectPublicKeyInfo exactly as stored (RFC 5280 §4.1: the sixth TBSCertificate field after
 * the optional `[0]` version). The key is taken from these bytes, not from pkijs's re-encoding of
 * its parsed copy, so the key used is the key the certificate's bytes (and so its thumbprint and
 * the signatures over it) carry.
 */
function storedSpki(tree: asn1js.AsnType, structure: string): Uint8Array {
  const tbs = members(members(tree)[0]);
  const el = tbs[(isContextTag(tbs[0], 0) ? 1 : 0) + 5];
  if (el === undefined)
    throw new FormatError('CERT_MALFORMED', 'certificate has no public key', { structure });
  return el.valueBeforeDecodeView.slice();
}

/*
 * Not refused: an explicit `[0] version` v1, an Extension's explicit `critical FALSE` and a
 * KeyUsage bit list with trailing zero bits. They are DEFAULT values written out and a named-bit
 * list left untrimmed (X.690 §11.5, §11.2.2) — not DER, but some real certificate tools emit them
 * and OpenSSL, Go's crypto/x509 and Windows accept them. Nothing here re-encodes a certificate:
 * the thumbprint, the signatures and the public key all come from the stored bytes, so such a
 * certificate is one exact byte string like any other, and only its key's holder can re-sign a
 * variant of it.
 */

function isoTime(t: pkijs.Time, structure: string): string {
  const ms = t.value instanceof Date ? t.value.getTime() : Number.NaN;
  if (!Number.isFinite(ms))
    throw new FormatError('CERT_MALFORMED', 'certificate validity is not a date', { structure });
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** RFC 5280 §4.2.1.3 KeyUsage bit names, bit 0 first. */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
/** One KeyUsage bit name. */
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

function keyUsageOf(cert: pkijs.Certificate, structure: string): KeyUsage[] | undefined {
  const ext = (cert.extensions ?? []).filter((e) => e.extnID === '2.5.29.15');
  if (ext.length === 0) return undefined;
  let bits: unknown;
  try {
    // pkijs decodes an extension's value lazily, on this first read, and lets asn1js's plain
    // Errors escape (a malformed time inside the OCTET STRING, say).
    bits = ext.length === 1 ? ext[0]!.parsedValue : undefined;
  } catch (e) {
    throw new FormatError('CERT_MALFORMED', 'KeyUsage extension does not decode', { structure, cause: e });
  }
  if (!(bits instanceof asn1js.BitString))
    throw new FormatError('CERT_MALFORMED', 'malformed or repeated KeyUsage extension', { structure });
  const v = bits.valueBlock.valueHexView;
  // Bits past the last used one are padding, whatever their value (X.690 §8.6.2.2; OpenSSL masks
  // them the same way): a set padding bit must not grant a usage.
  const used = v.length * 8 - bits.valueBlock.unusedBits;
  return KEY_USAGE_BITS.filter((_, i) => i < used && ((v[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0);
}

// Short names of RFC 4514 §3 plus the few others OpenSSL prints; other attributes show their OID.
const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/**
 * A name in certificate order, `CN=…, O=…` (the order OpenSSL prints), values escaped as RFC 4514
 * §2.4 says, control characters as `\XX` so that a hostile name cannot forge terminal output.
 * Values that are not strings print as `#` and their hex DER (RFC 4514 §2.4).
 */
function formatName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const key = ATTRIBUTE_NAMES[tv.type] ?? tv.type;
      const v = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      const text =
        typeof v === 'string'
          ? escapeValue(v)
          : `#${toHex(new Uint8Array((tv.value as asn1js.BaseBlock).toBER(false)))}`;
      return `${key}=${text}`;
    })
    .join(', ');
}

function escapeValue(v: string): string {
  return v
    .replace(/[\\,+"<>;]/g, (c) => `\\${c}`)
    .replace(/^[ #]|[ ]$/g, (c) => `\\${c}`)
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
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
