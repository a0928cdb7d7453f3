import {
  type KeyObject,
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
} from 'node:crypto';
import {
  AuthError,
  FormatError,
  UnsupportedError,
  UsageError,
  VerificationError,
  constantTimeEqual,
  zeroize,
} from '@lsvm/core';
import { type CborValue, decodeCanonical, encodeCanonical } from './canonical-cbor.js';
import {
  type CertificateInfo,
  keyMatchesCertificate,
  requireSignature,
  sha256,
  signData,
} from './certificate.js';
import { type GuardianInfo, type GuardianKeys, type GuardianPublic, inspectGuardian } from './guardian.js';
import { KDF_LABELS, hkdfSha256, hmacSha256 } from './kdf.js';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';
import { macEqual } from './mac-equal.js';
import { rsaOaepEncrypt } from './oaep.js';
import { type RandomSource, systemRandom } from './random.js';
import { asArray, asBytes, asMap, asText } from './schema.js';
import { cipherAll } from './cipher-all.js';

/**
 * The key protector, with the semantics of [MS-KPS]: a random 256-bit transport key wrapped once
 * per guardian (the owner first, then each fabric); per wrapping the guardian's certificates, the
 * wrapped key and a certificate signature made by the owner (the owner's own is self-rooted); a
 * MAC over all wrappings keyed from the transport key (proving the wrappings were made by someone
 * holding it); and the owner's signature over the whole. Layout and algorithms:
 * docs/formats/shielding-data.md, "Key protector".
 */

/** Transport key length in bytes. */
export const TRANSPORT_KEY_BYTES = 32;

/** How a wrapping carries the transport key. */
export type WrappingAlgorithm = 'RSA-OAEP-256' | 'ECDH-ES+A256KW';

/** One guardian's wrapping of the transport key. */
export interface Wrapping {
  guardian: GuardianPublic;
  algorithm: WrappingAlgorithm;
  /** Ephemeral public key (SPKI DER) of ECDH-ES+A256KW; absent for RSA-OAEP-256. */
  ephemeralKey?: Uint8Array;
  /** The wrapped transport key: RSA ciphertext, or 40-byte AES key wrap output. */
  wrappedKey: Uint8Array;
  /** Owner's signature over this guardian's name and certificates. */
  certificateSignature: Uint8Array;
}

/** A key protector. `wrappings[0]` is the owner. */
export interface KeyProtector {
  version: 1;
  wrappings: Wrapping[];
  /** HMAC-SHA256 over the wrappings under a key derived from the transport key. */
  wrappingMac: Uint8Array;
  /** Owner's signature over version, wrappings and MAC. */
  ownerSignature: Uint8Array;
}

/** What anyone can learn and check without a private key. */
export interface KeyProtectorInfo {
  owner: GuardianInfo;
  /** Every guardian, the owner first. */
  guardians: (GuardianInfo & { algorithm: WrappingAlgorithm })[];
}

const S = 'key protector';
const CERT_CONTEXT = 'lsvm key-protector certificate v1';
const MAC_CONTEXT = 'lsvm key-protector wrappings v1';
const SIG_CONTEXT = 'lsvm key-protector v1';

const WRAPPING_KEYS = [
  'name',
  'signingCert',
  'encryptionCert',
  'alg',
  'epk',
  'wrappedKey',
  'certSignature',
] as const;
const KP_KEYS = ['v', 'wrappings', 'wrappingMac', 'ownerSignature'] as const;

function wrappingToCbor(w: Wrapping): CborValue {
  const m: Record<string, CborValue> = {
    name: w.guardian.name,
    signingCert: w.guardian.signingCertificate,
    encryptionCert: w.guardian.encryptionCertificate,
    alg: w.algorithm,
    wrappedKey: w.wrappedKey,
    certSignature: w.certificateSignature,
  };
  if (w.ephemeralKey !== undefined) m.epk = w.ephemeralKey;
  return m;
}

/** The key protector as a canonical CBOR value (for embedding in a PDK). */
export function keyProtectorToCbor(kp: KeyProtector): CborValue {
  return {
    v: kp.version,
    wrappings: kp.wrappings.map(wrappingToCbor),
    wrappingMac: kp.wrappingMac,
    ownerSignature: kp.ownerSignature,
  };
}

/** Encodes a key protector as a standalone canonical CBOR file. */
export function encodeKeyProtector(kp: KeyProtector): Uint8Array {
  return encodeCanonical(keyProtectorToCbor(kp));
}

/** Reads a key protector from decoded CBOR; checks types, certificates and algorithms (not signatures). */
export function keyProtectorFromCbor(v: CborValue, limits: Partial<ShieldingLimits> = {}): KeyProtector {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  const m = asMap(v, 'key protector', S, KP_KEYS);
  if (m.v !== 1)
    throw new UnsupportedError(
      'KP_VERSION',
      `key protector version ${JSON.stringify(m.v)} is not supported (1 is)`,
      { structure: S },
    );
  const list = asArray(m.wrappings, 'wrappings', S, l.maxGuardians, 'KP_TOO_MANY_GUARDIANS');
  if (list.length === 0)
    throw new FormatError('KP_NO_OWNER', 'key protector has no wrappings (the owner must be first)', {
      structure: S,
    });
  const seen = new Set<string>();
  const wrappings = list.map((x, i): Wrapping => {
    const where = `${S} wrapping ${i}`;
    const w = asMap(x, 'wrapping', where, WRAPPING_KEYS);
    const guardian: GuardianPublic = {
      name: asText(w.name, 'name', where, 128),
      signingCertificate: asBytes(w.signingCert, 'signingCert', where, l.maxCertificateBytes),
      encryptionCertificate: asBytes(w.encryptionCert, 'encryptionCert', where, l.maxCertificateBytes),
    };
    const info = inspectGuardian(guardian, where);
    if (seen.has(info.id))
      throw new FormatError('KP_DUPLICATE_GUARDIAN', `guardian ${info.id} appears twice`, {
        structure: where,
      });
    seen.add(info.id);
    const alg = asText(w.alg, 'alg', where, 32);
    const expected = algorithmFor(info.encryption);
    if (alg !== 'RSA-OAEP-256' && alg !== 'ECDH-ES+A256KW')
      throw new UnsupportedError('KP_WRAP_ALGORITHM', `wrapping algorithm ${alg} is not supported`, {
        structure: where,
      });
    if (alg !== expected)
      throw new FormatError(
        'KP_WRAP_ALGORITHM',
        `wrapping algorithm ${alg} does not fit a ${info.encryption.keyType} key`,
        {
          structure: where,
        },
      );
    const out: Wrapping = {
      guardian,
      algorithm: alg,
      wrappedKey: asBytes(w.wrappedKey, 'wrappedKey', where, 2048),
      certificateSignature: asBytes(w.certSignature, 'certSignature', where, 2048),
    };
    if (alg === 'ECDH-ES+A256KW') {
      out.ephemeralKey = asBytes(w.epk, 'epk', where, 512);
      if (out.wrappedKey.length !== TRANSPORT_KEY_BYTES + 8)
        throw new FormatError(
          'KP_WRAPPED_KEY',
          `AES key wrap output must be ${TRANSPORT_KEY_BYTES + 8} bytes`,
          { structure: where },
        );
    } else {
      if (w.epk !== undefined)
        throw new FormatError('KP_EPK', 'RSA-OAEP-256 wrapping must not carry epk', { structure: where });
      if (out.wrappedKey.length !== Math.ceil(info.encryption.keyBits / 8))
        throw new FormatError(
          'KP_WRAPPED_KEY',
          'RSA-OAEP ciphertext length differs from the modulus length',
          { structure: where },
        );
    }
    return out;
  });
  return {
    version: 1,
    wrappings,
    wrappingMac: asBytes(m.wrappingMac, 'wrappingMac', S, 32, 32),
    ownerSignature: asBytes(m.ownerSignature, 'ownerSignature', S, 2048),
  };
}

/** Parses a standalone key protector file (structure only; call {@link verifyKeyProtector}). */
export function parseKeyProtector(bytes: Uint8Array, limits: Partial<ShieldingLimits> = {}): KeyProtector {
  const max = limits.maxContainerBytes ?? DEFAULT_SHIELDING_LIMITS.maxContainerBytes;
  return keyProtectorFromCbor(decodeCanonical(bytes, S, max), limits);
}

function algorithmFor(c: CertificateInfo): WrappingAlgorithm {
  return c.keyType === 'rsa' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW';
}

function certSignedBytes(g: GuardianPublic): Uint8Array {
  return encodeCanonical([CERT_CONTEXT, g.name, g.signingCertificate, g.encryptionCertificate]);
}

function macBytes(wrappings: Wrapping[]): Uint8Array {
  return encodeCanonical([MAC_CONTEXT, wrappings.map(wrappingToCbor)]);
}

function ownerSignedBytes(wrappings: Wrapping[], mac: Uint8Array): Uint8Array {
  return encodeCanonical([SIG_CONTEXT, 1, wrappings.map(wrappingToCbor), mac]);
}

/**
 * Checks everything that needs no private key: certificates, the owner's certificate signature on
 * every wrapping (its own self-rooted) and the owner's signature. Throws
 * {@link VerificationError}; with `expectedOwner` (signing-certificate thumbprint) also checks who
 * the owner is.
 */
export function verifyKeyProtector(
  kp: KeyProtector,
  options: { expectedOwner?: string } = {},
): KeyProtectorInfo {
  const guardians = kp.wrappings.map((w, i) => ({
    ...inspectGuardian(w.guardian, `${S} wrapping ${i}`),
    algorithm: w.algorithm,
  }));
  const owner = guardians[0];
  if (!owner) throw new FormatError('KP_NO_OWNER', 'key protector has no wrappings', { structure: S });
  if (options.expectedOwner !== undefined && owner.id !== options.expectedOwner.toLowerCase())
    throw new VerificationError(
      'KP_OWNER_MISMATCH',
      `owner ${owner.id} is not the expected owner ${options.expectedOwner}`,
      {
        structure: S,
      },
    );
  for (const [i, w] of kp.wrappings.entries())
    requireSignature(
      owner.signing,
      certSignedBytes(w.guardian),
      w.certificateSignature,
      'KP_CERT_SIGNATURE',
      `certificate signature of wrapping ${i}`,
      S,
    );
  requireSignature(
    owner.signing,
    ownerSignedBytes(kp.wrappings, kp.wrappingMac),
    kp.ownerSignature,
    'KP_OWNER_SIGNATURE',
    "owner's signature",
    S,
  );
  return { owner, guardians };
}

/** Options of the key protector writers. */
export interface KeyProtectorWriteOptions {
  random?: RandomSource;
}

function ephemeralKey(curve: 'P-256' | 'P-384', random: RandomSource): KeyObject {
  const size = curve === 'P-256' ? 32 : 48;
  const ecdhName = curve === 'P-256' ? 'prime256v1' : 'secp384r1';
  for (let attempt = 0; attempt < 16; attempt++) {
    const d = random(size);
    try {
      const ecdh = createECDH(ecdhName);
      ecdh.setPrivateKey(d);
      const pub = ecdh.getPublicKey(null, 'uncompressed');
      const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
      return createPrivateKey({
        key: {
          kty: 'EC',
          crv: curve,
          d: b64(d),
          x: b64(pub.subarray(1, 1 + size)),
          y: b64(pub.subarray(1 + size)),
        },
        format: 'jwk',
      });
    } catch {
      // scalar out of range (probability ~2^-32): draw again
    } finally {
      d.fill(0);
    }
  }
  throw new UsageError('KP_RANDOM', 'random source produced no valid EC scalar in 16 draws');
}

function ecdhKek(z: Uint8Array, epk: Uint8Array, encryptionCert: Uint8Array): Uint8Array {
  const label = new TextEncoder().encode(KDF_LABELS.ecdhKek);
  const info = new Uint8Array(label.length + 64);
  info.set(label);
  info.set(sha256(epk), label.length);
  info.set(sha256(encryptionCert), label.length + 32);
  return hkdfSha256(z, info, 32);
}

const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex'); // RFC 3394 §2.2.3.1 default IV

function wrapFor(
  g: GuardianPublic,
  transportKey: Uint8Array,
  random: RandomSource,
): Pick<Wrapping, 'algorithm' | 'ephemeralKey' | 'wrappedKey'> {
  const info = inspectGuardian(g);
  if (info.encryption.keyType === 'rsa') {
    const seed = random(32);
    try {
      return {
        algorithm: 'RSA-OAEP-256',
        wrappedKey: rsaOaepEncrypt(info.encryption.publicKey, transportKey, seed),
      };
    } finally {
      seed.fill(0);
    }
  }
  const eph = ephemeralKey(info.encryption.curve!, random);
  const epk = new Uint8Array(createPublicKey(eph).export({ type: 'spki', format: 'der' }));
  const z = new Uint8Array(diffieHellman({ privateKey: eph, publicKey: info.encryption.publicKey }));
  const kek = ecdhKek(z, epk, g.encryptionCertificate);
  try {
    const c = createCipheriv('id-aes256-wrap', kek, KW_IV);
    const wrapped = cipherAll(c, transportKey);
    return { algorithm: 'ECDH-ES+A256KW', ephemeralKey: epk, wrappedKey: wrapped };
  } finally {
    zeroize(z, kek);
  }
}

function assemble(
  owner: GuardianKeys,
  guardians: GuardianPublic[],
  transportKey: Uint8Array,
  random: RandomSource,
  keep?: KeyProtector,
): KeyProtector {
  const ownerInfo = inspectGuardian(owner, 'owner');
  if (!keyMatchesCertificate(owner.signingKey, ownerInfo.signing))
    throw new UsageError('KP_OWNER_KEY', "owner's signing key does not match its certificate");
  const all = [owner as GuardianPublic, ...guardians];
  const ids = new Set<string>();
  const wrappings: Wrapping[] = all.map((g, i) => {
    const id = inspectGuardian(g).id;
    if (ids.has(id))
      throw new UsageError('KP_DUPLICATE_GUARDIAN', `guardian "${g.name}" (${id}) is listed twice`);
    ids.add(id);
    const kept = keep?.wrappings.find((w) => inspectGuardian(w.guardian).id === id);
    const wrapped = kept ?? { ...wrapFor(g, transportKey, random), guardian: g };
    return {
      guardian: {
        name: g.name,
        signingCertificate: g.signingCertificate,
        encryptionCertificate: g.encryptionCertificate,
      },
      algorithm: wrapped.algorithm,
      ...(wrapped.ephemeralKey !== undefined ? { ephemeralKey: wrapped.ephemeralKey } : {}),
      wrappedKey: wrapped.wrappedKey,
      certificateSignature:
        i === 0 || kept === undefined
          ? signData(owner.signingKey, certSignedBytes(g))
          : kept.certificateSignature,
    };
  });
  const macKey = hkdfSha256(transportKey, KDF_LABELS.wrappingMac);
  const wrappingMac = hmacSha256(macKey, macBytes(wrappings));
  zeroize(macKey);
  const ownerSignature = signData(owner.signingKey, ownerSignedBytes(wrappings, wrappingMac));
  return { version: 1, wrappings, wrappingMac, ownerSignature };
}

/**
 * Creates a key protector for `owner` (who can always unwrap) and `guardians`. Returns the
 * transport key too: the caller derives its keys from it and must zero it.
 */
export function createKeyProtector(
  owner: GuardianKeys,
  guardians: GuardianPublic[],
  options: KeyProtectorWriteOptions & { transportKey?: Uint8Array } = {},
): { keyProtector: KeyProtector; transportKey: Uint8Array } {
  const random = options.random ?? systemRandom;
  const transportKey = options.transportKey
    ? new Uint8Array(options.transportKey)
    : random(TRANSPORT_KEY_BYTES);
  if (transportKey.length !== TRANSPORT_KEY_BYTES)
    throw new UsageError('KP_TRANSPORT_KEY', 'transport key must be 32 bytes');
  return { keyProtector: assemble(owner, guardians, transportKey, random), transportKey };
}

/**
 * Unwraps the transport key with a guardian's private encryption key, after verifying the
 * structure and before returning checking the wrapping MAC. Throws {@link AuthError}
 * `KP_NOT_AUTHORISED` when the guardian is not listed.
 */
export function unwrapTransportKey(
  kp: KeyProtector,
  guardian: GuardianKeys,
  options: { expectedOwner?: string } = {},
): Uint8Array {
  return unwrapVerified(kp, verifyKeyProtector(kp, options), guardian);
}

/**
 * {@link unwrapTransportKey} for a key protector whose structure the caller has just verified
 * (`info` from {@link verifyKeyProtector}); saves verifying the signatures twice. Internal.
 */
export function unwrapVerified(kp: KeyProtector, info: KeyProtectorInfo, guardian: GuardianKeys): Uint8Array {
  const me = inspectGuardian(guardian, 'guardian');
  const index = info.guardians.findIndex((g) => constantTimeEqual(g.encryption.der, me.encryption.der));
  if (index < 0)
    throw new AuthError(
      'KP_NOT_AUTHORISED',
      `guardian "${guardian.name}" is not authorised by this key protector`,
      { structure: S },
    );
  const w = kp.wrappings[index]!;
  let key: Uint8Array;
  try {
    if (w.algorithm === 'RSA-OAEP-256') {
      key = new Uint8Array(
        privateDecrypt(
          { key: guardian.encryptionKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
          w.wrappedKey,
        ),
      );
    } else {
      const epk = createPublicKey({ key: Buffer.from(w.ephemeralKey!), format: 'der', type: 'spki' });
      const z = new Uint8Array(diffieHellman({ privateKey: guardian.encryptionKey, publicKey: epk }));
      const kek = ecdhKek(z, w.ephemeralKey!, w.guardian.encryptionCertificate);
      try {
        const d = createDecipheriv('id-aes256-wrap', kek, KW_IV);
        key = cipherAll(d, w.wrappedKey);
      } finally {
        zeroize(z, kek);
      }
    }
  } catch (e) {
    throw new AuthError('KP_UNWRAP_FAILED', `wrapping ${index} does not unwrap with this guardian's key`, {
      structure: S,
      cause: e,
    });
  }
  if (key.length !== TRANSPORT_KEY_BYTES) {
    zeroize(key);
    throw new AuthError('KP_UNWRAP_FAILED', `wrapping ${index} unwrapped to a key of the wrong length`, {
      structure: S,
    });
  }
  const macKey = hkdfSha256(key, KDF_LABELS.wrappingMac);
  const ok = macEqual(hmacSha256(macKey, macBytes(kp.wrappings)), kp.wrappingMac);
  zeroize(macKey);
  if (!ok) {
    zeroize(key);
    throw new VerificationError(
      'KP_WRAPPING_MAC',
      'wrapping MAC does not verify under the unwrapped transport key',
      { structure: S },
    );
  }
  return key;
}

function requireOwner(kp: KeyProtector, owner: GuardianKeys): void {
  const info = verifyKeyProtector(kp);
  const me = inspectGuardian(owner, 'owner');
  if (me.id !== info.owner.id)
    throw new AuthError('KP_NOT_OWNER', `"${owner.name}" is not the owner of this key protector`, {
      structure: S,
    });
}

/** Adds a guardian (owner only). The transport key is unchanged; existing wrappings are kept. */
export function grantGuardian(
  kp: KeyProtector,
  owner: GuardianKeys,
  guardian: GuardianPublic,
  options: KeyProtectorWriteOptions = {},
): KeyProtector {
  requireOwner(kp, owner);
  const transportKey = unwrapTransportKey(kp, owner);
  try {
    const others = kp.wrappings.slice(1).map((w) => w.guardian);
    return assemble(owner, [...others, guardian], transportKey, options.random ?? systemRandom, kp);
  } finally {
    zeroize(transportKey);
  }
}

/**
 * Removes a guardian (owner only), by name or id (signing-certificate thumbprint). A revoked
 * guardian may have kept the old transport key, so the result uses a NEW transport key, wrapped
 * afresh for everyone left; the caller re-encrypts whatever the old key protected.
 */
export function revokeGuardian(
  kp: KeyProtector,
  owner: GuardianKeys,
  guardian: string,
  options: KeyProtectorWriteOptions = {},
): { keyProtector: KeyProtector; transportKey: Uint8Array } {
  requireOwner(kp, owner);
  const infos = kp.wrappings.map((w) => inspectGuardian(w.guardian));
  const hits = infos
    .map((g, i) => ({ g, i }))
    .filter(({ g }) => g.name === guardian || g.id === guardian.toLowerCase());
  if (hits.length === 0)
    throw new UsageError('KP_GUARDIAN_UNKNOWN', `no guardian "${guardian}" in this key protector`);
  if (hits.length > 1)
    throw new UsageError(
      'KP_GUARDIAN_AMBIGUOUS',
      `"${guardian}" names ${hits.length} guardians; give the id`,
    );
  if (hits[0]!.i === 0) throw new UsageError('KP_REVOKE_OWNER', 'the owner cannot be revoked');
  const rest = kp.wrappings.filter((_, i) => i !== 0 && i !== hits[0]!.i).map((w) => w.guardian);
  return createKeyProtector(owner, rest, options);
}
