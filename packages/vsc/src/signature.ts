import {
  type KeyObject,
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { LimitError, UsageError, constantTimeEqual } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { type CertificateInfo, parseCertificate } from './certificate.js';

/**
 * The catalog signature (docs/formats/vsc.md §6): a CMS SignedData (RFC 5652) with detached
 * content — the content is the catalog's canonical CBOR bytes, exactly as stored — one signer,
 * signed attributes contentType (id-data), signingTime and messageDigest, and the signer's
 * certificate chain in `certificates`.
 *
 * The ASN.1 structures are built and parsed with pkijs/asn1js; the signature primitive itself is
 * node:crypto (OpenSSL), so every RSA and ECDSA detail (PSS parameters, DER ECDSA values) follows
 * OpenSSL's behaviour, which `openssl cms -verify` checks independently in the tests.
 */

/** Digest algorithms a signature may use (SHA-1 and MD5 are refused). */
export type SignatureDigest = 'sha256' | 'sha384' | 'sha512';
/** RSA padding scheme; ECDSA keys ignore it. */
export type RsaPadding = 'pkcs1' | 'pss';

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaEncryption: '1.2.840.113549.1.1.1',
  mgf1: '1.2.840.113549.1.1.8',
  rsassaPss: '1.2.840.113549.1.1.10',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  subjectKeyIdentifier: '2.5.29.14',
} as const;

const DIGEST_OIDS: Record<string, SignatureDigest> = {
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};
const RSA_PKCS1_OIDS: Record<string, SignatureDigest | undefined> = {
  [OID.rsaEncryption]: undefined,
  [OID.sha256WithRsa]: 'sha256',
  [OID.sha384WithRsa]: 'sha384',
  [OID.sha512WithRsa]: 'sha512',
};
const ECDSA_OIDS: Record<string, SignatureDigest> = {
  [OID.ecdsaSha256]: 'sha256',
  [OID.ecdsaSha384]: 'sha384',
  [OID.ecdsaSha512]: 'sha512',
};
const SUPPORTED_CURVES = new Set(['prime256v1', 'secp384r1']);
const MIN_RSA_BITS = 2048;
/** Largest CMS blob accepted (a signature with a long chain is a few KiB). */
export const MAX_SIGNATURE_BYTES = 1024 * 1024;

/** The signer: certificate, optional chain (intermediates, signer excluded) and private key. */
export interface CatalogSigner {
  /** Signer certificate, DER. */
  certificate: Uint8Array;
  /** Intermediate certificates, DER, signer's issuer first. Included in the CMS and the catalog. */
  chain?: Uint8Array[];
  /** Private key: a node KeyObject, or PEM/DER bytes (PKCS#8, PKCS#1 or SEC1). */
  privateKey: KeyObject | Uint8Array | string;
}

/** Options of {@link signCatalogBytes}. */
export interface SignOptions {
  /** Message digest; default SHA-256 (SHA-384 for P-384 keys). */
  digest?: SignatureDigest;
  /** RSA padding; default PKCS#1 v1.5. */
  padding?: RsaPadding;
  /** signingTime attribute; default now. Catalog builders pass the catalog's creation time. */
  signingTime?: Date;
}

/** Loads a private key from a KeyObject or PEM/DER bytes. Key bytes are never put in errors. */
export function loadPrivateKey(key: KeyObject | Uint8Array | string): KeyObject {
  if (typeof key === 'object' && !(key instanceof Uint8Array)) return key;
  const buf =
    typeof key === 'string' ? Buffer.from(key) : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  try {
    if (buf.includes('-----BEGIN')) return createPrivateKey({ key: buf, format: 'pem' });
    try {
      return createPrivateKey({ key: buf, format: 'der', type: 'pkcs8' });
    } catch {
      try {
        return createPrivateKey({ key: buf, format: 'der', type: 'pkcs1' });
      } catch {
        return createPrivateKey({ key: buf, format: 'der', type: 'sec1' });
      }
    }
  } catch {
    throw new UsageError(
      'VSC_BAD_KEY',
      'the private key is not a PEM or DER RSA/EC private key (or it is encrypted)',
    );
  }
}

/** Checks the key is one catalogs allow: RSA ≥ 2048 bits or ECDSA P-256/P-384. Returns its kind. */
function keyKind(key: KeyObject, what: string): { kind: 'rsa' | 'ec'; curve?: string } {
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'rsa' || t === 'rsa-pss') {
    if ((d.modulusLength ?? 0) < MIN_RSA_BITS) {
      throw new UsageError(
        'VSC_WEAK_KEY',
        `${what} is RSA-${d.modulusLength}: catalogs need RSA ≥ ${MIN_RSA_BITS}`,
      );
    }
    return { kind: 'rsa' };
  }
  if (t === 'ec') {
    if (!SUPPORTED_CURVES.has(d.namedCurve ?? '')) {
      throw new UsageError(
        'VSC_UNSUPPORTED_KEY',
        `${what} uses curve ${d.namedCurve}: catalogs use P-256 or P-384`,
      );
    }
    return { kind: 'ec', curve: d.namedCurve! };
  }
  throw new UsageError('VSC_UNSUPPORTED_KEY', `${what} is a ${t} key: catalogs use RSA or ECDSA P-256/P-384`);
}

/**
 * Signs `content` (the canonical catalog bytes) and returns the DER ContentInfo holding the
 * detached SignedData. Refuses a key that does not match the certificate, a certificate whose key
 * usage excludes digitalSignature, or one outside its validity period at `signingTime`.
 */
export function signCatalogBytes(
  content: Uint8Array,
  signer: CatalogSigner,
  options: SignOptions = {},
): Uint8Array {
  const cert = parseCertificate(signer.certificate);
  const chain = (signer.chain ?? []).map(parseCertificate);
  const key = loadPrivateKey(signer.privateKey);
  const { kind, curve } = keyKind(key, 'the signing key');
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(cert.x509.publicKey))) {
    throw new UsageError('VSC_KEY_MISMATCH', 'the private key does not belong to the signer certificate');
  }
  if (cert.keyUsage !== undefined && !cert.keyUsage.digitalSignature) {
    throw new UsageError('VSC_CERT_USAGE', 'the signer certificate does not allow digitalSignature');
  }
  const when = options.signingTime ?? new Date();
  if (when < cert.notBefore || when > cert.notAfter) {
    throw new UsageError('VSC_CERT_EXPIRED', `the signer certificate is not valid at ${when.toISOString()}`);
  }
  const digest: SignatureDigest = options.digest ?? (curve === 'secp384r1' ? 'sha384' : 'sha256');
  const padding = options.padding ?? 'pkcs1';

  const messageDigest = createHash(digest).update(content).digest();
  const attributes = [
    new pkijs.Attribute({
      type: OID.contentType,
      values: [new asn1js.ObjectIdentifier({ value: OID.data })],
    }),
    new pkijs.Attribute({ type: OID.signingTime, values: [timeValue(when)] }),
    new pkijs.Attribute({
      type: OID.messageDigest,
      values: [new asn1js.OctetString({ valueHex: messageDigest })],
    }),
  ];
  // DER encodes a SET OF in ascending order of the element encodings (X.690 §11.6).
  const encoded = attributes.map((a) => ({ a, der: new Uint8Array(a.toSchema().toBER(false)) }));
  encoded.sort((x, y) => compareBytes(x.der, y.der));
  const sorted = encoded.map((e) => e.a);
  const toSign = new Uint8Array(new asn1js.Set({ value: sorted.map((a) => a.toSchema()) }).toBER(false));

  let signatureAlgorithm: pkijs.AlgorithmIdentifier;
  let signature: Buffer;
  if (kind === 'ec') {
    signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ecdsaOid(digest) });
    signature = nodeSign(digest, toSign, { key, dsaEncoding: 'der' });
  } else if (padding === 'pss') {
    const saltLength = createHash(digest).digest().length;
    signatureAlgorithm = new pkijs.AlgorithmIdentifier({
      algorithmId: OID.rsassaPss,
      algorithmParams: new pkijs.RSASSAPSSParams({
        hashAlgorithm: digestAlgorithm(digest),
        maskGenAlgorithm: new pkijs.AlgorithmIdentifier({
          algorithmId: OID.mgf1,
          algorithmParams: digestAlgorithm(digest).toSchema(),
        }),
        saltLength,
      }).toSchema(),
    });
    signature = nodeSign(digest, toSign, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  } else {
    signatureAlgorithm = new pkijs.AlgorithmIdentifier({
      algorithmId: OID.rsaEncryption,
      algorithmParams: new asn1js.Null(),
    });
    signature = nodeSign(digest, toSign, { key, padding: constants.RSA_PKCS1_PADDING });
  }

  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({
      issuer: cert.pkijs.issuer,
      serialNumber: cert.pkijs.serialNumber,
    }),
    digestAlgorithm: digestAlgorithm(digest),
    signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: sorted }),
    signatureAlgorithm,
    signature: new asn1js.OctetString({ valueHex: signature }),
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [digestAlgorithm(digest)],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
    certificates: [cert.pkijs, ...chain.map((c) => c.pkijs)],
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({
    contentType: OID.signedData,
    content: signedData.toSchema(true),
  });
  return new Uint8Array(contentInfo.toSchema().toBER(false));
}

function timeValue(d: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  // RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise. Whole seconds only.
  const t = new Date(Math.floor(d.getTime() / 1000) * 1000);
  const y = t.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? new asn1js.UTCTime({ valueDate: t })
    : new asn1js.GeneralizedTime({ valueDate: t });
}

function digestAlgorithm(d: SignatureDigest): pkijs.AlgorithmIdentifier {
  // RFC 5754 §2: the SHA-2 AlgorithmIdentifier parameters SHOULD be absent.
  return new pkijs.AlgorithmIdentifier({ algorithmId: OID[d] });
}

function ecdsaOid(d: SignatureDigest): string {
  return d === 'sha256' ? OID.ecdsaSha256 : d === 'sha384' ? OID.ecdsaSha384 : OID.ecdsaSha512;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Why a signature check failed; `ok` when it did not. */
export type SignatureFailureReason =
  | 'ok'
  | 'malformed'
  | 'bad-signature'
  | 'unsupported-algorithm'
  | 'weak-key'
  | 'signer-mismatch'
  | 'wrong-usage'
  | 'expired'
  | 'not-yet-valid'
  | 'untrusted'
  | 'thumbprint-mismatch';

/** A parsed, cryptographically checked CMS signature (trust not yet decided). */
export interface CmsSignature {
  /** The signer certificate the SignerInfo identifies. */
  signer: CertificateInfo;
  /** Every certificate of the SignedData `certificates` field, signer included. */
  certificates: CertificateInfo[];
  digest: SignatureDigest;
  /** signingTime attribute, when present. */
  signingTime: Date | undefined;
}

/** A failure of {@link checkCmsSignature}: reason and human message. */
export class SignatureCheckFailure {
  constructor(
    readonly reason: Exclude<SignatureFailureReason, 'ok'>,
    readonly message: string,
  ) {}
}

/**
 * Parses the CMS blob and checks that it is a valid signature of `content` by the certificate it
 * names: structure (one signer, detached id-data content), digest and signature algorithms, the
 * messageDigest attribute, and the signature value. Trust (chain, validity, usage, pinning) is the
 * caller's next step. Returns the parsed signature or a {@link SignatureCheckFailure}; throws only
 * for a blob beyond {@link MAX_SIGNATURE_BYTES}.
 */
export function checkCmsSignature(
  cms: Uint8Array,
  content: Uint8Array,
): CmsSignature | SignatureCheckFailure {
  if (cms.length > MAX_SIGNATURE_BYTES) {
    throw new LimitError(
      'VSC_SIGNATURE_TOO_LARGE',
      `a ${cms.length}-byte signature exceeds the limit of ${MAX_SIGNATURE_BYTES}`,
      { structure: 'CMS SignedData' },
    );
  }
  let sd: pkijs.SignedData;
  let certificates: CertificateInfo[];
  try {
    const asn = asn1js.fromBER(cms);
    if (asn.offset === -1 || asn.offset !== cms.length)
      return new SignatureCheckFailure('malformed', 'the signature is not a single BER value');
    const ci = new pkijs.ContentInfo({ schema: asn.result });
    if (ci.contentType !== OID.signedData)
      return new SignatureCheckFailure('malformed', 'the signature is not a CMS SignedData');
    sd = new pkijs.SignedData({ schema: ci.content });
    // asn1js is lenient with lengths that disagree with their contents; the parts of a SignedData
    // outside the signed attributes are not covered by the signature, so a lenient parse would let
    // such bytes change unnoticed. Require DER: re-encoding the parsed structure gives the input.
    const again = new pkijs.ContentInfo({ contentType: OID.signedData, content: sd.toSchema(true) })
      .toSchema()
      .toBER(false);
    if (!constantTimeEqual(new Uint8Array(again), cms))
      return new SignatureCheckFailure('malformed', 'the signature is not in DER');
    certificates = [];
    for (const c of sd.certificates ?? []) {
      if (!(c instanceof pkijs.Certificate))
        return new SignatureCheckFailure('malformed', 'the SignedData holds a non-X.509 certificate');
      certificates.push(parseCertificate(new Uint8Array(c.toSchema().toBER(false))));
    }
  } catch (e) {
    return new SignatureCheckFailure('malformed', `the signature cannot be parsed: ${(e as Error).message}`);
  }
  if (sd.version !== 1 && sd.version !== 3)
    return new SignatureCheckFailure('malformed', `SignedData version ${sd.version}`);
  if (sd.encapContentInfo.eContentType !== OID.data)
    return new SignatureCheckFailure('malformed', 'the signed content type is not id-data');
  if (sd.encapContentInfo.eContent !== undefined)
    return new SignatureCheckFailure('malformed', 'the signature is not detached (it embeds content)');
  if (sd.signerInfos.length !== 1)
    return new SignatureCheckFailure(
      'malformed',
      `${sd.signerInfos.length} signers; a catalog has exactly one`,
    );
  const si = sd.signerInfos[0]!;
  // RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
  const ski = !(si.sid instanceof pkijs.IssuerAndSerialNumber);
  if (si.version !== (ski ? 3 : 1))
    return new SignatureCheckFailure(
      'malformed',
      `SignerInfo version ${si.version} does not match its signer identifier`,
    );
  if (si.unsignedAttrs !== undefined)
    return new SignatureCheckFailure('malformed', 'unsigned attributes are not allowed');
  const digest = DIGEST_OIDS[si.digestAlgorithm.algorithmId];
  if (digest === undefined)
    return new SignatureCheckFailure(
      'unsupported-algorithm',
      `digest algorithm ${si.digestAlgorithm.algorithmId} is not SHA-256/384/512`,
    );
  if (!sd.digestAlgorithms.some((a) => a.algorithmId === si.digestAlgorithm.algorithmId)) {
    return new SignatureCheckFailure(
      'malformed',
      "the signer's digest algorithm is missing from SignedData.digestAlgorithms",
    );
  }
  const signer = certificates.find((c) => identifies(si.sid, c));
  if (signer === undefined)
    return new SignatureCheckFailure('malformed', 'the signer certificate is not in the signature');

  const contentDigest = createHash(digest).update(content).digest();
  let signedBytes: Uint8Array;
  let signingTime: Date | undefined;
  if (si.signedAttrs !== undefined) {
    const attrs = si.signedAttrs.attributes;
    const one = (type: string): unknown[] | undefined => {
      const found = attrs.filter((a) => a.type === type);
      return found.length === 1 && found[0]!.values.length === 1 ? found[0]!.values : undefined;
    };
    const ct = one(OID.contentType)?.[0];
    if (!(ct instanceof asn1js.ObjectIdentifier) || ct.valueBlock.toString() !== OID.data) {
      return new SignatureCheckFailure(
        'malformed',
        'the contentType signed attribute is missing or not id-data',
      );
    }
    const md = one(OID.messageDigest)?.[0];
    if (!(md instanceof asn1js.OctetString))
      return new SignatureCheckFailure('malformed', 'the messageDigest signed attribute is missing');
    if (!constantTimeEqual(md.valueBlock.valueHexView, contentDigest)) {
      return new SignatureCheckFailure(
        'bad-signature',
        'the catalog bytes do not match the signed message digest',
      );
    }
    const st = attrs.find((a) => a.type === OID.signingTime)?.values[0];
    if (st instanceof asn1js.UTCTime || st instanceof asn1js.GeneralizedTime) signingTime = st.toDate();
    // RFC 5652 §5.4: the signature covers the DER of the attributes with an explicit SET OF tag;
    // pkijs keeps the received bytes with the tag already rewritten to 0x31.
    signedBytes = new Uint8Array(si.signedAttrs.encodedValue);
  } else {
    signedBytes = content;
  }

  let key: KeyObject;
  let kindCheck: { kind: 'rsa' | 'ec' };
  try {
    key = signer.x509.publicKey;
  } catch (e) {
    return new SignatureCheckFailure(
      'malformed',
      `the signer public key cannot be read: ${(e as Error).message}`,
    );
  }
  try {
    kindCheck = keyKind(key, 'the signer key');
  } catch (e) {
    const weak = (e as UsageError).code === 'VSC_WEAK_KEY';
    return new SignatureCheckFailure(weak ? 'weak-key' : 'unsupported-algorithm', (e as Error).message);
  }
  const sigAlg = si.signatureAlgorithm.algorithmId;
  const sigValue = si.signature.valueBlock.valueHexView;
  let ok: boolean;
  try {
    if (sigAlg in RSA_PKCS1_OIDS) {
      const h = RSA_PKCS1_OIDS[sigAlg];
      // RFC 4055 §5 / RFC 5754 §3.2: the parameters are NULL (or, tolerated, absent) — nothing else.
      const params = si.signatureAlgorithm.algorithmParams;
      if (params !== undefined && !(params instanceof asn1js.Null))
        return new SignatureCheckFailure('malformed', 'RSA signature algorithm parameters must be NULL');
      if (kindCheck.kind !== 'rsa' || (h !== undefined && h !== digest))
        return new SignatureCheckFailure(
          'unsupported-algorithm',
          'the signature algorithm does not match the key or digest',
        );
      ok = nodeVerify(digest, signedBytes, { key, padding: constants.RSA_PKCS1_PADDING }, sigValue);
    } else if (sigAlg === OID.rsassaPss) {
      if (kindCheck.kind !== 'rsa')
        return new SignatureCheckFailure('unsupported-algorithm', 'RSASSA-PSS with a non-RSA key');
      const p = new pkijs.RSASSAPSSParams({ schema: si.signatureAlgorithm.algorithmParams });
      const mgfHash = p.maskGenAlgorithm.algorithmParams
        ? new pkijs.AlgorithmIdentifier({ schema: p.maskGenAlgorithm.algorithmParams }).algorithmId
        : undefined;
      if (
        DIGEST_OIDS[p.hashAlgorithm.algorithmId] !== digest ||
        p.maskGenAlgorithm.algorithmId !== OID.mgf1 ||
        DIGEST_OIDS[mgfHash ?? ''] !== digest ||
        p.trailerField !== 1
      ) {
        return new SignatureCheckFailure(
          'unsupported-algorithm',
          'RSASSA-PSS parameters must use the signer digest for hash and MGF1',
        );
      }
      ok = nodeVerify(
        digest,
        signedBytes,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: p.saltLength },
        sigValue,
      );
    } else if (sigAlg in ECDSA_OIDS) {
      if (kindCheck.kind !== 'ec' || ECDSA_OIDS[sigAlg] !== digest)
        return new SignatureCheckFailure(
          'unsupported-algorithm',
          'the ECDSA algorithm does not match the key or digest',
        );
      if (si.signatureAlgorithm.algorithmParams !== undefined)
        return new SignatureCheckFailure(
          'malformed',
          'ECDSA signature algorithms take no parameters (RFC 5758 §3.2)',
        );
      ok = nodeVerify(digest, signedBytes, { key, dsaEncoding: 'der' }, sigValue);
    } else {
      return new SignatureCheckFailure(
        'unsupported-algorithm',
        `signature algorithm ${sigAlg} is not RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA`,
      );
    }
  } catch (e) {
    return new SignatureCheckFailure(
      'bad-signature',
      `the signature value cannot be checked: ${(e as Error).message}`,
    );
  }
  if (!ok)
    return new SignatureCheckFailure(
      'bad-signature',
      'the signature value does not verify with the signer key',
    );
  return { signer, certificates, digest, signingTime };
}

function identifies(sid: unknown, c: CertificateInfo): boolean {
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    return sid.issuer.isEqual(c.pkijs.issuer) && sid.serialNumber.isEqual(c.pkijs.serialNumber);
  }
  // [0] SubjectKeyIdentifier: compare with the certificate's extension.
  if (sid instanceof asn1js.Constructed || sid instanceof asn1js.Primitive) {
    const ski = c.pkijs.extensions?.find((e) => e.extnID === OID.subjectKeyIdentifier)?.parsedValue;
    const want = (sid as asn1js.Primitive).valueBlock?.valueHexView ?? new Uint8Array();
    return ski instanceof asn1js.OctetString && constantTimeEqual(ski.valueBlock.valueHexView, want);
  }
  return false;
}
