import { FormatError, LimitError } from '@lsvm/core';
import {
  type DerElement,
  Tag,
  TagClass,
  children,
  decodeOid,
  expectTag,
  integerSmall,
  parseDer,
  sequence,
} from './der.js';
import { DEFAULT_PE_LIMITS } from './limits.js';
import { OID } from './oids.js';
import { type Certificate, parseCertificate } from './x509.js';

/** A CMS Attribute (RFC 5652 §5.3): a type and its SET of values. */
export interface CmsAttribute {
  type: string;
  values: DerElement[];
}

/** SignerInfo (RFC 5652 §5.3). */
export interface SignerInfo {
  version: number;
  /** IssuerAndSerialNumber: the issuer Name DER (version 1). */
  issuerRaw?: Uint8Array;
  /** IssuerAndSerialNumber: the serial INTEGER TLV (version 1). */
  serialRaw?: Uint8Array;
  /** SubjectKeyIdentifier (version 3 `[0]`). */
  subjectKeyIdentifier?: Uint8Array;
  /** Digest algorithm OID. */
  digestAlgorithm: string;
  /** The signed attributes, when present. */
  signedAttrs?: CmsAttribute[];
  /**
   * The DER the signature covers: the signed attributes re-tagged as a SET (0x31), per RFC 5652
   * §5.4 — "the IMPLICIT [0] tag is not used for the DER encoding".
   */
  signedAttrsDer?: Uint8Array;
  /** Signature algorithm OID. */
  signatureAlgorithm: string;
  signature: Uint8Array;
  unsignedAttrs: CmsAttribute[];
  /** The whole SignerInfo DER. */
  raw: Uint8Array;
}

/** SignedData (RFC 5652 §5.1) with its encapsulated content left as an ASN.1 element. */
export interface SignedData {
  version: number;
  digestAlgorithms: string[];
  /** eContentType. */
  contentType: string;
  /** The element inside `[0] EXPLICIT` eContent, when present (absent for detached signatures). */
  content?: DerElement;
  certificates: Certificate[];
  /** Certificates in the bag that could not be decoded (kept for diagnosis, not used). */
  unparsedCertificates: number;
  signerInfos: SignerInfo[];
  /** The DER of the SignedData SEQUENCE itself. */
  raw: Uint8Array;
}

/**
 * Parses a PKCS#7 blob: a ContentInfo wrapping SignedData (what WIN_CERTIFICATE carries) or, as
 * UEFI authenticated variables allow, a bare SignedData. Trailing zero padding is tolerated.
 */
export function parseSignedData(bytes: Uint8Array, structure = 'PKCS#7 SignedData'): SignedData {
  const top = parseDer(bytes, structure);
  const kids = sequence(top, structure);
  if (kids[0]?.tag === Tag.oid && kids[0].cls === TagClass.universal) {
    const ct = decodeOid(kids[0], structure);
    if (ct !== OID.signedData) {
      throw new FormatError('PKCS7_NOT_SIGNED_DATA', `ContentInfo holds ${ct}, not SignedData`, {
        structure,
      });
    }
    const wrapped = expectTag(kids[1], 0, structure, TagClass.context);
    return parseSignedDataSequence(children(wrapped, structure)[0], structure);
  }
  return parseSignedDataSequence(top, structure);
}

function parseAttributes(el: DerElement, structure: string): CmsAttribute[] {
  return children(el, structure, 256).map((a) => {
    const f = sequence(a, structure);
    const values = children(expectTag(f[1], Tag.set, structure), structure, 256);
    return { type: decodeOid(f[0], structure), values };
  });
}

export function parseSignerInfo(el: DerElement, structure: string): SignerInfo {
  const f = sequence(el, structure);
  let i = 0;
  const version = integerSmall(f[i++], structure);
  const sid = f[i++];
  const out: Partial<SignerInfo> = { version, raw: el.raw, unsignedAttrs: [] };
  if (sid?.tag === Tag.sequence && sid.cls === TagClass.universal) {
    const s = sequence(sid, structure);
    out.issuerRaw = expectTag(s[0], Tag.sequence, structure).raw;
    out.serialRaw = expectTag(s[1], Tag.integer, structure).raw;
  } else if (sid?.cls === TagClass.context && sid.tag === 0) {
    out.subjectKeyIdentifier = sid.value;
  } else {
    throw new FormatError('PKCS7_BAD_SID', 'SignerInfo has no usable signer identifier', { structure });
  }
  out.digestAlgorithm = decodeOid(sequence(f[i++], structure)[0], structure);
  if (f[i]?.cls === TagClass.context && f[i]!.tag === 0) {
    const sa = f[i++]!;
    out.signedAttrs = parseAttributes(sa, structure);
    const der = sa.raw.slice();
    der[0] = 0x31;
    out.signedAttrsDer = der;
  }
  out.signatureAlgorithm = decodeOid(sequence(f[i++], structure)[0], structure);
  out.signature = expectTag(f[i++], Tag.octetString, structure).value;
  if (f[i]?.cls === TagClass.context && f[i]!.tag === 1)
    out.unsignedAttrs = parseAttributes(f[i]!, structure);
  return out as SignerInfo;
}

function parseSignedDataSequence(el: DerElement | undefined, structure: string): SignedData {
  const f = sequence(el, structure);
  let i = 0;
  const version = integerSmall(f[i++], structure);
  const digestAlgorithms = children(expectTag(f[i++], Tag.set, structure), structure, 16).map((a) =>
    decodeOid(sequence(a, structure)[0], structure),
  );
  const eci = sequence(f[i++], structure);
  const contentType = decodeOid(eci[0], structure);
  let content: DerElement | undefined;
  if (eci[1] !== undefined) {
    const wrapped = expectTag(eci[1], 0, structure, TagClass.context);
    content = children(wrapped, structure)[0];
  }
  const certificates: Certificate[] = [];
  let unparsedCertificates = 0;
  const max = DEFAULT_PE_LIMITS.maxCertificatesPerSignature;
  while (f[i]?.cls === TagClass.context && (f[i]!.tag === 0 || f[i]!.tag === 1)) {
    const bag = f[i++]!;
    if (bag.tag !== 0) continue; // [1] CRLs: Authenticode never relies on them
    for (const c of children(bag, structure, max + 1)) {
      if (certificates.length + unparsedCertificates >= max)
        throw new LimitError('PKCS7_TOO_MANY_CERTIFICATES', `more than ${max} certificates`, { structure });
      if (c.tag !== Tag.sequence || c.cls !== TagClass.universal) {
        unparsedCertificates++; // attribute or other certificate formats
        continue;
      }
      try {
        certificates.push(parseCertificate(c.raw));
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        unparsedCertificates++;
      }
    }
  }
  const signerInfos = children(expectTag(f[i], Tag.set, structure), structure, 16).map((s) =>
    parseSignerInfo(s, structure),
  );
  const out: SignedData = {
    version,
    digestAlgorithms,
    contentType,
    certificates,
    unparsedCertificates,
    signerInfos,
    raw: (el as DerElement).raw,
  };
  if (content !== undefined) out.content = content;
  return out;
}

/** The first value of the attribute `type`, if present. */
export function attribute(attrs: CmsAttribute[] | undefined, type: string): DerElement | undefined {
  return attrs?.find((a) => a.type === type)?.values[0];
}

/** Finds the certificate a SignerInfo names, in `certs`. */
export function findSignerCertificate(si: SignerInfo, certs: Certificate[]): Certificate | undefined {
  if (si.issuerRaw && si.serialRaw) {
    const issuer = Buffer.from(si.issuerRaw);
    const serial = Buffer.from(si.serialRaw);
    return certs.find((c) => issuer.equals(c.issuerRaw) && serial.equals(c.serialRaw));
  }
  if (si.subjectKeyIdentifier) {
    const want = Buffer.from(si.subjectKeyIdentifier);
    return certs.find((c) => subjectKeyId(c)?.equals(want) ?? false);
  }
  return undefined;
}

/** SubjectKeyIdentifier extension value of a certificate, when present. */
export function subjectKeyId(c: Certificate): Buffer | undefined {
  const top = sequence(parseDer(c.der, 'X.509 certificate'), 'X.509 certificate');
  const tbs = sequence(top[0], 'X.509 certificate');
  for (const e of tbs) {
    if (e.cls !== TagClass.context || e.tag !== 3) continue;
    for (const ext of children(children(e)[0]!)) {
      const f = sequence(ext, 'X.509 extension');
      if (decodeOid(f[0]) === '2.5.29.14') {
        const v = parseDer(expectTag(f[f.length - 1], Tag.octetString, 'X.509 extension').value);
        return Buffer.from(v.value);
      }
    }
  }
  return undefined;
}
