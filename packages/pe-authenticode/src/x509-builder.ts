import { type KeyObject, createHash, createPublicKey, randomBytes } from 'node:crypto';
import { UsageError } from '@lsvm/core';
import {
  children,
  derBitString,
  derExplicit,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  derUtf8,
  parseDer,
  tlv,
} from './der.js';
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
  return derSequence(
    ...attrs.map(([k, v]) => {
      const oid =
        (Object.hasOwn(NAME_OIDS, k) ? NAME_OIDS[k] : undefined) ?? (/^\d+(\.\d+)+$/.test(k) ? k : undefined);
      if (!oid) throw new UsageError('X509_NAME', `unknown name attribute ${k}`);
      const value = k === 'C' ? tlv(0x13, new TextEncoder().encode(v)) : derUtf8(v);
      return derSet(derSequence(derOid(oid), value));
    }),
  );
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(derOid(oid), tlv(0x01, Uint8Array.of(0xff)), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value));
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
  const keyUsage = ca ? derBitString(Uint8Array.of(0x06), 1) : derBitString(Uint8Array.of(0x80), 7);
  const exts = [
    extension('2.5.29.19', true, ca ? derSequence(tlv(0x01, Uint8Array.of(0xff))) : derSequence()),
    extension('2.5.29.15', true, keyUsage),
    extension('2.5.29.14', false, derOctetString(ski)),
  ];
  if (eku.length > 0) exts.push(extension(OID.extKeyUsage, false, derSequence(...eku.map(derOid))));
  if (o.issuer) {
    const issuerSpki = new Uint8Array(o.issuer.x509.publicKey.export({ type: 'spki', format: 'der' }));
    const aki = keyIdentifier(issuerSpki);
    exts.push(extension('2.5.29.35', false, derSequence(tlv(0x80, aki))));
  }
  // The signature algorithm must be known before signing; rawSign reports what it uses.
  const probe = rawSign(issuerKey, alg, new Uint8Array(1)).algId;
  const sigAlg = sigAlgorithmFor(probe, alg);
  const tbs = derSequence(
    derExplicit(0, derInteger(2)),
    derInteger(serial),
    sigAlg,
    issuerName,
    derSequence(derTime(notBefore), derTime(notAfter)),
    subject,
    spki,
    derExplicit(3, derSequence(...exts)),
  );
  const sig = rawSign(issuerKey, alg, tbs);
  return parseCertificate(derSequence(tbs, sigAlg, derBitString(sig.value)));
}

/** Key identifier, method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING value. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  const bits = children(parseDer(spki, 'SubjectPublicKeyInfo'))[1];
  if (!bits) throw new UsageError('X509_SPKI', 'malformed SubjectPublicKeyInfo');
  return new Uint8Array(createHash('sha1').update(bits.value.subarray(1)).digest());
}

/** Certificates name the hash in the signature algorithm (sha256WithRSAEncryption, ecdsa-with-SHA256). */
function sigAlgorithmFor(cmsAlgId: Uint8Array, alg: DigestAlgorithm): Uint8Array {
  const ec = Buffer.from(cmsAlgId).includes(Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04]));
  if (ec) return cmsAlgId;
  const rsa = {
    sha1: OID.sha1WithRsa,
    sha256: OID.sha256WithRsa,
    sha384: OID.sha384WithRsa,
    sha512: OID.sha512WithRsa,
  }[alg];
  return derSequence(derOid(rsa), tlv(0x05, new Uint8Array(0)));
}
