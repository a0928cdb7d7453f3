import { type KeyObject, constants, createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { FormatError, UsageError } from '@lsvm/core';
import { align8, encodeWinCertificate } from './certificate-table.js';
import { updatePeChecksum } from './checksum.js';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {
  type Asn1Value,
  contentOctets,
  decodeBer,
  derSetOf,
  embed,
  storedBytes,
  timeValue,
  toDer,
} from './asn1.js';
import { DIGEST_LENGTHS, type DigestAlgorithm, authenticodeDigest } from './digest.js';
import { OID, OID_BY_DIGEST } from './oids.js';
import { CERTIFICATE_TABLE_INDEX } from './optional-header.js';
import { type PeImage, parsePe } from './pe-image.js';
import { hashBytes } from './signer-check.js';
import { rsaPssAlgorithm } from './rsa-pss.js';
import { spcIndirectDataTree } from './spc.js';
import type { Certificate } from './x509.js';

/** A signing key: a Node KeyObject, or PEM / DER PKCS#8 (also PKCS#1 and SEC1 PEM). */
export type SigningKey = KeyObject | string | Uint8Array;

/** Loads a private key from PEM (any of PKCS#8, PKCS#1, SEC1) or DER PKCS#8. */
export function loadPrivateKey(key: SigningKey): KeyObject {
  if (typeof key === 'object' && !(key instanceof Uint8Array)) return key;
  try {
    if (typeof key === 'string') return createPrivateKey(key);
    const text = new TextDecoder('latin1').decode(key.subarray(0, 64));
    if (text.includes('-----BEGIN')) return createPrivateKey(Buffer.from(key));
    return createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new FormatError(
      'KEY_MALFORMED',
      'the private key could not be loaded (PEM or DER PKCS#8 expected)',
      {
        structure: 'private key',
        cause: e,
      },
    );
  }
}

/** Options common to the CMS signers of this package. */
export interface CmsSignerOptions {
  /** The signer's certificate. */
  certificate: Certificate;
  /** Its private key (RSA or EC). */
  key: SigningKey;
  /** Extra certificates to carry (intermediates). */
  chain?: Certificate[];
  /** Digest algorithm for the signature and, for images, the Authenticode digest. Default sha256. */
  algorithm?: DigestAlgorithm;
  /**
   * Sign with RSASSA-PSS (RFC 8017 §8.1) instead of PKCS#1 v1.5: hash and MGF1 hash `algorithm`,
   * salt as long as the hash (32 bytes for SHA-256), trailer field 1. RSA keys only; an
   * `rsa-pss` key always signs with PSS.
   */
  pss?: boolean;
}

/** Signs `data` with the key, returning the signature AlgorithmIdentifier and value. */
export function rawSign(
  key: KeyObject,
  alg: DigestAlgorithm,
  data: Uint8Array,
  options: { pss?: boolean } = {},
): { algorithm: pkijs.AlgorithmIdentifier; value: Uint8Array } {
  const type = key.asymmetricKeyType;
  if ((type === 'rsa' && options.pss) || type === 'rsa-pss') {
    const algorithm = rsaPssAlgorithm(alg);
    const saltLength = DIGEST_LENGTHS[alg];
    const value = cryptoSign(alg, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    return { algorithm, value: new Uint8Array(value) };
  }
  if (type === 'rsa') {
    // rsaEncryption with NULL parameters: what signtool, sbsign and osslsigncode write.
    return {
      algorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID.rsaEncryption,
        algorithmParams: new asn1js.Null(),
      }),
      value: new Uint8Array(cryptoSign(alg, data, key)),
    };
  }
  if (type === 'ec') {
    const oid = {
      sha1: OID.ecdsaWithSha1,
      sha256: OID.ecdsaWithSha256,
      sha384: OID.ecdsaWithSha384,
      sha512: OID.ecdsaWithSha512,
    }[alg];
    return {
      algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: oid }),
      value: new Uint8Array(cryptoSign(alg, data, { key, dsaEncoding: 'der' })),
    };
  }
  throw new UsageError('SIGN_KEY_TYPE', `unsupported key type ${type ?? 'unknown'} (RSA or EC expected)`);
}

/** A CMS Attribute (RFC 5652 §5.3) with one value. */
function attr(type: string, value: Asn1Value): pkijs.Attribute {
  return new pkijs.Attribute({ type, values: [value] });
}

/** A DigestAlgorithmIdentifier with NULL parameters, as signtool and OpenSSL write it. */
function digestAlgorithmId(alg: DigestAlgorithm): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({
    algorithmId: OID_BY_DIGEST[alg],
    algorithmParams: new asn1js.Null(),
  });
}

/** Extra signed attributes for {@link buildSignedData}: pkijs Attributes. */
export type SignedAttribute = pkijs.Attribute;

/**
 * Builds a CMS SignedData (RFC 5652 §5) wrapped in ContentInfo, with pkijs.
 * @param eContentType the encapsulated content type
 * @param eContent the content placed in `[0] EXPLICIT` (omit for a detached signature)
 * @param digested the bytes the messageDigest attribute covers
 * @param signedAttrs extra signed attributes (contentType and messageDigest are added here);
 *   `null` for a signature without signed attributes (directly over `digested`)
 */
export function buildSignedData(
  o: CmsSignerOptions,
  eContentType: string,
  eContent: Asn1Value | undefined,
  digested: Uint8Array,
  signedAttrs: SignedAttribute[] | null,
): Uint8Array {
  const alg = o.algorithm ?? 'sha256';
  const key = loadPrivateKey(o.key);
  let toSign: Uint8Array = digested;
  let signedAttributes: pkijs.SignedAndUnsignedAttributes | undefined;
  if (signedAttrs !== null) {
    const all = [
      attr(OID.contentType, new asn1js.ObjectIdentifier({ value: eContentType })),
      attr(OID.messageDigest, new asn1js.OctetString({ valueHex: hashBytes(alg, digested) })),
      ...signedAttrs,
    ];
    // DER order (X.690 §11.6): the signature covers the sorted SET, which is also what OpenSSL
    // re-encodes when it checks; pkijs writes attributes in the order given, so sort them first.
    const set = derSetOf(all.map((a) => a.toSchema()));
    toSign = toDer(set);
    const sorted = (set.valueBlock.value as Asn1Value[]).map((v) => new pkijs.Attribute({ schema: v }));
    signedAttributes = new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted });
  }
  const sig = rawSign(key, alg, toSign, { pss: o.pss === true });
  const c = o.certificate;
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({
      issuer: new pkijs.RelativeDistinguishedNames({ schema: embed(c.issuerRaw, 'Name') }),
      serialNumber: embed(c.serialRaw, 'INTEGER') as asn1js.Integer,
    }),
    digestAlgorithm: digestAlgorithmId(alg),
    signatureAlgorithm: sig.algorithm,
    signature: new asn1js.OctetString({ valueHex: sig.value }),
    ...(signedAttributes ? { signedAttrs: signedAttributes } : {}),
  });
  const certs = [c, ...(o.chain ?? [])];
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [digestAlgorithmId(alg)],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType,
      ...(eContent !== undefined ? { eContent: eContent as asn1js.OctetString } : {}),
    }),
    signerInfos: [signerInfo],
  });
  const sdSchema = signedData.toSchema() as asn1js.Sequence;
  // pkijs applies RFC 5652 §5.1 and writes version 3 for any eContentType but id-data; Authenticode
  // keeps PKCS#7 v1.5's version 1 (signtool, sbsign and osslsigncode write 1, and the issue's
  // "as real signers build it" asks for the same).
  sdSchema.valueBlock.value[0] = new asn1js.Integer({ value: 1 });
  // The certificates go in exactly as stored: pkijs would re-encode them from their parsed form.
  const bag = new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: certs.map((x) => embed(x.der, 'X.509 certificate')),
  });
  sdSchema.valueBlock.value.splice(3, 0, bag);
  const contentInfo = new pkijs.ContentInfo({ contentType: OID.signedData, content: sdSchema });
  return toDer(contentInfo.toSchema());
}

/**
 * Builds an Authenticode SignedData for an image digest as real signers do: version 1, the
 * SpcIndirectDataContent SEQUENCE as `[0] EXPLICIT` content, and the signed attributes
 * contentType, messageDigest (over the SEQUENCE's content octets), SpcSpOpusInfo (empty) and
 * SpcStatementType (individual code signing).
 */
export function buildAuthenticodeSignature(
  o: CmsSignerOptions,
  digest: Uint8Array,
  signingTime?: Date,
): Uint8Array {
  const alg = o.algorithm ?? 'sha256';
  const spc = spcIndirectDataTree(alg, digest);
  const attrs = [
    attr(OID.spcSpOpusInfo, new asn1js.Sequence()),
    attr(
      OID.spcStatementType,
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: OID.spcIndividualCodeSigning })] }),
    ),
  ];
  if (signingTime) attrs.push(attr(OID.signingTime, timeValue(signingTime)));
  // messageDigest covers the content octets of the SEQUENCE (no tag, no length): Authenticode's
  // deviation from RFC 5652 §5.4.
  return buildSignedData(o, OID.spcIndirectData, spc, contentOctets(decodeBer(toDer(spc))), attrs);
}

/** Splits an image into the bytes before its certificate table and the table itself. */
function splitImage(bytes: Uint8Array, pe: PeImage): { body: Uint8Array; table: Uint8Array } {
  const t = pe.certificateTable;
  if (!t) return { body: bytes, table: new Uint8Array(0) };
  if (t.error)
    throw new FormatError(t.error.code, `the certificate table is malformed: ${t.error.message}`, {
      structure: 'certificate table',
    });
  if (t.offset + t.size !== bytes.length) {
    throw new FormatError(
      'PE_CERT_TABLE_NOT_AT_END',
      'the certificate table is not at the end of the file; refusing to re-sign',
      {
        structure: 'certificate table',
        offset: t.offset,
      },
    );
  }
  return { body: bytes.subarray(0, t.offset), table: bytes.subarray(t.offset, t.offset + t.size) };
}

/** Assembles body (padded to 8) + table entries, sets data directory 4 and the checksum. */
function assemble(body: Uint8Array, entries: Uint8Array[], pe: PeImage): Uint8Array {
  const tableLen = entries.reduce((n, e) => n + e.length, 0);
  const bodyLen = tableLen === 0 ? body.length : align8(body.length);
  const out = new Uint8Array(bodyLen + tableLen);
  out.set(body, 0);
  let p = bodyLen;
  for (const e of entries) {
    out.set(e, p);
    p += e.length;
  }
  const dirAt = pe.optional.dataDirectoryOffset + CERTIFICATE_TABLE_INDEX * 8;
  const v = new DataView(out.buffer);
  v.setUint32(dirAt, tableLen === 0 ? 0 : bodyLen, true);
  v.setUint32(dirAt + 4, tableLen, true);
  updatePeChecksum(out, pe.optional.checksumOffset);
  return out;
}

/** The existing table split into entries, each padded to 8. */
function tableEntries(bytes: Uint8Array, pe: PeImage): Uint8Array[] {
  return (pe.certificateTable?.entries ?? []).map((e) => {
    const out = new Uint8Array(align8(e.length));
    out.set(bytes.subarray(e.offset, e.offset + e.length));
    return out;
  });
}

/** Options of {@link signImage}. */
export interface SignImageOptions extends CmsSignerOptions {
  /** Add a PKCS#9 signingTime signed attribute (not added by default, like sbsign). */
  signingTime?: Date;
}

/**
 * Signs a PE image: appends one WIN_CERTIFICATE (existing signatures are kept) holding a new
 * Authenticode signature. The image is padded to 8 bytes, dwLength is left unpadded, every entry
 * is padded to 8, data directory 4 and the checksum are updated. Sections are never moved.
 * Refuses images whose certificate table is not at the end, or that cannot carry one.
 */
export function signImage(bytes: Uint8Array, options: SignImageOptions): Uint8Array {
  const pe = parsePe(bytes);
  if (pe.optional.dataDirectories.length <= CERTIFICATE_TABLE_INDEX) {
    throw new FormatError(
      'PE_NO_CERT_DIRECTORY',
      'NumberOfRvaAndSizes < 5: the image has no certificate table directory',
      {
        structure: 'optional header',
      },
    );
  }
  const { body } = splitImage(bytes, pe);
  const padded = new Uint8Array(align8(body.length));
  padded.set(body);
  // The digest of the final layout equals the digest of the padded body with no table: the
  // section-sorted method stops at fileSize − tableSize and skips the directory entry.
  const dirAt = pe.optional.dataDirectoryOffset + CERTIFICATE_TABLE_INDEX * 8;
  padded.fill(0, dirAt, dirAt + 8);
  const digest = authenticodeDigest(padded, { algorithm: options.algorithm ?? 'sha256', padded: true });
  const pkcs7 = buildAuthenticodeSignature(options, digest, options.signingTime);
  return assemble(padded, [...tableEntries(bytes, pe), encodeWinCertificate(pkcs7)], pe);
}

/**
 * Removes signature `index` (a certificate-table entry), or every signature when `index` is
 * undefined. With none left the table and directory entry are cleared and the file ends at the
 * (padded) image.
 */
export function removeSignature(bytes: Uint8Array, index?: number): Uint8Array {
  const pe = parsePe(bytes);
  const { body } = splitImage(bytes, pe);
  const entries = tableEntries(bytes, pe);
  if (index !== undefined && (index < 0 || index >= entries.length || !Number.isInteger(index))) {
    throw new UsageError('SIGNATURE_INDEX', `no signature ${index}: the image has ${entries.length}`);
  }
  if (entries.length === 0) throw new UsageError('NOT_SIGNED', 'the image has no signature to remove');
  const keep = index === undefined ? [] : entries.filter((_, i) => i !== index);
  return assemble(body, keep, pe);
}

/** Returns the PKCS#7 DER of signature `index` (trailing padding removed). */
export function extractSignature(bytes: Uint8Array, index = 0): Uint8Array {
  const pe = parsePe(bytes);
  const e = pe.certificateTable?.entries[index];
  if (!e) throw new UsageError('SIGNATURE_INDEX', `no signature ${index}`);
  return storedBytes(decodeBer(e.certificate, 'WIN_CERTIFICATE', true)).slice();
}
