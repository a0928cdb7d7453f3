import { type KeyObject, createHash, createPublicKey, randomBytes } from 'node:crypto';
import { UsageError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { type Asn1Value, decodeBer, embed, timeValue, toDer } from './asn1.js';
import type { DigestAlgorithm } from './digest.js';
import { OID } from './oids.js';
import { type SigningKey, loadPrivateKey, rawSign } from './sign.js';
import { type Certificate, parseCertificate } from './x509.js';

/**
 * Options of {@link createCertificate}: enough to make the test and provisioning PKIs a shielded
 * VM needs (a Secure Boot signing CA, a code-signing leaf, a KEK) without an openssl binary.
 */
export interface CreateCertificateOptions {
  /** Subject as attribute pairs, most significant first, e.g. `[['O', 'lsvm'], ['CN', 'test CA']]`. */
  subject: [string, string][];
  /** The subject's public key (or its private key, whose public half is used). */
  publicKey: KeyObject;
  /** Issuer certificate; omit for a self-signed certificate. */
  issuer?: Certificate;
  /** Private key of the issuer (of the subject when self-signed). */
  issuerKey: SigningKey;
  /** Default: now − 1 hour. */
  notBefore?: Date;
  /** Default: notBefore + 10 years. */
  notAfter?: Date;
  /** basicConstraints cA (critical). Default false. */
  ca?: boolean;
  /** Extended key usages (OIDs); default: code signing for leaves, none for CAs. */
  extKeyUsage?: string[];
  /** Signature hash. Default sha256. */
  algorithm?: DigestAlgorithm;
  /** Serial number bytes; default 16 random bytes. */
  serial?: Uint8Array;
  /** Sign with RSASSA-PSS (hash and MGF1 `algorithm`, salt as long as the hash); RSA issuer keys only. */
  pss?: boolean;
}

const NAME_OIDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
};

/** Encodes a Name (RFC 5280 §4.1.2.4), one attribute per RDN, UTF8String values (PrintableString for C). */
export function encodeName(attrs: [string, string][]): Uint8Array {
  // Built with asn1js directly: pkijs.RelativeDistinguishedNames puts every attribute in one RDN.
  return toDer(
    new asn1js.Sequence({
      value: attrs.map(([k, v]) => {
        const oid =
          (Object.hasOwn(NAME_OIDS, k) ? NAME_OIDS[k] : undefined) ??
          (/^\d+(\.\d+)+$/.test(k) ? k : undefined);
        if (!oid) throw new UsageError('X509_NAME', `unknown name attribute ${k}`);
        const value =
          k === 'C' ? new asn1js.PrintableString({ value: v }) : new asn1js.Utf8String({ value: v });
        return new asn1js.Set({
          value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), value] })],
        });
      }),
    }),
  );
}

/** An Extension whose extnValue is the DER of `value`. */
function extension(extnID: string, critical: boolean, value: Asn1Value): pkijs.Extension {
  return new pkijs.Extension({
    extnID,
    critical,
    extnValue: toDer(value).buffer as ArrayBuffer,
  });
}

/**
 * Builds and signs an X.509 v3 certificate (RFC 5280) with basicConstraints, keyUsage,
 * extendedKeyUsage, subjectKeyIdentifier and (when issued) authorityKeyIdentifier.
 */
export function createCertificate(o: CreateCertificateOptions): Certificate {
  const alg = o.algorithm ?? 'sha256';
  const issuerKey = loadPrivateKey(o.issuerKey);
  const pub = o.publicKey.type === 'public' ? o.publicKey : createPublicKey(o.publicKey);
  const spki = new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
  const ski = keyIdentifier(spki);
  const notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = o.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * 86400_000);
  const serial = o.serial ?? randomBytes(16);
  if (serial.length > 0) serial[0]! &= 0x7f; // positive
  const subject = encodeName(o.subject);
  const issuerName = o.issuer ? o.issuer.subjectRaw : subject;
  const ca = o.ca ?? false;
  const eku = o.extKeyUsage ?? (ca ? [] : [OID.ekuCodeSigning]);
  // keyUsage bits: digitalSignature (0) for leaves; keyCertSign (5) + cRLSign (6) for CAs.
  const keyUsage = new asn1js.BitString({
    valueHex: ca ? Uint8Array.of(0x06) : Uint8Array.of(0x80),
    unusedBits: ca ? 1 : 7,
  });
  const extensions = [
    extension(
      '2.5.29.19',
      true,
      new asn1js.Sequence({ value: ca ? [new asn1js.Boolean({ value: true })] : [] }),
    ),
    extension('2.5.29.15', true, keyUsage),
    extension('2.5.29.14', false, new asn1js.OctetString({ valueHex: ski })),
  ];
  if (eku.length > 0)
    extensions.push(
      extension(
        OID.extKeyUsage,
        false,
        new asn1js.Sequence({ value: eku.map((e) => new asn1js.ObjectIdentifier({ value: e })) }),
      ),
    );
  if (o.issuer) {
    const issuerSpki = new Uint8Array(o.issuer.x509.publicKey.export({ type: 'spki', format: 'der' }));
    const aki = new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: 0 },
      valueHex: keyIdentifier(issuerSpki),
    });
    extensions.push(extension('2.5.29.35', false, new asn1js.Sequence({ value: [aki] })));
  }
  // The signature algorithm must be known before signing; rawSign reports what it uses.
  const probe = rawSign(issuerKey, alg, new Uint8Array(1), { pss: o.pss === true }).algorithm;
  const sigAlg = sigAlgorithmFor(probe, alg);
  const cert = new pkijs.Certificate({
    version: 2,
    serialNumber: new asn1js.Integer({ valueHex: positive(serial) }),
    signature: sigAlg,
    issuer: new pkijs.RelativeDistinguishedNames({ schema: embed(issuerName, 'Name') }),
    notBefore: new pkijs.Time({ schema: timeValue(notBefore) }),
    notAfter: new pkijs.Time({ schema: timeValue(notAfter) }),
    subject: new pkijs.RelativeDistinguishedNames({ schema: embed(subject, 'Name') }),
    subjectPublicKeyInfo: new pkijs.PublicKeyInfo({ schema: embed(spki, 'SubjectPublicKeyInfo') }),
    extensions,
  });
  const tbs = toDer(cert.encodeTBS());
  const sig = rawSign(issuerKey, alg, tbs, { pss: o.pss === true });
  const signed = new asn1js.Sequence({
    value: [embed(tbs, 'TBSCertificate'), sigAlg.toSchema(), new asn1js.BitString({ valueHex: sig.value })],
  });
  return parseCertificate(toDer(signed));
}

/** INTEGER contents for an unsigned magnitude: leading zeros dropped, a zero added before a set top bit. */
function positive(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.length === 0 ? Uint8Array.of(0) : b.subarray(i);
  return (v[0]! & 0x80) !== 0 ? Uint8Array.of(0, ...v) : v;
}

/** Key identifier, method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  let info: pkijs.PublicKeyInfo;
  try {
    info = new pkijs.PublicKeyInfo({ schema: decodeBer(spki, 'SubjectPublicKeyInfo') });
  } catch (e) {
    throw new UsageError('X509_SPKI', 'malformed SubjectPublicKeyInfo', { cause: e });
  }
  return new Uint8Array(createHash('sha1').update(info.subjectPublicKey.valueBlock.valueHexView).digest());
}

/**
 * Certificates name the hash in the signature algorithm (sha256WithRSAEncryption,
 * ecdsa-with-SHA256); rsassaPss carries it in its parameters.
 */
function sigAlgorithmFor(cmsAlg: pkijs.AlgorithmIdentifier, alg: DigestAlgorithm): pkijs.AlgorithmIdentifier {
  if (cmsAlg.algorithmId !== OID.rsaEncryption) return cmsAlg;
  const rsa = {
    sha1: OID.sha1WithRsa,
    sha256: OID.sha256WithRsa,
    sha384: OID.sha384WithRsa,
    sha512: OID.sha512WithRsa,
  }[alg];
  return new pkijs.AlgorithmIdentifier({ algorithmId: rsa, algorithmParams: new asn1js.Null() });
}
