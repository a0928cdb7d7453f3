import { FormatError, LimitError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {
  type Asn1Value,
  AsnClass,
  bytesEqual,
  childrenOf,
  decodeBer,
  expectType,
  fromLibrary,
  isContext,
  isUniversal,
  octetsOf,
  oidOf,
  sequenceOf,
  smallInteger,
  storedBytes,
} from './asn1.js';
import { DEFAULT_PE_LIMITS } from './limits.js';
import { OID } from './oids.js';
import { type Certificate, certificateFromTree } from './x509.js';

/** A CMS Attribute (RFC 5652 §5.3): a type and its SET of values. */
export interface CmsAttribute {
  type: string;
  /** The decoded values (asn1js elements; {@link storedBytes} gives each one's stored bytes). */
  values: Asn1Value[];
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
  /** The signature algorithm's parameters (RSASSA-PSS-params for rsassaPss), when present. */
  signatureParameters?: Asn1Value;
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
  content?: Asn1Value;
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
  return signedDataFromTree(decodeBer(bytes, structure), structure);
}

/**
 * {@link parseSignedData} on an element already decoded (a nested signature or a timestamp token
 * inside an outer signature): each blob is decoded by asn1js once.
 */
export function signedDataFromTree(top: Asn1Value, structure = 'PKCS#7 SignedData'): SignedData {
  const kids = sequenceOf(top, structure);
  if (isUniversal(kids[0], 6)) {
    const ci = fromLibrary(structure, 'PKCS7_MALFORMED', () => new pkijs.ContentInfo({ schema: top }));
    if (ci.contentType !== OID.signedData) {
      throw new FormatError('PKCS7_NOT_SIGNED_DATA', `ContentInfo holds ${ci.contentType}, not SignedData`, {
        structure,
      });
    }
    return parseSignedDataSequence(ci.content as Asn1Value, structure);
  }
  return parseSignedDataSequence(top, structure);
}

function parseAttributes(
  attrs: pkijs.SignedAndUnsignedAttributes | undefined,
  structure: string,
): CmsAttribute[] {
  const list = attrs?.attributes ?? [];
  if (list.length > 256) throw new FormatError('DER_TOO_MANY', 'more than 256 attributes', { structure });
  return list.map((a) => {
    // pkijs leaves `values` undefined for an empty SET.
    const values = (a.values ?? []) as Asn1Value[];
    if (values.length > 256) throw new FormatError('DER_TOO_MANY', 'more than 256 values', { structure });
    return { type: a.type, values };
  });
}

/** Parses one SignerInfo (RFC 5652 §5.3) with pkijs, keeping the stored signed-attribute bytes. */
export function parseSignerInfo(el: Asn1Value, structure: string): SignerInfo {
  const si = fromLibrary(structure, 'PKCS7_MALFORMED', () => new pkijs.SignerInfo({ schema: el }));
  const out: SignerInfo = {
    version: si.version,
    digestAlgorithm: si.digestAlgorithm.algorithmId,
    signatureAlgorithm: si.signatureAlgorithm.algorithmId,
    signature: octetsOf(si.signature, structure),
    unsignedAttrs: parseAttributes(si.unsignedAttrs, structure),
    raw: storedBytes(el),
  };
  if (!Number.isSafeInteger(out.version) || out.version < 0)
    throw new FormatError('DER_MALFORMED', 'SignerInfo version out of range', { structure });
  if (si.sid instanceof pkijs.IssuerAndSerialNumber) {
    // The stored Name (a view into the input; pkijs keeps a copy) for byte comparison.
    out.issuerRaw = storedBytes(sequenceOf(sequenceOf(el, structure)[1], structure)[0]!);
    out.serialRaw = storedBytes(si.sid.serialNumber);
  } else if (isContext(si.sid as Asn1Value, 0) && !(si.sid as Asn1Value).idBlock.isConstructed) {
    out.subjectKeyIdentifier = (si.sid as asn1js.Primitive).valueBlock.valueHexView;
  } else {
    throw new FormatError('PKCS7_BAD_SID', 'SignerInfo has no usable signer identifier', { structure });
  }
  const params = si.signatureAlgorithm.algorithmParams as Asn1Value | undefined;
  if (params !== undefined && !isUniversal(params, 5)) out.signatureParameters = params;
  if (si.signedAttrs) {
    out.signedAttrs = parseAttributes(si.signedAttrs, structure);
    // pkijs keeps the stored [0] IMPLICIT bytes re-tagged as a SET (0x31): what the signature
    // covers per RFC 5652 §5.4 ("the IMPLICIT [0] tag is not used for the DER encoding").
    out.signedAttrsDer = new Uint8Array(si.signedAttrs.encodedValue);
  }
  return out;
}

/**
 * The SignedData frame is walked here rather than handed whole to pkijs.SignedData: a certificate
 * bag entry that is not an X.509 certificate (or that the X.509 decoder rejects) is counted and
 * skipped, as firmware does, instead of making the whole signature undecodable.
 */
function parseSignedDataSequence(el: Asn1Value | undefined, structure: string): SignedData {
  const f = sequenceOf(el, structure);
  let i = 0;
  const version = smallInteger(f[i++], structure);
  const digestAlgorithms = childrenOf(expectType(f[i++], asn1js.Set, structure), structure, 16).map((a) =>
    oidOf(sequenceOf(a, structure)[0], structure),
  );
  const eciEl = f[i++];
  sequenceOf(eciEl, structure);
  const eci = fromLibrary(
    structure,
    'PKCS7_MALFORMED',
    () => new pkijs.EncapsulatedContentInfo({ schema: eciEl }),
  );
  const certificates: Certificate[] = [];
  let unparsedCertificates = 0;
  const max = DEFAULT_PE_LIMITS.maxCertificatesPerSignature;
  while (isContext(f[i], 0) || isContext(f[i], 1)) {
    const bag = f[i++]!;
    if (bag.idBlock.tagNumber !== 0) continue; // [1] CRLs: Authenticode never relies on them
    for (const c of childrenOf(bag, structure, max + 1)) {
      if (certificates.length + unparsedCertificates >= max)
        throw new LimitError('PKCS7_TOO_MANY_CERTIFICATES', `more than ${max} certificates`, { structure });
      if (!isUniversal(c, 16) || c.idBlock.tagClass !== AsnClass.universal) {
        unparsedCertificates++; // attribute or other certificate formats
        continue;
      }
      try {
        certificates.push(certificateFromTree(c));
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        unparsedCertificates++;
      }
    }
  }
  const signerInfos = childrenOf(expectType(f[i], asn1js.Set, structure), structure, 16).map((s) =>
    parseSignerInfo(s, structure),
  );
  const out: SignedData = {
    version,
    digestAlgorithms,
    contentType: eci.eContentType,
    certificates,
    unparsedCertificates,
    signerInfos,
    raw: storedBytes(el as Asn1Value),
  };
  if (eci.eContent !== undefined) out.content = eci.eContent as Asn1Value;
  return out;
}

/** The first value of the attribute `type`, if present. */
export function attribute(attrs: CmsAttribute[] | undefined, type: string): Asn1Value | undefined {
  return attrs?.find((a) => a.type === type)?.values[0];
}

/** Finds the certificate a SignerInfo names, in `certs`. */
export function findSignerCertificate(si: SignerInfo, certs: Certificate[]): Certificate | undefined {
  if (si.issuerRaw && si.serialRaw) {
    const issuer = si.issuerRaw;
    const serial = si.serialRaw;
    return certs.find((c) => bytesEqual(issuer, c.issuerRaw) && bytesEqual(serial, c.serialRaw));
  }
  if (si.subjectKeyIdentifier) {
    const want = si.subjectKeyIdentifier;
    return certs.find(
      (c) => c.subjectKeyIdentifier !== undefined && bytesEqual(c.subjectKeyIdentifier, want),
    );
  }
  return undefined;
}
