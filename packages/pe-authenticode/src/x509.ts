import { X509Certificate, createHash } from 'node:crypto';
import { FormatError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import {
  type Asn1Value,
  asnTime,
  childrenOf,
  decodeBer,
  expectType,
  isContext,
  octetsOf,
  oidOf,
  sequenceOf,
  smallInteger,
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
  /** basicConstraints pathLenConstraint, when present: most intermediates allowed below this CA. */
  pathLength?: number;
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
  return formatNameTree(decodeBer(nameRaw, 'Name'), 'Name');
}

/**
 * `C=US, O=…, CN=…` from a decoded Name (RFC 5280 §4.1.2.4: SEQUENCE OF RelativeDistinguishedName,
 * each a SET OF AttributeTypeAndValue), most significant RDN first; the members of a multi-valued
 * RDN are listed in stored order.
 */
function formatNameTree(name: Asn1Value, structure: string): string {
  const parts: string[] = [];
  for (const rdn of sequenceOf(name, structure, MAX_NAME_ATTRIBUTES)) {
    for (const atv of childrenOf(expectType(rdn, asn1js.Set, structure), structure, MAX_NAME_ATTRIBUTES)) {
      const [type, value] = sequenceOf(atv, structure, 2);
      if (value === undefined)
        throw new FormatError('X509_MALFORMED', 'AttributeTypeAndValue without a value', { structure });
      const oid = oidOf(type, structure);
      parts.push(`${NAME_KEYS[oid] ?? oid}=${stringValue(value)}`);
      if (parts.length > MAX_NAME_ATTRIBUTES)
        throw new FormatError('X509_MALFORMED', `more than ${MAX_NAME_ATTRIBUTES} name attributes`, {
          structure,
        });
    }
  }
  return parts.join(', ');
}

/** Bound on the attributes of one Name (real names have a handful). */
const MAX_NAME_ATTRIBUTES = 64;

/** The fields of a certificate tree, read from the tree itself (RFC 5280 §4.1). */
interface CertificateFields {
  tbs: Asn1Value;
  serial: asn1js.Integer;
  issuer: Asn1Value;
  subject: Asn1Value;
  validity: [Date, Date];
  signatureAlgorithm: string;
  /** The Extension SEQUENCEs of `[3] EXPLICIT Extensions`, empty when absent. */
  extensions: Asn1Value[];
}

/**
 * Reads the certificate fields straight from the decoded tree. The structure is checked here only
 * as far as these fields need; the complete check of the certificate's shape is OpenSSL's X.509
 * decoder ({@link certificateFromTree} builds a node `X509Certificate` for every certificate).
 * Mapping the tree onto pkijs.Certificate as well was a second full schema pass over every
 * certificate (asn1js compareSchema plus one pkijs object per Name, AlgorithmIdentifier,
 * Extension…), the largest cost of decoding a signature after the BER decode itself.
 */
function certificateFields(tree: Asn1Value, structure: string): CertificateFields {
  const top = sequenceOf(tree, structure);
  const tbs = top[0];
  const f = sequenceOf(tbs, structure);
  const at = isContext(f[0], 0) ? 1 : 0; // [0] version, serial, signature, issuer, validity, subject, spki, …
  const v = sequenceOf(f[at + 3], structure);
  const extensions: Asn1Value[] = [];
  for (let i = at + 6; i < f.length; i++) {
    if (!isContext(f[i], 3)) continue; // [1]/[2] unique identifiers
    const [exts] = childrenOf(f[i], structure, 1);
    extensions.push(...sequenceOf(exts, structure, 1024));
  }
  return {
    tbs: tbs as Asn1Value,
    serial: expectType(f[at], asn1js.Integer, structure),
    issuer: storedName(f[at + 2], structure),
    subject: storedName(f[at + 4], structure),
    validity: [asnTime(v[0], structure), asnTime(v[1], structure)],
    signatureAlgorithm: oidOf(sequenceOf(top[1], structure)[0], structure),
    extensions,
  };
}

/** A Name element (a SEQUENCE), checked. */
function storedName(el: Asn1Value | undefined, structure: string): Asn1Value {
  sequenceOf(el, structure);
  return el as Asn1Value;
}

/**
 * The value of an Extension (RFC 5280 §4.1: `SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
 * extnValue OCTET STRING }`), decoded by asn1js. Only the three extensions the policy checks read
 * are decoded, each straight into what is kept: pkijs.Extension would first match the Extension
 * schema and then build a pkijs object for the value, two more passes for a few fields. Any
 * failure is `X509_MALFORMED`.
 */
function extensionValue(ext: Asn1Value, structure: string): Asn1Value {
  const kids = sequenceOf(ext, structure, 3);
  return withCode(() => decodeBer(octetsOf(kids[kids.length - 1], structure), structure));
}

/**
 * Runs `fn`, reporting any FormatError it throws as `X509_MALFORMED`, the code the API documents.
 * The message already names its structure (and an offset inside it): it is kept as it is, not
 * suffixed a second time.
 */
function withCode<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof FormatError) || e.code === 'X509_MALFORMED') throw e;
    throw new FormatError(
      'X509_MALFORMED',
      e.message,
      e.structure === undefined ? { structure: 'X.509 certificate', cause: e } : { cause: e },
    );
  }
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (RFC 5280 §4.2.1.12). */
function extKeyUsageOf(ext: Asn1Value, structure: string): string[] {
  return withCode(() =>
    sequenceOf(extensionValue(ext, structure), structure, 256).map((p) => oidOf(p, structure)),
  );
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } (§4.2.1.9). */
function basicConstraints(ext: Asn1Value, structure: string): { ca: boolean; pathLength?: number } {
  return withCode(() => {
    const f = sequenceOf(extensionValue(ext, structure), structure, 2);
    const ca = f[0] instanceof asn1js.Boolean ? f[0] : undefined;
    const rest = ca ? f.slice(1) : f;
    if (rest.length > 1 || (rest[0] !== undefined && !(rest[0] instanceof asn1js.Integer)))
      throw new FormatError('X509_MALFORMED', 'malformed basicConstraints extension', { structure });
    const isCa = ca !== undefined && expectType(ca, asn1js.Boolean, structure).getValue();
    if (rest[0] === undefined) return { ca: isCa };
    // smallInteger refuses a negative or oversized value (a malformed certificate).
    return { ca: isCa, pathLength: smallInteger(rest[0], structure) };
  });
}

/** SubjectKeyIdentifier ::= KeyIdentifier (OCTET STRING) (§4.2.1.2). */
function subjectKeyIdentifierOf(ext: Asn1Value, structure: string): Uint8Array {
  return withCode(() => {
    const v = extensionValue(ext, structure);
    if (v.idBlock.isConstructed)
      throw new FormatError('X509_MALFORMED', 'malformed subjectKeyIdentifier extension', { structure });
    return octetsOf(v, structure);
  });
}

/** Parses a DER certificate. Throws a {@link FormatError} (`X509_MALFORMED`) on bad input. */
export function parseCertificate(der: Uint8Array): Certificate {
  return certificateFromTree(decodeBer(der, 'X.509 certificate', true));
}

/** {@link parseCertificate} on an element already decoded (a certificate in a SignedData bag). */
export function certificateFromTree(tree: Asn1Value): Certificate {
  const structure = 'X.509 certificate';
  const raw = storedBytes(tree);
  const fields = withCode(() => certificateFields(tree, structure));
  const [notBefore, notAfter] = fields.validity;
  let extKeyUsage: string[] | undefined;
  let isCA = false;
  let pathLength: number | undefined;
  let subjectKeyIdentifier: Uint8Array | undefined;
  // Only the three extensions the policy checks read are decoded; OpenSSL's decoder (below) checks
  // the Extension frames of all of them.
  for (const ext of fields.extensions) {
    const id = withCode(() => oidOf(sequenceOf(ext, structure)[0], structure));
    if (id === OID.extKeyUsage) extKeyUsage = extKeyUsageOf(ext, structure);
    else if (id === '2.5.29.19') {
      const bc = basicConstraints(ext, structure);
      isCA = bc.ca;
      pathLength = bc.pathLength;
    } else if (id === '2.5.29.14' && subjectKeyIdentifier === undefined)
      subjectKeyIdentifier = subjectKeyIdentifierOf(ext, structure);
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
  const serialValue = fields.serial.valueBlock.valueHexView;
  const serialBytes = serialValue.length > 1 && serialValue[0] === 0 ? serialValue.subarray(1) : serialValue;
  const out: Certificate = {
    der: raw,
    tbs: storedBytes(fields.tbs),
    serialRaw: storedBytes(fields.serial),
    serial: Buffer.from(serialBytes).toString('hex').toUpperCase(),
    issuerRaw: storedBytes(fields.issuer),
    subjectRaw: storedBytes(fields.subject),
    issuer: formatNameTree(fields.issuer, structure),
    subject: formatNameTree(fields.subject, structure),
    notBefore,
    notAfter,
    isCA,
    ...(pathLength === undefined ? {} : { pathLength }),
    x509,
    signatureAlgorithm: fields.signatureAlgorithm,
  };
  if (extKeyUsage !== undefined) out.extKeyUsage = extKeyUsage;
  if (subjectKeyIdentifier !== undefined) out.subjectKeyIdentifier = subjectKeyIdentifier;
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
