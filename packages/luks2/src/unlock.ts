import {
  AuthError,
  type BlockDevice,
  LimitError,
  type LsvmError,
  UnsupportedError,
  constantTimeEqual,
  isLsvmError,
  zeroize,
} from '@lsvm/core';
import { afMerge, hashLength } from './af.js';
import { parseCipherSpec, validKeySizes } from './cipher.js';
import { keyMaterialSize, readKeyslotArea } from './keyslot-area.js';
import { type LuksLimits, luksLimits } from './limits.js';
import { luks1CipherSpec, luks1KeyslotSectors, type Luks1Header } from './luks1-header.js';
import type { Luks2Digest, Luks2Keyslot, Luks2Metadata } from './luks2-metadata.js';
import { type LuksVolume, unknownRequirements } from './luks-volume.js';
import { checkKdfCost, deriveKey, pbkdf2 } from './pbkdf.js';

/** Options of {@link unlockLuks}. */
export interface UnlockOptions {
  /** Try only this keyslot (also the only way to use a priority-0 "ignore" keyslot). */
  keyslot?: number;
  limits?: Partial<LuksLimits>;
  /** Skip LUKS2 keyslots holding unbound keys (what opening the data segment needs). */
  boundOnly?: boolean;
}

/** What an unlock recovered. The caller owns `volumeKey` and should zero it when done. */
export interface UnlockResult {
  volumeKey: Uint8Array;
  /** The keyslot that opened. */
  keyslot: number;
  /** LUKS2: the digest that verified the key; LUKS1: undefined. */
  digest?: number;
  /** Data segments the key belongs to (LUKS1: [0]); empty for an unbound key. */
  segments: number[];
  /** True for a LUKS2 unbound key (its digest names no segment). */
  unbound: boolean;
}

/** Keyslots of a LUKS2 header in the order cryptsetup tries them: high priority, then normal. */
export function luks2KeyslotOrder(meta: Luks2Metadata, only?: number): Luks2Keyslot[] {
  const slots = meta.keyslots.filter((k) => k.type === 'luks2');
  if (only !== undefined) return slots.filter((k) => k.id === only);
  return [...slots.filter((k) => k.priority === 2), ...slots.filter((k) => k.priority === 1)];
}

/**
 * Checks that a LUKS2 volume's requirements allow unlocking or writing.
 * @throws UnsupportedError `LUKS2_UNMET_REQUIREMENT` naming the unknown flags
 */
export function assertRequirementsMet(volume: LuksVolume, action: string): void {
  const unknown = unknownRequirements(volume);
  if (unknown.length > 0)
    throw new UnsupportedError(
      'LUKS2_UNMET_REQUIREMENT',
      `cannot ${action}: the header requires unsupported features ${unknown.map((r) => JSON.stringify(r)).join(', ')}`,
    );
}

/**
 * Recovers the volume key from a passphrase or key file content (bytes, used whole), trying each
 * keyslot in priority order: KDF → keyslot-area decryption → AF merge → digest check in constant
 * time. Costs above the limits and unsupported ciphers are reported only if no keyslot opens.
 * @throws AuthError `LUKS_WRONG_KEY`, UnsupportedError, LimitError
 */
export async function unlockLuks(
  device: BlockDevice,
  volume: LuksVolume,
  passphrase: Uint8Array,
  options: UnlockOptions = {},
): Promise<UnlockResult> {
  const limits = luksLimits(options.limits);
  assertRequirementsMet(volume, 'unlock');
  return volume.version === 1
    ? unlockLuks1(device, volume.header, passphrase, limits, options.keyslot)
    : unlockLuks2(
        device,
        volume.active.metadata,
        passphrase,
        limits,
        options.keyslot,
        options.boundOnly === true,
      );
}

function wrongKey(deferred: LsvmError | undefined, only?: number): never {
  if (deferred) throw deferred;
  throw new AuthError(
    'LUKS_WRONG_KEY',
    only === undefined
      ? 'no key available with this passphrase'
      : `keyslot ${only} does not open with this passphrase`,
  );
}

/** Remembers the first unsupported/limit error so a wrong key is not reported in its place. */
function defer(e: unknown, current: LsvmError | undefined): LsvmError | undefined {
  if (isLsvmError(e) && (e instanceof UnsupportedError || e instanceof LimitError)) return current ?? e;
  throw e;
}

async function unlockLuks2(
  device: BlockDevice,
  meta: Luks2Metadata,
  pass: Uint8Array,
  limits: LuksLimits,
  only: number | undefined,
  boundOnly: boolean,
): Promise<UnlockResult> {
  const slots = luks2KeyslotOrder(meta, only);
  let deferred: LsvmError | undefined;
  for (const ks of slots) {
    const digest = meta.digests.find((d) => d.keyslots.includes(ks.id));
    if (!digest || (boundOnly && digest.segments.length === 0)) continue;
    try {
      const vk = await openLuks2Keyslot(device, ks, digest, pass, limits);
      if (vk)
        return {
          volumeKey: vk,
          keyslot: ks.id,
          digest: digest.id,
          segments: [...digest.segments],
          unbound: digest.segments.length === 0,
        };
    } catch (e) {
      deferred = defer(e, deferred);
    }
  }
  return wrongKey(deferred, only);
}

/** Tries one LUKS2 keyslot; returns the volume key or undefined when the passphrase is wrong. */
export async function openLuks2Keyslot(
  device: BlockDevice,
  ks: Luks2Keyslot,
  digest: Luks2Digest,
  pass: Uint8Array,
  limits: LuksLimits,
): Promise<Uint8Array | undefined> {
  // Everything that can be refused is refused before the (expensive) KDF runs.
  const spec = parseCipherSpec(ks.area.encryption);
  if (!validKeySizes(spec).includes(ks.area.keySize))
    throw new UnsupportedError(
      'LUKS_UNSUPPORTED_KEY_SIZE',
      `keyslot ${ks.id}: ${ks.area.keySize * 8}-bit area key`,
    );
  hashLength(ks.af.hash);
  hashLength(digest.hash);
  checkKdfCost(ks.kdf, limits, `keyslot ${ks.id}`);
  checkKdfCost(
    { type: 'pbkdf2', hash: digest.hash, iterations: digest.iterations, salt: digest.salt },
    limits,
    `digest ${digest.id}`,
  );
  if (keyMaterialSize(ks.keySize, ks.af.stripes) > ks.area.size)
    throw new UnsupportedError('LUKS_AREA_SIZE', `keyslot ${ks.id}: key material larger than its area`);
  const dk = await deriveKey(ks.kdf, pass, ks.area.keySize, limits, `keyslot ${ks.id}`);
  try {
    const vk = await luks2KeyslotCandidate(device, ks, dk, limits);
    if (await verifyLuks2Digest(digest, vk)) return vk;
    zeroize(vk);
    return undefined;
  } finally {
    zeroize(dk);
  }
}

/**
 * The key-recovery half of a LUKS2 keyslot after the KDF: decrypt the area with the derived key
 * and AF-merge. The result is only a candidate until a digest accepts it. Exposed for the
 * `luks-open` fuzz target, which exercises everything but the (slow) KDF.
 */
export async function luks2KeyslotCandidate(
  device: BlockDevice,
  ks: Luks2Keyslot,
  derivedKey: Uint8Array,
  limits: LuksLimits,
): Promise<Uint8Array> {
  const length = keyMaterialSize(ks.keySize, ks.af.stripes);
  if (length > ks.area.size)
    throw new UnsupportedError('LUKS_AREA_SIZE', `keyslot ${ks.id}: key material larger than its area`);
  const material = await readKeyslotArea(
    device,
    ks.area.offset,
    length,
    ks.area.encryption,
    derivedKey,
    limits.maxKeyslotAreaBytes,
  );
  try {
    return afMerge(material, ks.keySize, ks.af.stripes, ks.af.hash);
  } finally {
    zeroize(material);
  }
}

/** LUKS1 counterpart of {@link luks2KeyslotCandidate}. */
export async function luks1KeyslotCandidate(
  device: BlockDevice,
  hdr: Luks1Header,
  slot: number,
  derivedKey: Uint8Array,
  limits: LuksLimits,
): Promise<Uint8Array> {
  const ks = hdr.keyslots[slot];
  if (!ks) throw new UnsupportedError('LUKS1_BAD_KEYSLOT', `keyslot ${slot} does not exist`);
  const length = luks1KeyslotSectors(hdr.keyBytes, ks.stripes) * 512;
  const material = await readKeyslotArea(
    device,
    ks.keyMaterialOffset * 512,
    length,
    luks1CipherSpec(hdr),
    derivedKey,
    limits.maxKeyslotAreaBytes,
  );
  try {
    return afMerge(material, hdr.keyBytes, ks.stripes, hdr.hashSpec);
  } finally {
    zeroize(material);
  }
}

/** Checks a candidate volume key against a LUKS2 digest (constant-time comparison). */
export async function verifyLuks2Digest(digest: Luks2Digest, volumeKey: Uint8Array): Promise<boolean> {
  const d = await pbkdf2(volumeKey, digest.salt, digest.iterations, digest.hash, digest.digest.length);
  return constantTimeEqual(d, digest.digest);
}

/** Checks a candidate volume key against the LUKS1 mk-digest (constant-time comparison). */
export async function verifyLuks1Key(hdr: Luks1Header, volumeKey: Uint8Array): Promise<boolean> {
  if (volumeKey.length !== hdr.keyBytes) return false;
  const d = await pbkdf2(volumeKey, hdr.mkDigestSalt, hdr.mkDigestIterations, hdr.hashSpec, 20);
  return constantTimeEqual(d, hdr.mkDigest);
}

async function unlockLuks1(
  device: BlockDevice,
  hdr: Luks1Header,
  pass: Uint8Array,
  limits: LuksLimits,
  only: number | undefined,
): Promise<UnlockResult> {
  const spec = parseCipherSpec(luks1CipherSpec(hdr));
  if (!validKeySizes(spec).includes(hdr.keyBytes))
    throw new UnsupportedError(
      'LUKS_UNSUPPORTED_KEY_SIZE',
      `${spec.text} with a ${hdr.keyBytes * 8}-bit key`,
    );
  hashLength(hdr.hashSpec);
  checkKdfCost(
    { type: 'pbkdf2', hash: hdr.hashSpec, iterations: hdr.mkDigestIterations, salt: hdr.mkDigestSalt },
    limits,
    'mk-digest',
  );
  let deferred: LsvmError | undefined;
  for (const ks of hdr.keyslots) {
    if (!ks.active || (only !== undefined && ks.index !== only)) continue;
    try {
      const kdf = { type: 'pbkdf2' as const, hash: hdr.hashSpec, iterations: ks.iterations, salt: ks.salt };
      const dk = await deriveKey(kdf, pass, hdr.keyBytes, limits, `keyslot ${ks.index}`);
      try {
        const vk = await luks1KeyslotCandidate(device, hdr, ks.index, dk, limits);
        if (await verifyLuks1Key(hdr, vk))
          return { volumeKey: vk, keyslot: ks.index, segments: [0], unbound: false };
        zeroize(vk);
      } finally {
        zeroize(dk);
      }
    } catch (e) {
      deferred = defer(e, deferred);
    }
  }
  return wrongKey(deferred, only);
}

/**
 * True when `volumeKey` is the volume's key: LUKS1 mk-digest, or a LUKS2 digest bound to a
 * segment (constant-time comparison).
 */
export async function volumeKeyMatches(volume: LuksVolume, volumeKey: Uint8Array): Promise<boolean> {
  if (volume.version === 1) return verifyLuks1Key(volume.header, volumeKey);
  for (const d of volume.active.metadata.digests) {
    if (d.segments.length > 0 && (await verifyLuks2Digest(d, volumeKey))) return true;
  }
  return false;
}
