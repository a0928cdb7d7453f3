import { X509Certificate, createHash } from 'node:crypto';
import { FormatError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {
  type Asn1Value,
  asnTime,
  decodeBer,
  fromLibrary,
  isContext,
  sequenceOf,
  storedBytes,
  stringValue,
} from './asn1.js';
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
  /** subjectKeyIdentifier extension value, when present. */
  subjectKeyIdentifier?: Uint8Array;
  /** The certificate's signature algorithm OID (e.g. rsassaPss 1.2.840.113549.1.1.10). */
  signatureAlgorithm: string;
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
  const structure = 'Name';
  return formatRdns(
    fromLibrary(
      structure,
      'X509_MALFORMED',
      () => new pkijs.RelativeDistinguishedNames({ schema: decodeBer(nameRaw, structure) }),
    ),
  );
}

/** `C=US, O=…, CN=…` from a decoded Name, most significant RDN first. */
function formatRdns(rdns: pkijs.RelativeDistinguishedNames): string {
  return rdns.typesAndValues
    .map((atv) => `${NAME_KEYS[atv.type] ?? atv.type}=${stringValue(atv.value as Asn1Value)}`)
    .join(', ');
}

/** The stored bytes of a Name element (a SEQUENCE). */
function storedName(el: Asn1Value | undefined, structure: string): Uint8Array {
  sequenceOf(el, structure);
  return storedBytes(el as Asn1Value);
}

/**
 * The issuer, subject and validity of a decoded certificate tree, read from the tree itself: pkijs
 * keeps names as copies and times as rolled-over Dates, while matching and dbx lookups want the
 * stored bytes and validity wants the strict calendar check.
 */
function tbsFields(
  tree: Asn1Value,
  structure: string,
): { issuer: Uint8Array; subject: Uint8Array; validity: [Date, Date] } {
  const tbs = sequenceOf(sequenceOf(tree, structure)[0], structure);
  const at = isContext(tbs[0], 0) ? 1 : 0; // [0] version, serial, signature, issuer, validity, subject
  const v = sequenceOf(tbs[at + 3], structure);
  return {
    issuer: storedName(tbs[at + 2], structure),
    subject: storedName(tbs[at + 4], structure),
    validity: [asnTime(v[0], structure), asnTime(v[1], structure)],
  };
}

/**
 * An extension's decoded value. pkijs decodes it lazily, on first access of `parsedValue`, with a
 * plain asn1js call that can throw; the access is wrapped so that only typed errors escape.
 */
function extensionValue(ext: pkijs.Extension, structure: string): unknown {
  return fromLibrary(structure, 'X509_MALFORMED', () => ext.parsedValue as unknown);
}

/** Parses a DER certificate. Throws a {@link FormatError} (`X509_MALFORMED`) on bad input. */
export function parseCertificate(der: Uint8Array): Certificate {
  return certificateFromTree(decodeBer(der, 'X.509 certificate', true));
}

/** {@link parseCertificate} on an element already decoded (a certificate in a SignedData bag). */
export function certificateFromTree(tree: Asn1Value): Certificate {
  const structure = 'X.509 certificate';
  const raw = storedBytes(tree);
  const cert = fromLibrary(structure, 'X509_MALFORMED', () => new pkijs.Certificate({ schema: tree }));
  const fields = tbsFields(tree, structure);
  const [notBefore, notAfter] = fields.validity;
  let extKeyUsage: string[] | undefined;
  let isCA = false;
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID === OID.extKeyUsage) {
      const eku = extensionValue(ext, structure);
      if (!(eku instanceof pkijs.ExtKeyUsage))
        throw new FormatError('X509_MALFORMED', 'malformed extendedKeyUsage extension', { structure });
      extKeyUsage = [...eku.keyPurposes];
    } else if (ext.extnID === '2.5.29.19') {
      const bc = extensionValue(ext, structure);
      if (!(bc instanceof pkijs.BasicConstraints))
        throw new FormatError('X509_MALFORMED', 'malformed basicConstraints extension', { structure });
      isCA = bc.cA === true;
    }
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(raw);
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
  const serialEl = cert.serialNumber;
  const serialValue = serialEl.valueBlock.valueHexView;
  const serialBytes = serialValue.length > 1 && serialValue[0] === 0 ? serialValue.subarray(1) : serialValue;
  const issuerRaw = fields.issuer;
  const subjectRaw = fields.subject;
  const out: Certificate = {
    der: raw,
    tbs: cert.tbsView,
    serialRaw: storedBytes(serialEl),
    serial: Buffer.from(serialBytes).toString('hex').toUpperCase(),
    issuerRaw,
    subjectRaw,
    issuer: formatRdns(cert.issuer),
    subject: formatRdns(cert.subject),
    notBefore,
    notAfter,
    isCA,
    x509,
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
  };
  if (extKeyUsage !== undefined) out.extKeyUsage = extKeyUsage;
  const ski = cert.extensions?.find((e) => e.extnID === '2.5.29.14');
  if (ski) {
    // pkijs decodes the extension value (an OCTET STRING holding the key identifier).
    const v = extensionValue(ski, structure);
    if (!(v instanceof asn1js.OctetString) || v.error || v.idBlock.isConstructed)
      throw new FormatError('X509_MALFORMED', 'malformed subjectKeyIdentifier extension', { structure });
    out.subjectKeyIdentifier = v.valueBlock.valueHexView;
  }
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
