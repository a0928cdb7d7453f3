import { randomBytes } from 'node:crypto';
import { AuthError, type BlockDevice, FormatError, UsageError, zeroize } from '@lsvm/core';
import { afSplit } from './af.js';
import { luks2Identity, writeLuks1Header, writeLuks2Headers } from './header-write.js';
import { calibratePbkdf2, type KdfOptions, resolveKdf } from './kdf-params.js';
import { encryptKeyslotMaterial } from './keyslot-area.js';
import {
  defaultKeyslotEncryption,
  type Luks2KeyslotPlan,
  planLuks2Keyslot,
  stageLuks2Keyslot,
} from './keyslot-plan.js';
import { LUKS2_MAX_DIGESTS, LUKS_STRIPES, luksLimits, type LuksLimits } from './limits.js';
import { type Luks1Header, luks1CipherSpec, luks1KeyslotSectors } from './luks1-header.js';
import { type JsonObject, JsonNumber, cloneJson, isJsonObject, jsonObject } from './luks2-json.js';
import type { KeyslotPriority, Luks2Digest, Luks2Metadata } from './luks2-metadata.js';
import { type LuksVolume, readLuks } from './luks-volume.js';
import { checkKdfCost, deriveKey, pbkdf2 } from './pbkdf.js';
import { assertRequirementsMet, unlockLuks, volumeKeyMatches } from './unlock.js';

/** Key material proving the right to change keyslots: an existing passphrase or the volume key. */
export type Authorization = { passphrase: Uint8Array; keyslot?: number } | { volumeKey: Uint8Array };

/** Options of {@link addKeyslot}. */
export interface AddKeyslotOptions {
  /** Keyslot number to use (default: the first free one). */
  keyslot?: number;
  kdf?: KdfOptions;
  /** LUKS2 keyslot priority (default normal). */
  priority?: KeyslotPriority;
  /**
   * LUKS2 keyslot area cipher (cryptsetup `--keyslot-cipher`). Default as cryptsetup: the data
   * segment's cipher with the volume key's size, or aes-xts-plain64 with a 512-bit key when that
   * cannot serve.
   */
  encryption?: string;
  /**
   * Key size in bytes of {@link encryption} (cryptsetup `--keyslot-key-size` / 8); only with
   * `encryption`. Default: the largest AES key of the mode (64 for XTS, 32 otherwise).
   */
  areaKeySize?: number;
  limits?: Partial<LuksLimits>;
}

/** A new keyslot with every parameter checked, waiting for the key and passphrase. */
type PreparedKeyslot =
  | { version: 1; slot: number; iterations: number; salt: Uint8Array }
  | { version: 2; plan: Luks2KeyslotPlan; digest: number };

/** The area cipher and key size asked for, or cryptsetup's default for a `keySize`-byte key. */
function areaCipherOf(
  options: AddKeyslotOptions,
  meta: Luks2Metadata,
  keySize: number | undefined,
): { encryption: string; areaKeySize?: number } {
  if (options.encryption !== undefined)
    return {
      encryption: options.encryption,
      ...(options.areaKeySize !== undefined ? { areaKeySize: options.areaKeySize } : {}),
    };
  if (options.areaKeySize !== undefined)
    throw new UsageError('LUKS2_KEYSLOT_CIPHER', 'an area key size needs the keyslot cipher it is for');
  const d = defaultKeyslotEncryption(meta, keySize);
  return { encryption: d.encryption, areaKeySize: d.keySize };
}

/**
 * Checks and resolves a new keyslot's parameters for a key of `keySize` bytes (LUKS2: undefined
 * when not known before the unlock, then nothing is returned). Runs before any unlock or KDF, so
 * a bad option costs nothing.
 */
async function prepareKeyslot(
  volume: LuksVolume,
  keySize: number | undefined,
  digest: number,
  options: AddKeyslotOptions,
  limits: LuksLimits,
): Promise<PreparedKeyslot | undefined> {
  if (volume.version === 1) {
    const hdr = volume.header;
    if (
      options.encryption !== undefined ||
      options.areaKeySize !== undefined ||
      options.priority !== undefined
    )
      throw new UsageError(
        'LUKS1_KEYSLOT_OPTIONS',
        'LUKS1 keyslots have no own cipher, key size or priority',
      );
    const slot = options.keyslot ?? hdr.keyslots.findIndex((k) => !k.active);
    if (slot < 0) throw new UsageError('LUKS1_NO_FREE_KEYSLOT', 'all 8 LUKS1 keyslots are in use');
    const ks = Number.isInteger(slot) ? hdr.keyslots[slot] : undefined;
    if (!ks) throw new UsageError('LUKS1_BAD_KEYSLOT', `keyslot ${slot} is out of range 0…7`);
    if (ks.active) throw new UsageError('LUKS1_KEYSLOT_IN_USE', `keyslot ${slot} is in use`);
    const kdfOpt = options.kdf ?? {};
    if (kdfOpt.type !== undefined && kdfOpt.type !== 'pbkdf2')
      throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
    const kdf = await resolveKdf({ ...kdfOpt, type: 'pbkdf2', hash: hdr.hashSpec }, hdr.keyBytes, 'pbkdf2');
    if (kdf.type !== 'pbkdf2') throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
    checkKdfCost(kdf, limits, `keyslot ${slot}`);
    return { version: 1, slot, iterations: kdf.iterations, salt: kdf.salt };
  }
  if (keySize === undefined) return undefined;
  const meta = volume.active.metadata;
  const plan = await planLuks2Keyslot(meta, volume.active.binary.hdrSize, keySize, {
    ...(options.keyslot !== undefined ? { keyslot: options.keyslot } : {}),
    ...(options.kdf ? { kdf: options.kdf } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...areaCipherOf(options, meta, keySize),
    limits,
  });
  return { version: 2, plan, digest };
}

/** Writes a prepared keyslot for `volumeKey` under `passphrase`: key material first, then the header(s). */
async function commitKeyslot(
  device: BlockDevice,
  volume: LuksVolume,
  prepared: PreparedKeyslot,
  volumeKey: Uint8Array,
  passphrase: Uint8Array,
  limits: LuksLimits,
): Promise<number> {
  if (prepared.version === 1) {
    if (volume.version !== 1) throw new UsageError('LUKS_VERSION', 'a LUKS1 keyslot for a LUKS2 volume');
    const hdr = volume.header;
    const { slot, iterations, salt } = prepared;
    await writeLuks1KeyslotMaterial(device, hdr, slot, volumeKey, passphrase, iterations, salt, limits);
    const next: Luks1Header = {
      ...hdr,
      keyslots: hdr.keyslots.map((k) =>
        k.index === slot ? { ...k, active: true, iterations, salt, stripes: LUKS_STRIPES } : k,
      ),
    };
    await writeLuks1Header(device, next);
    return slot;
  }
  if (volume.version !== 2) throw new UsageError('LUKS_VERSION', 'a LUKS2 keyslot for a LUKS1 volume');
  const { id, nextSeqid } = luks2Identity(volume);
  const staged = await stageLuks2Keyslot(
    device,
    volume.active.json,
    prepared.plan,
    volumeKey,
    passphrase,
    prepared.digest,
    limits,
  );
  await writeLuks2Headers(device, id, staged.json, nextSeqid);
  return staged.keyslot;
}

/** The digest of the data segment, which a new passphrase keyslot joins. */
function boundDigest(meta: Luks2Metadata): Luks2Digest {
  const digest = meta.digests.find((d) => d.segments.length > 0) ?? meta.digests[0];
  if (!digest) throw new FormatError('LUKS2_METADATA', 'the header has no digest');
  return digest;
}

/** Size of the data key as the header records it (the key_size of a keyslot of the data digest). */
function boundKeySize(volume: LuksVolume): number | undefined {
  if (volume.version === 1) return volume.header.keyBytes;
  const meta = volume.active.metadata;
  const digest = boundDigest(meta);
  return meta.keyslots.find((k) => digest.keyslots.includes(k.id) && k.type === 'luks2')?.keySize;
}

/**
 * Recovers the data volume key from an authorization and checks it against the header. A
 * passphrase of an unbound keyslot does not authorise: its key is no volume key.
 */
async function authorize(device: BlockDevice, volume: LuksVolume, auth: Authorization, limits: LuksLimits) {
  if ('volumeKey' in auth) {
    if (!(await volumeKeyMatches(volume, auth.volumeKey)))
      throw new AuthError('LUKS_WRONG_KEY', 'the volume key does not match the header digest');
    return { volumeKey: new Uint8Array(auth.volumeKey), keyslot: undefined as number | undefined };
  }
  const r = await unlockLuks(device, volume, auth.passphrase, {
    limits,
    boundOnly: true,
    ...(auth.keyslot !== undefined ? { keyslot: auth.keyslot } : {}),
  });
  return { volumeKey: r.volumeKey, keyslot: r.keyslot };
}

/**
 * Adds a keyslot holding the volume key under `newPassphrase` (cryptsetup luksAddKey). Every
 * option is checked before the authorising unlock and the new keyslot's KDF run. The key
 * material is written first into space no header references; then the headers (LUKS2: both
 * copies, seqid + 1). A crash at any point leaves a volume that opens with the old passphrase.
 * @returns the new keyslot number.
 */
export async function addKeyslot(
  device: BlockDevice,
  auth: Authorization,
  newPassphrase: Uint8Array,
  options: AddKeyslotOptions = {},
): Promise<number> {
  const limits = luksLimits(options.limits);
  const volume = await readLuks(device);
  assertRequirementsMet(volume, 'add a keyslot');
  const digest = volume.version === 2 ? boundDigest(volume.active.metadata).id : 0;
  const knownSize = 'volumeKey' in auth ? auth.volumeKey.length : boundKeySize(volume);
  let prepared = await prepareKeyslot(volume, knownSize, digest, options, limits);
  const { volumeKey } = await authorize(device, volume, auth, limits);
  try {
    prepared ??= await prepareKeyslot(volume, volumeKey.length, digest, options, limits);
    return await commitKeyslot(device, volume, prepared!, volumeKey, newPassphrase, limits);
  } finally {
    zeroize(volumeKey);
  }
}

/** Encrypts and writes the AF material of a LUKS1 keyslot at its fixed offset. */
export async function writeLuks1KeyslotMaterial(
  device: BlockDevice,
  hdr: Luks1Header,
  slot: number,
  volumeKey: Uint8Array,
  pass: Uint8Array,
  iterations: number,
  salt: Uint8Array,
  limits: LuksLimits,
): Promise<void> {
  const ks = hdr.keyslots[slot]!;
  const dk = await deriveKey(
    { type: 'pbkdf2', hash: hdr.hashSpec, iterations, salt },
    pass,
    hdr.keyBytes,
    limits,
    `keyslot ${slot}`,
  );
  const material = afSplit(volumeKey, LUKS_STRIPES, hdr.hashSpec);
  const enc = encryptKeyslotMaterial(material, luks1CipherSpec(hdr), dk);
  zeroize(dk, material);
  if (enc.length !== luks1KeyslotSectors(hdr.keyBytes) * 512)
    throw new FormatError('LUKS1_AREA', 'keyslot size mismatch');
  await device.write(ks.keyMaterialOffset * 512, enc);
  await device.flush();
}

/** Options of {@link removeKeyslot}. */
export interface RemoveKeyslotOptions {
  /** Allow removing the last keyslot (the volume then cannot be opened by passphrase). */
  allowLast?: boolean;
}

/**
 * Removes (kills) a keyslot: the headers drop it first (both LUKS2 copies, seqid + 1), then its
 * key material is overwritten with zeros, so a crash never leaves a header pointing at wiped
 * material.
 */
export async function removeKeyslot(
  device: BlockDevice,
  keyslot: number,
  options: RemoveKeyslotOptions = {},
): Promise<void> {
  const volume = await readLuks(device);
  assertRequirementsMet(volume, 'remove a keyslot');
  if (volume.version === 1) {
    const hdr = volume.header;
    const ks = hdr.keyslots[keyslot];
    if (!ks?.active) throw new UsageError('LUKS_KEYSLOT_INACTIVE', `keyslot ${keyslot} is not in use`);
    if (!options.allowLast && hdr.keyslots.filter((k) => k.active).length === 1)
      throw new UsageError(
        'LUKS_LAST_KEYSLOT',
        `keyslot ${keyslot} is the last one; pass allowLast to remove it`,
      );
    const next: Luks1Header = {
      ...hdr,
      keyslots: hdr.keyslots.map((k) =>
        k.index === keyslot ? { ...k, active: false, iterations: 0, salt: new Uint8Array(32) } : k,
      ),
    };
    await writeLuks1Header(device, next);
    await device.write(ks.keyMaterialOffset * 512, new Uint8Array(luks1KeyslotSectors(hdr.keyBytes) * 512));
    await device.flush();
    return;
  }
  const meta = volume.active.metadata;
  const ks = meta.keyslots.find((k) => k.id === keyslot);
  if (!ks) throw new UsageError('LUKS_KEYSLOT_INACTIVE', `keyslot ${keyslot} is not in use`);
  if (!options.allowLast && meta.keyslots.filter((k) => k.type === 'luks2').length === 1)
    throw new UsageError(
      'LUKS_LAST_KEYSLOT',
      `keyslot ${keyslot} is the last one; pass allowLast to remove it`,
    );
  const json = cloneJson(volume.active.json);
  delete (json.keyslots as JsonObject)[String(keyslot)];
  for (const sec of ['digests', 'tokens'] as const) {
    const o = json[sec] as JsonObject;
    for (const k of Object.keys(o)) {
      const item = o[k];
      if (isJsonObject(item) && Array.isArray(item.keyslots))
        item.keyslots = item.keyslots.filter((x) => x !== String(keyslot));
    }
  }
  const { id, nextSeqid } = luks2Identity(volume);
  await writeLuks2Headers(device, id, json, nextSeqid);
  await device.write(ks.area.offset, new Uint8Array(ks.area.size));
  await device.flush();
}

/**
 * Changes a passphrase (cryptsetup luksChangeKey): the new passphrase goes into a new keyslot,
 * then the old keyslot is removed. At every instant one of the two passphrases opens the volume.
 * The new keyslot's options are checked before the old passphrase is tried.
 * @returns the new keyslot number.
 */
export async function changePassphrase(
  device: BlockDevice,
  oldPassphrase: Uint8Array,
  newPassphrase: Uint8Array,
  options: AddKeyslotOptions & { oldKeyslot?: number } = {},
): Promise<number> {
  const limits = luksLimits(options.limits);
  const volume = await readLuks(device);
  assertRequirementsMet(volume, 'change a passphrase');
  const { keyslot: _k, oldKeyslot, ...addOpts } = options;
  const digest = volume.version === 2 ? boundDigest(volume.active.metadata).id : 0;
  let prepared = await prepareKeyslot(volume, boundKeySize(volume), digest, addOpts, limits);
  const auth: Authorization = {
    passphrase: oldPassphrase,
    ...(oldKeyslot !== undefined ? { keyslot: oldKeyslot } : {}),
  };
  const r = await authorize(device, volume, auth, limits);
  try {
    prepared ??= await prepareKeyslot(volume, r.volumeKey.length, digest, addOpts, limits);
    const slot = await commitKeyslot(device, volume, prepared!, r.volumeKey, newPassphrase, limits);
    await removeKeyslot(device, r.keyslot!, { allowLast: true });
    return slot;
  } finally {
    zeroize(r.volumeKey);
  }
}

/**
 * Adds an unbound keyslot (cryptsetup luksAddKey --unbound): a fresh random key of `keySize`
 * bytes, with its own digest that names no segment. It cannot decrypt data; other software uses
 * such keys as secrets stored under LUKS protection. Authorisation is by an existing passphrase or
 * the volume key. The area cipher and its key size default as for {@link addKeyslot} (the data
 * segment's cipher with the volume key's size, as cryptsetup does), and every option is checked
 * before the authorising unlock and the KDF run.
 * @returns the keyslot number and the unbound key (the caller zeroes it).
 */
export async function addUnboundKeyslot(
  device: BlockDevice,
  auth: Authorization,
  passphrase: Uint8Array,
  options: AddKeyslotOptions & { keySize: number; digestIterations?: number },
): Promise<{ keyslot: number; key: Uint8Array }> {
  const limits = luksLimits(options.limits);
  const volume = await readLuks(device);
  if (volume.version !== 2) throw new UsageError('LUKS1_UNBOUND', 'LUKS1 has no unbound keys');
  assertRequirementsMet(volume, 'add a keyslot');
  if (!Number.isInteger(options.keySize) || options.keySize < 1 || options.keySize > 512)
    throw new UsageError('LUKS2_KEY_SIZE', `unbound key size ${options.keySize} is not 1…512 bytes`);
  const iterations = options.digestIterations;
  if (iterations !== undefined && (!Number.isSafeInteger(iterations) || iterations < 1000))
    throw new UsageError(
      'LUKS2_DIGEST_ITERATIONS',
      `digest iterations ${iterations} must be an integer ≥ 1000`,
    );
  if (iterations !== undefined && iterations > limits.maxPbkdf2Iterations)
    throw new UsageError(
      'LUKS2_DIGEST_ITERATIONS',
      `digest iterations ${iterations} exceed the limit of ${limits.maxPbkdf2Iterations}`,
    );
  const meta = volume.active.metadata;
  if (meta.digests.length >= LUKS2_MAX_DIGESTS)
    throw new UsageError('LUKS2_NO_DIGEST', 'no free digest for an unbound key');
  let digestId = 0;
  while (meta.digests.some((d) => d.id === digestId)) digestId++;
  // The area key is the KDF output: its size follows the area cipher, not the unbound key.
  const plan = await planLuks2Keyslot(meta, volume.active.binary.hdrSize, options.keySize, {
    ...(options.keyslot !== undefined ? { keyslot: options.keyslot } : {}),
    ...(options.kdf ? { kdf: options.kdf } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...areaCipherOf(options, meta, 'volumeKey' in auth ? auth.volumeKey.length : undefined),
    limits,
  });
  const { volumeKey } = await authorize(device, volume, auth, limits);
  zeroize(volumeKey);
  const key = new Uint8Array(randomBytes(options.keySize));
  try {
    const salt = new Uint8Array(randomBytes(32));
    const digestIterations = iterations ?? calibratePbkdf2('sha256', key.length, 125);
    const digest = await pbkdf2(key, salt, digestIterations, 'sha256', 32);
    const json = cloneJson(volume.active.json);
    (json.digests as JsonObject)[String(digestId)] = jsonObject({
      type: 'pbkdf2',
      keyslots: [],
      segments: [],
      hash: 'sha256',
      iterations: JsonNumber.of(digestIterations),
      salt: Buffer.from(salt).toString('base64'),
      digest: Buffer.from(digest).toString('base64'),
    });
    const { id, nextSeqid } = luks2Identity(volume);
    const staged = await stageLuks2Keyslot(device, json, plan, key, passphrase, digestId, limits);
    await writeLuks2Headers(device, id, staged.json, nextSeqid);
    return { keyslot: staged.keyslot, key };
  } catch (e) {
    zeroize(key);
    throw e;
  }
}
