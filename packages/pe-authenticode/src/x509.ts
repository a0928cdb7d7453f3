import { X509Certificate, createHash } from 'node:crypto';
import { FormatError } from '@lsvm/core';
import {
  type DerElement,
  Tag,
  TagClass,
  children,
  decodeOid,
  decodeString,
  decodeTime,
  expectTag,
  parseDer,
  readElement,
  sequence,
} from './der.js';
import { OID } from './oids.js';
import { pemBodies } from './pem.js';

/**
 * An X.509 certificate (RFC 5280) as the signature code needs it: the raw encodings that
 * matching and dbx lookups compare (issuer, subject, serial, TBSCertificate), the extensions that
 * policy checks read, and Node's `X509Certificate` for the public key and signature checks.
 */
export interface Certificate {
  /** The whole DER certificate. */
  der: Uint8Array;
  /** The DER TBSCertificate (what EFI_CERT_X509_SHA256 entries in dbx hash). */
  tbs: Uint8Array;
  /** The serial number INTEGER, whole TLV (as IssuerAndSerialNumber carries it). */
  serialRaw: Uint8Array;
  /** Serial number as upper-case hex without leading zero octets. */
  serial: string;
  /** DER Name of the issuer. */
  issuerRaw: Uint8Array;
  /** DER Name of the subject. */
  subjectRaw: Uint8Array;
  /** Issuer in RFC 4514-like form, most significant RDN first (`C=US, O=…, CN=…`). */
  issuer: string;
  /** Subject in the same form. */
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** Extended key usage OIDs, undefined when the extension is absent. */
  extKeyUsage?: string[];
  /** basicConstraints cA. */
  isCA: boolean;
  /** Node's view, for the public key and signature checks. */
  x509: X509Certificate;
}

const NAME_KEYS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

/** Formats a DER Name. */
export function formatName(nameRaw: Uint8Array): string {
  const parts: string[] = [];
  for (const rdn of children(parseDer(nameRaw, 'Name'), 'Name')) {
    for (const atv of children(rdn, 'Name')) {
      const [t, v] = sequence(atv, 'Name');
      const oid = decodeOid(t, 'Name');
      parts.push(`${NAME_KEYS[oid] ?? oid}=${v ? decodeString(v) : ''}`);
    }
  }
  return parts.join(', ');
}

/** Parses a DER certificate. Throws a {@link FormatError} (`X509_MALFORMED`) on bad input. */
export function parseCertificate(der: Uint8Array): Certificate {
  const structure = 'X.509 certificate';
  const el = readElement(der, 0, structure);
  const top = sequence(el, structure);
  const tbsEl = top[0];
  const tbs = sequence(tbsEl, structure);
  let i = 0;
  if (tbs[0]?.cls === TagClass.context && tbs[0].tag === 0) i++; // [0] version
  const serialEl = expectTag(tbs[i++], Tag.integer, structure);
  i++; // signature AlgorithmIdentifier
  const issuerEl = expectTag(tbs[i++], Tag.sequence, structure);
  const validity = sequence(tbs[i++], structure);
  const subjectEl = expectTag(tbs[i++], Tag.sequence, structure);
  let extKeyUsage: string[] | undefined;
  let isCA = false;
  for (const e of tbs.slice(i)) {
    if (e.cls !== TagClass.context || e.tag !== 3) continue;
    for (const ext of children(expectTag(children(e, structure)[0], Tag.sequence, structure), structure)) {
      const f = sequence(ext, structure);
      const id = decodeOid(f[0], structure);
      const valueEl = f[f.length - 1];
      const value = expectTag(valueEl, Tag.octetString, structure).value;
      if (id === OID.extKeyUsage) {
        extKeyUsage = children(parseDer(value, structure), structure).map((o) => decodeOid(o, structure));
      } else if (id === '2.5.29.19') {
        const bc = sequence(parseDer(value, structure), structure);
        isCA = bc[0]?.tag === Tag.boolean && bc[0].value[0] !== 0;
      }
    }
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(el.raw);
  } catch (e) {
    throw new FormatError(
      'X509_MALFORMED',
      `certificate rejected by the X.509 decoder: ${(e as Error).message}`,
      {
        structure,
        cause: e,
      },
    );
  }
  const serialBytes =
    serialEl.value.length > 1 && serialEl.value[0] === 0 ? serialEl.value.subarray(1) : serialEl.value;
  const out: Certificate = {
    der: el.raw,
    tbs: (tbsEl as DerElement).raw,
    serialRaw: serialEl.raw,
    serial: Buffer.from(serialBytes).toString('hex').toUpperCase(),
    issuerRaw: issuerEl.raw,
    subjectRaw: subjectEl.raw,
    issuer: formatName(issuerEl.raw),
    subject: formatName(subjectEl.raw),
    notBefore: decodeTime(validity[0], structure),
    notAfter: decodeTime(validity[1], structure),
    isCA,
    x509,
  };
  if (extKeyUsage !== undefined) out.extKeyUsage = extKeyUsage;
  return out;
}

/** Parses a certificate from DER or PEM (the first CERTIFICATE block). */
export function parseCertificatePemOrDer(bytes: Uint8Array): Certificate {
  return parseCertificate(pemOrDer(bytes, 'CERTIFICATE'));
}

/** Returns DER from PEM (the first block of `label`) or the bytes unchanged when not PEM. */
export function pemOrDer(bytes: Uint8Array, label: string): Uint8Array {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 1 << 20)));
  return pemBodies(head, label)[0] ?? bytes;
}

/** Every PEM certificate block in `text`, as DER. */
export function pemCertificates(bytes: Uint8Array): Uint8Array[] {
  return pemBodies(new TextDecoder('latin1').decode(bytes), 'CERTIFICATE');
}

/** SHA-256 of the DER certificate (the usual fingerprint), lower-case hex. */
export function fingerprint256(c: Certificate): string {
  return createHash('sha256').update(c.der).digest('hex');
}

/** True when `issuer` signed `subject` (names match and the signature verifies). */
export function issuedBy(subject: Certificate, issuer: Certificate): boolean {
  if (!Buffer.from(subject.issuerRaw).equals(Buffer.from(issuer.subjectRaw))) return false;
  try {
    return subject.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}
