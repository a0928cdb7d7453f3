import { type KeyObject, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { FormatError, UsageError } from '@lsvm/core';
import { type CertificateInfo, keyMatchesCertificate, parseCertificate } from './certificate.js';
import { issueCertificate } from './certificate-builder.js';
import { pemDecodeAll, pemEncode } from './pem.js';
import { type RandomSource, systemRandom } from './random.js';

/**
 * Guardians (the semantics of New-HgsGuardian): a named pair of certificates, one to sign and
 * one to receive wrapped keys. The public part is what a fabric publishes as its guardian
 * metadata; the private part stays with the owner or the fabric.
 */

/** The public part of a guardian: what `lsvm guardian export` writes. */
export interface GuardianPublic {
  name: string;
  /** DER X.509 certificate of the signing key. */
  signingCertificate: Uint8Array;
  /** DER X.509 certificate of the encryption (key transport / key agreement) key. */
  encryptionCertificate: Uint8Array;
}

/** A guardian with its private keys. */
export interface GuardianKeys extends GuardianPublic {
  signingKey: KeyObject;
  encryptionKey: KeyObject;
}

/** Key algorithms {@link generateGuardian} offers. */
export type GuardianAlgorithm = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'p256' | 'p384';

/** Both certificates of a guardian, parsed and checked. */
export interface GuardianInfo {
  name: string;
  /** Guardian id: lower-case hex SHA-256 of the signing certificate. */
  id: string;
  signing: CertificateInfo;
  encryption: CertificateInfo;
}

const NAME_RE = /^[^\u0000-\u001f\u007f]{1,128}$/u;

/** Throws unless `name` is 1..128 characters without control characters. */
export function checkGuardianName(name: string, structure = 'guardian'): void {
  if (typeof name !== 'string' || !NAME_RE.test(name))
    throw new FormatError(
      'GUARDIAN_NAME',
      'guardian name must be 1..128 characters without control characters',
      {
        structure,
      },
    );
}

/** Parses and checks the two certificates of a guardian. */
export function inspectGuardian(g: GuardianPublic, structure = 'guardian'): GuardianInfo {
  checkGuardianName(g.name, structure);
  const signing = parseCertificate(g.signingCertificate, `${structure} signing certificate`);
  const encryption = parseCertificate(g.encryptionCertificate, `${structure} encryption certificate`);
  return { name: g.name, id: signing.thumbprint, signing, encryption };
}

/** The public part of a guardian (drops the private keys). */
export function exportGuardian(g: GuardianPublic): GuardianPublic {
  return {
    name: g.name,
    signingCertificate: new Uint8Array(g.signingCertificate),
    encryptionCertificate: new Uint8Array(g.encryptionCertificate),
  };
}

/** Options of {@link generateGuardian}. */
export interface GenerateGuardianOptions {
  algorithm?: GuardianAlgorithm;
  /** Start of validity (default: now, truncated to the second). */
  notBefore?: Date;
  /** Validity in days (default 3650). */
  validityDays?: number;
  /** Source of the certificate serial numbers. */
  random?: RandomSource;
}

/**
 * Generates a guardian like `New-HgsGuardian -GenerateCertificates`: a self-signed signing
 * certificate (CA, keyCertSign) and an encryption certificate issued by the signing key. The
 * encryption certificate cannot sign itself when its key is an ECDH key, so both kinds are issued
 * the same way for uniformity; readers accept self-signed encryption certificates too.
 */
export function generateGuardian(name: string, options: GenerateGuardianOptions = {}): GuardianKeys {
  checkGuardianName(name);
  const alg = options.algorithm ?? 'rsa3072';
  const random = options.random ?? systemRandom;
  const gen = (): KeyObject => {
    switch (alg) {
      case 'rsa2048':
      case 'rsa3072':
      case 'rsa4096':
        return generateKeyPairSync('rsa', { modulusLength: Number(alg.slice(3)) }).privateKey;
      case 'p256':
        return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      case 'p384':
        return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
      default:
        throw new UsageError('GUARDIAN_ALGORITHM', `unknown guardian algorithm ${String(alg)}`);
    }
  };
  const signingKey = gen();
  const encryptionKey = gen();
  const notBefore = new Date(Math.floor((options.notBefore ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 3650) * 86400_000);
  const sigSubject = `${name} signing`;
  const signingCertificate = issueCertificate({
    subject: sigSubject,
    issuer: sigSubject,
    subjectKey: signingKey,
    issuerKey: signingKey,
    notBefore,
    notAfter,
    serial: random(16),
    ca: true,
    keyUsage: ['digitalSignature', 'keyCertSign'],
  });
  const encryptionCertificate = issueCertificate({
    subject: `${name} encryption`,
    issuer: sigSubject,
    subjectKey: encryptionKey,
    issuerKey: signingKey,
    notBefore,
    notAfter,
    serial: random(16),
    ca: false,
    // RSA keys receive OAEP-wrapped keys, EC keys take part in ECDH (RFC 5280 §4.2.1.3).
    keyUsage: [encryptionKey.asymmetricKeyType === 'rsa' ? 'keyEncipherment' : 'keyAgreement'],
  });
  return { name, signingCertificate, encryptionCertificate, signingKey, encryptionKey };
}

/** PEM texts of a guardian, as stored in a guardian directory. */
export interface GuardianPem {
  name: string;
  signingCertificate: string;
  encryptionCertificate: string;
  /** Private keys; omit both for a public-only guardian. */
  signingKey?: string;
  encryptionKey?: string;
}

function singleCert(pem: string, what: string): Uint8Array {
  const blocks = pemDecodeAll(pem).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length !== 1)
    throw new FormatError(
      'PEM_CERTIFICATE',
      `${what} must hold exactly one CERTIFICATE block, found ${blocks.length}`,
      {
        structure: 'PEM',
      },
    );
  return blocks[0]!.der;
}

function privateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new FormatError('PEM_PRIVATE_KEY', `${what} is not a PEM private key`, {
      structure: 'PEM',
      cause: e,
    });
  }
}

/** Imports a guardian with its private keys from PEM (PKCS#8, PKCS#1 or SEC1 keys). */
export function importGuardianPem(
  p: GuardianPem & { signingKey: string; encryptionKey: string },
): GuardianKeys {
  const pub = importGuardianPublicPem(p);
  const info = inspectGuardian(pub);
  const signingKey = privateKey(p.signingKey, 'signing key');
  const encryptionKey = privateKey(p.encryptionKey, 'encryption key');
  if (!keyMatchesCertificate(signingKey, info.signing))
    throw new FormatError('GUARDIAN_KEY_MISMATCH', 'signing key does not match the signing certificate', {
      structure: 'guardian',
    });
  if (!keyMatchesCertificate(encryptionKey, info.encryption))
    throw new FormatError(
      'GUARDIAN_KEY_MISMATCH',
      'encryption key does not match the encryption certificate',
      {
        structure: 'guardian',
      },
    );
  return { ...pub, signingKey, encryptionKey };
}

/** Imports the public part of a guardian from PEM certificates. */
export function importGuardianPublicPem(
  p: Pick<GuardianPem, 'name' | 'signingCertificate' | 'encryptionCertificate'>,
): GuardianPublic {
  const g = {
    name: p.name,
    signingCertificate: singleCert(p.signingCertificate, 'signing certificate'),
    encryptionCertificate: singleCert(p.encryptionCertificate, 'encryption certificate'),
  };
  inspectGuardian(g);
  return g;
}

/** PEM texts of a guardian (private keys as unencrypted PKCS#8 — protect the files). */
export function guardianToPem(g: GuardianKeys): Required<GuardianPem>;
export function guardianToPem(g: GuardianPublic): GuardianPem;
export function guardianToPem(g: GuardianPublic | GuardianKeys): GuardianPem {
  const out: GuardianPem = {
    name: g.name,
    signingCertificate: pemEncode('CERTIFICATE', g.signingCertificate),
    encryptionCertificate: pemEncode('CERTIFICATE', g.encryptionCertificate),
  };
  if ('signingKey' in g) {
    out.signingKey = g.signingKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    out.encryptionKey = g.encryptionKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
  return out;
}

/** The JSON form of guardian metadata (`lsvm guardian export`). */
export interface GuardianMetadataJson {
  format: 'lsvm-guardian';
  version: 1;
  name: string;
  /** Base64 DER. */
  signingCertificate: string;
  /** Base64 DER. */
  encryptionCertificate: string;
}

/** Serialises the public part of a guardian as JSON metadata. */
export function encodeGuardianMetadata(g: GuardianPublic): string {
  const j: GuardianMetadataJson = {
    format: 'lsvm-guardian',
    version: 1,
    name: g.name,
    signingCertificate: Buffer.from(g.signingCertificate).toString('base64'),
    encryptionCertificate: Buffer.from(g.encryptionCertificate).toString('base64'),
  };
  return `${JSON.stringify(j, null, 2)}\n`;
}

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses guardian metadata JSON and checks both certificates. */
export function parseGuardianMetadata(text: string | Uint8Array): GuardianPublic {
  const s = typeof text === 'string' ? text : new TextDecoder().decode(text);
  const structure = 'guardian metadata';
  if (s.length > 1 << 20)
    throw new FormatError('GUARDIAN_METADATA', 'guardian metadata is larger than 1 MiB', { structure });
  let j: unknown;
  try {
    j = JSON.parse(s);
  } catch (e) {
    throw new FormatError('GUARDIAN_METADATA', 'guardian metadata is not JSON', { structure, cause: e });
  }
  const o = j as Partial<GuardianMetadataJson> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    o.format !== 'lsvm-guardian' ||
    o.version !== 1 ||
    typeof o.name !== 'string' ||
    typeof o.signingCertificate !== 'string' ||
    typeof o.encryptionCertificate !== 'string' ||
    !B64_RE.test(o.signingCertificate) ||
    !B64_RE.test(o.encryptionCertificate)
  )
    throw new FormatError(
      'GUARDIAN_METADATA',
      'not lsvm guardian metadata (format lsvm-guardian, version 1)',
      {
        structure,
      },
    );
  const g: GuardianPublic = {
    name: o.name,
    signingCertificate: new Uint8Array(Buffer.from(o.signingCertificate, 'base64')),
    encryptionCertificate: new Uint8Array(Buffer.from(o.encryptionCertificate, 'base64')),
  };
  inspectGuardian(g, structure);
  return g;
}
