import { createCipheriv, createDecipheriv } from 'node:crypto';
import {
  FormatError,
  type LsvmError,
  UnsupportedError,
  UsageError,
  VerificationError,
  isLsvmError,
  zeroize,
} from '@lsvm/core';
import { type CborValue, decodeCanonical, encodeCanonical } from './canonical-cbor.js';
import { requireSignature, signData } from './certificate.js';
import type { GuardianInfo, GuardianKeys, GuardianPublic } from './guardian.js';
import { KDF_LABELS, hkdfSha256 } from './kdf.js';
import {
  type KeyProtector,
  type KeyProtectorInfo,
  type WrappingAlgorithm,
  createKeyProtector,
  grantGuardian,
  keyProtectorFromCbor,
  keyProtectorToCbor,
  revokeGuardian,
  unwrapVerified,
  verifyKeyProtector,
} from './key-protector.js';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';
import { type PdkSecrets, decodeSecrets, encodeSecrets, zeroSecrets } from './pdk-secrets.js';
import { type RandomSource, systemRandom } from './random.js';
import { asArray, asBytes, asMap, asText, asUint } from './schema.js';
import { type VolumeIdQualifier, checkViq, viqFromCbor, viqToCbor } from './viq.js';
import { cipherAll } from './cipher-all.js';

/**
 * The shielding data file (PDK, the semantics of New-ShieldingDataFile / Msps_PDK): clear parts
 * anyone can read (policy, owner, guardians, VolumeIdQualifiers), a key protector, an encrypted
 * section (AES-256-GCM under a key derived from the transport key) holding the secrets, and the
 * owner's signature over everything. Layout: docs/formats/shielding-data.md, "Shielding data file".
 */

/** `Shielded`: only a guarded host may run the VM. `EncryptionSupported`: encrypted, but the fabric may inspect (console, debugging). */
export type PdkPolicy = 'Shielded' | 'EncryptionSupported';

/** A parsed PDK. */
export interface Pdk {
  version: 1;
  /** Creation time, seconds since the Unix epoch (UTC). */
  created: number;
  policy: PdkPolicy;
  viqs: VolumeIdQualifier[];
  keyProtector: KeyProtector;
  encrypted: { nonce: Uint8Array; ciphertext: Uint8Array };
  ownerSignature: Uint8Array;
}

/** The clear parts of a verified PDK. */
export interface PdkInfo {
  version: 1;
  created: number;
  policy: PdkPolicy;
  owner: GuardianInfo;
  guardians: (GuardianInfo & { algorithm: WrappingAlgorithm })[];
  viqs: VolumeIdQualifier[];
  /** Size of the encrypted section's ciphertext (plaintext + 16-byte tag). */
  encryptedBytes: number;
}

const S = 'PDK';
const FORMAT = 'lsvm-pdk';
const SIG_CONTEXT = 'lsvm pdk v1';
const AAD_CONTEXT = 'lsvm pdk encrypted-section v1';
const PDK_KEYS = [
  'format',
  'v',
  'created',
  'policy',
  'viqs',
  'keyProtector',
  'encrypted',
  'ownerSignature',
] as const;
const POLICIES: readonly PdkPolicy[] = ['Shielded', 'EncryptionSupported'];

function unsigned(p: Omit<Pdk, 'ownerSignature'>): Record<string, CborValue> {
  return {
    format: FORMAT,
    v: p.version,
    created: p.created,
    policy: p.policy,
    viqs: p.viqs.map(viqToCbor),
    keyProtector: keyProtectorToCbor(p.keyProtector),
    encrypted: { alg: 'A256GCM', nonce: p.encrypted.nonce, ciphertext: p.encrypted.ciphertext },
  };
}

function signedBytes(p: Omit<Pdk, 'ownerSignature'>): Uint8Array {
  return encodeCanonical([SIG_CONTEXT, unsigned(p)]);
}

function aad(created: number, policy: PdkPolicy, viqs: VolumeIdQualifier[]): Uint8Array {
  return encodeCanonical([AAD_CONTEXT, 1, created, policy, viqs.map(viqToCbor)]);
}

/** Encodes a PDK (already signed) as canonical CBOR. */
export function encodePdk(p: Pdk): Uint8Array {
  return encodeCanonical({ ...unsigned(p), ownerSignature: p.ownerSignature });
}

/** Parses a PDK's structure (no signature checked; see {@link verifyPdk} and {@link readPdk}). */
export function parsePdk(bytes: Uint8Array, limits: Partial<ShieldingLimits> = {}): Pdk {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  const m = asMap(decodeCanonical(bytes, S, l.maxContainerBytes), 'PDK', S, PDK_KEYS);
  if (m.format !== FORMAT)
    throw new FormatError('PDK_FORMAT', `not a shielding data file (format must be "${FORMAT}")`, {
      structure: S,
    });
  if (m.v !== 1)
    throw new UnsupportedError('PDK_VERSION', `PDK version ${JSON.stringify(m.v)} is not supported (1 is)`, {
      structure: S,
    });
  const policy = asText(m.policy, 'policy', S, 32);
  if (!POLICIES.includes(policy as PdkPolicy))
    throw new FormatError('PDK_POLICY', `policy "${policy}" is not Shielded or EncryptionSupported`, {
      structure: S,
    });
  const e = asMap(m.encrypted, 'encrypted', S, ['alg', 'nonce', 'ciphertext']);
  if (e.alg !== 'A256GCM')
    throw new UnsupportedError('PDK_CIPHER', 'encrypted section algorithm is not A256GCM', { structure: S });
  const ciphertext = asBytes(e.ciphertext, 'ciphertext', S, l.maxContainerBytes);
  if (ciphertext.length < 16)
    throw new FormatError('PDK_CIPHERTEXT', 'ciphertext is shorter than its 16-byte tag', { structure: S });
  return {
    version: 1,
    created: asUint(m.created, 'created', S),
    policy: policy as PdkPolicy,
    viqs: asArray(m.viqs, 'viqs', S, l.maxViqs, 'PDK_TOO_MANY_VIQS').map((x, i) =>
      viqFromCbor(x, `${S} viq ${i}`),
    ),
    keyProtector: keyProtectorFromCbor(m.keyProtector!, l),
    encrypted: { nonce: asBytes(e.nonce, 'nonce', S, 12, 12), ciphertext },
    ownerSignature: asBytes(m.ownerSignature, 'ownerSignature', S, 2048),
  };
}

/**
 * Verifies the key protector and the owner's signature over the whole file. With `expectedOwner`
 * (signing-certificate thumbprint) also checks that the owner is who the caller trusts.
 */
export function verifyPdk(p: Pdk, options: { expectedOwner?: string } = {}): PdkInfo {
  const kp: KeyProtectorInfo = verifyKeyProtector(p.keyProtector, options);
  requireSignature(
    kp.owner.signing,
    signedBytes(p),
    p.ownerSignature,
    'PDK_OWNER_SIGNATURE',
    "owner's signature over the PDK",
    S,
  );
  return {
    version: 1,
    created: p.created,
    policy: p.policy,
    owner: kp.owner,
    guardians: kp.guardians,
    viqs: p.viqs,
    encryptedBytes: p.encrypted.ciphertext.length,
  };
}

/** Result of {@link readPdk}: the parsed file and whether its signatures verify. */
export interface PdkReadResult {
  pdk: Pdk;
  /** Present when every signature verified. */
  info?: PdkInfo;
  /** Why verification failed, when it did. */
  problem?: LsvmError;
}

/** Parses and verifies, reporting a verification failure instead of throwing it (for `pdk show`). */
export function readPdk(
  bytes: Uint8Array,
  options: { expectedOwner?: string; limits?: Partial<ShieldingLimits> } = {},
): PdkReadResult {
  const pdk = parsePdk(bytes, options.limits);
  try {
    return { pdk, info: verifyPdk(pdk, options) };
  } catch (e) {
    if (isLsvmError(e) && e.kind === 'verification') return { pdk, problem: e };
    throw e;
  }
}

/** What {@link createPdk} needs. */
export interface CreatePdkOptions {
  owner: GuardianKeys;
  guardians: GuardianPublic[];
  viqs: VolumeIdQualifier[];
  policy?: PdkPolicy;
  secrets: PdkSecrets;
  /** Seconds since the epoch (default: now). */
  created?: number;
  random?: RandomSource;
}

function seal(
  owner: GuardianKeys,
  keyProtector: KeyProtector,
  transportKey: Uint8Array,
  header: { created: number; policy: PdkPolicy; viqs: VolumeIdQualifier[] },
  secrets: PdkSecrets,
  random: RandomSource,
): Uint8Array {
  const key = hkdfSha256(transportKey, KDF_LABELS.pdkSection);
  const plain = encodeSecrets(secrets);
  const nonce = random(12);
  try {
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(aad(header.created, header.policy, header.viqs));
    const ciphertext = cipherAll(c, plain, () => c.getAuthTag());
    const unsignedPdk = { version: 1 as const, ...header, keyProtector, encrypted: { nonce, ciphertext } };
    const ownerSignature = signData(owner.signingKey, signedBytes(unsignedPdk));
    return encodePdk({ ...unsignedPdk, ownerSignature });
  } finally {
    zeroize(key, plain);
  }
}

/** Creates a signed shielding data file. */
export function createPdk(o: CreatePdkOptions): Uint8Array {
  const random = o.random ?? systemRandom;
  const created = o.created ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(created) || created < 0 || created > 0xffffffff)
    throw new UsageError('PDK_CREATED', 'created must be a u32 Unix time');
  const policy = o.policy ?? 'Shielded';
  if (!POLICIES.includes(policy)) throw new UsageError('PDK_POLICY', `unknown policy ${String(policy)}`);
  for (const v of o.viqs) checkViq(v);
  const { keyProtector, transportKey } = createKeyProtector(o.owner, o.guardians, { random });
  try {
    return seal(o.owner, keyProtector, transportKey, { created, policy, viqs: o.viqs }, o.secrets, random);
  } finally {
    zeroize(transportKey);
  }
}

function decryptWith(p: Pdk, transportKey: Uint8Array, limits?: Partial<ShieldingLimits>): PdkSecrets {
  const key = hkdfSha256(transportKey, KDF_LABELS.pdkSection);
  const ct = p.encrypted.ciphertext;
  let plain: Uint8Array;
  try {
    // authTagLength: a tag of any other length is refused by node (no truncated tags).
    const d = createDecipheriv('aes-256-gcm', key, p.encrypted.nonce, { authTagLength: 16 });
    d.setAAD(aad(p.created, p.policy, p.viqs));
    d.setAuthTag(ct.subarray(ct.length - 16));
    plain = cipherAll(d, ct.subarray(0, ct.length - 16));
  } catch (e) {
    throw new VerificationError(
      'PDK_AEAD',
      'encrypted section does not authenticate (AES-256-GCM tag mismatch)',
      { structure: S, cause: e },
    );
  } finally {
    zeroize(key);
  }
  try {
    return decodeSecrets(plain, limits);
  } finally {
    zeroize(plain);
  }
}

/**
 * Opens a PDK with a guardian's keys: verifies every signature, unwraps the transport key
 * ({@link AuthError} `KP_NOT_AUTHORISED` if the guardian is not listed) and decrypts the secrets.
 * The caller should {@link zeroSecrets} them when done.
 */
export function openPdk(
  bytes: Uint8Array | Pdk,
  guardian: GuardianKeys,
  options: { expectedOwner?: string; limits?: Partial<ShieldingLimits> } = {},
): { info: PdkInfo; secrets: PdkSecrets } {
  const p = bytes instanceof Uint8Array ? parsePdk(bytes, options.limits) : bytes;
  const info = verifyPdk(p, options);
  const tk = unwrapVerified(p.keyProtector, info, guardian);
  try {
    return { info, secrets: decryptWith(p, tk, options.limits) };
  } finally {
    zeroize(tk);
  }
}

/** Adds a guardian (owner only); the secrets and transport key are unchanged, the file is re-signed. */
export function grantPdk(
  bytes: Uint8Array,
  owner: GuardianKeys,
  guardian: GuardianPublic,
  options: { random?: RandomSource } = {},
): Uint8Array {
  const p = parsePdk(bytes);
  verifyPdk(p);
  const keyProtector = grantGuardian(p.keyProtector, owner, guardian, options);
  const unsignedPdk = { ...p, keyProtector };
  return encodePdk({ ...unsignedPdk, ownerSignature: signData(owner.signingKey, signedBytes(unsignedPdk)) });
}

/**
 * Removes a guardian (owner only). A new transport key is drawn and the secrets re-encrypted, so
 * a revoked guardian that kept the old key learns nothing from the new file.
 */
export function revokePdk(
  bytes: Uint8Array,
  owner: GuardianKeys,
  guardian: string,
  options: { random?: RandomSource } = {},
): Uint8Array {
  const random = options.random ?? systemRandom;
  const p = parsePdk(bytes);
  const { secrets } = openPdk(p, owner);
  try {
    const { keyProtector, transportKey } = revokeGuardian(p.keyProtector, owner, guardian, { random });
    try {
      const header = { created: p.created, policy: p.policy, viqs: p.viqs };
      return seal(owner, keyProtector, transportKey, header, secrets, random);
    } finally {
      zeroize(transportKey);
    }
  } finally {
    zeroSecrets(secrets);
  }
}
