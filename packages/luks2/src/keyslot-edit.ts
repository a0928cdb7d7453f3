import { randomBytes } from 'node:crypto';
import { AuthError, type BlockDevice, FormatError, UsageError, zeroize } from '@lsvm/core';
import { afSplit } from './af.js';
import { parseCipherSpec } from './cipher.js';
import { luks2Identity, writeLuks1Header, writeLuks2Headers } from './header-write.js';
import { calibratePbkdf2, type KdfOptions, resolveKdf } from './kdf-params.js';
import { encryptKeyslotMaterial } from './keyslot-area.js';
import {
  LUKS2_MAX_DIGESTS,
  LUKS2_MAX_KEYSLOTS,
  LUKS_STRIPES,
  luksLimits,
  type LuksLimits,
} from './limits.js';
import { type Luks1Header, luks1CipherSpec, luks1KeyslotSectors } from './luks1-header.js';
import { type JsonObject, JsonNumber, cloneJson, isJsonObject, jsonObject } from './luks2-json.js';
import type { KdfParams, KeyslotPriority, Luks2Metadata } from './luks2-metadata.js';
import { type LuksVolume, readLuks } from './luks-volume.js';
import { deriveKey, pbkdf2 } from './pbkdf.js';
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
  limits?: Partial<LuksLimits>;
}

/** The JSON of a KDF as cryptsetup writes it (same key order). */
export function kdfJson(kdf: KdfParams): JsonObject {
  const salt = Buffer.from(kdf.salt).toString('base64');
  if (kdf.type === 'pbkdf2')
    return jsonObject({ type: 'pbkdf2', hash: kdf.hash, iterations: JsonNumber.of(kdf.iterations), salt });
  return jsonObject({
    type: kdf.type,
    time: JsonNumber.of(kdf.time),
    memory: JsonNumber.of(kdf.memory),
    cpus: JsonNumber.of(kdf.cpus),
    salt,
  });
}

/** Area size cryptsetup gives a keyslot: the AF material rounded up to 4096 bytes. */
export function luks2AreaSize(keySize: number): number {
  return Math.ceil((keySize * LUKS_STRIPES) / 4096) * 4096;
}

/** First gap of `size` bytes in the keyslots area not used by any keyslot. */
export function allocateLuks2Area(meta: Luks2Metadata, hdrSize: number, size: number): number {
  const start = 2 * hdrSize;
  const end = start + meta.config.keyslotsSize;
  const used = meta.keyslots
    .map((k) => [k.area.offset, k.area.offset + k.area.size] as const)
    .sort((a, b) => a[0] - b[0]);
  let at = start;
  for (const [s, e] of used) {
    if (at + size <= s) break;
    if (e > at) at = e;
  }
  if (at + size > end)
    throw new UsageError(
      'LUKS2_NO_SPACE',
      `no room left for a ${size}-byte keyslot area in the keyslots area`,
    );
  return at;
}

/**
 * Builds a LUKS2 keyslot for `volumeKey` under `passphrase`, writes its encrypted key material to
 * a free area (not referenced by the current metadata, so a crash here changes nothing) and
 * returns the updated JSON — the caller writes the headers.
 */
export async function stageLuks2Keyslot(
  device: BlockDevice,
  json: JsonObject,
  meta: Luks2Metadata,
  hdrSize: number,
  volumeKey: Uint8Array,
  passphrase: Uint8Array,
  options: {
    keyslot?: number;
    kdf?: KdfOptions;
    priority?: KeyslotPriority;
    encryption: string;
    digest: number;
    limits: LuksLimits;
    /** Key size of the area cipher (default: the volume key's size, as cryptsetup does). */
    areaKeySize?: number;
  },
): Promise<{ json: JsonObject; keyslot: number }> {
  const ids = new Set(meta.keyslots.map((k) => k.id));
  let slot = options.keyslot;
  if (slot === undefined) {
    slot = 0;
    while (ids.has(slot)) slot++;
  }
  if (!Number.isInteger(slot) || slot < 0 || slot >= LUKS2_MAX_KEYSLOTS)
    throw new UsageError('LUKS2_BAD_KEYSLOT', `keyslot ${slot} is out of range 0…${LUKS2_MAX_KEYSLOTS - 1}`);
  if (ids.has(slot)) throw new UsageError('LUKS2_KEYSLOT_IN_USE', `keyslot ${slot} is in use`);
  const spec = parseCipherSpec(options.encryption);
  const areaKeySize = options.areaKeySize ?? volumeKey.length;
  const areaSize = luks2AreaSize(volumeKey.length);
  const offset = allocateLuks2Area(meta, hdrSize, areaSize);
  const kdf = await resolveKdf(options.kdf ?? {}, areaKeySize, 'argon2id');
  const dk = await deriveKey(kdf, passphrase, areaKeySize, options.limits, `keyslot ${slot}`);
  // cryptsetup's keyslot defaults: the anti-forensic splitter hashes with the PBKDF2 hash, and with
  // sha256 for Argon2 keyslots (which have no hash of their own).
  const afHash = kdf.type === 'pbkdf2' ? kdf.hash : 'sha256';
  const material = afSplit(volumeKey, LUKS_STRIPES, afHash);
  const enc = encryptKeyslotMaterial(material, spec.text, dk);
  zeroize(dk, material);
  const area = new Uint8Array(areaSize);
  area.set(enc);
  await device.write(offset, area);
  await device.flush();
  const next = cloneJson(json);
  const ks = jsonObject({
    type: 'luks2',
    key_size: JsonNumber.of(volumeKey.length),
    af: jsonObject({ type: 'luks1', stripes: JsonNumber.of(LUKS_STRIPES), hash: afHash }),
    area: jsonObject({
      type: 'raw',
      offset: String(offset),
      size: String(areaSize),
      encryption: spec.text,
      key_size: JsonNumber.of(areaKeySize),
    }),
    kdf: kdfJson(kdf),
  });
  if (options.priority !== undefined && options.priority !== 1) ks.priority = JsonNumber.of(options.priority);
  (next.keyslots as JsonObject)[String(slot)] = ks;
  const digest = (next.digests as JsonObject)[String(options.digest)];
  if (!isJsonObject(digest) || !Array.isArray(digest.keyslots))
    throw new FormatError('LUKS2_METADATA', `digest ${options.digest} is missing`);
  digest.keyslots.push(String(slot));
  sortIds(digest.keyslots);
  return { json: next, keyslot: slot };
}

function sortIds(a: unknown[]): void {
  a.sort((x, y) => Number(x) - Number(y));
}

/** Recovers the volume key from an authorization and checks it against the header. */
async function authorize(device: BlockDevice, volume: LuksVolume, auth: Authorization, limits: LuksLimits) {
  if ('volumeKey' in auth) {
    if (!(await volumeKeyMatches(volume, auth.volumeKey)))
      throw new AuthError('LUKS_WRONG_KEY', 'the volume key does not match the header digest');
    return { volumeKey: new Uint8Array(auth.volumeKey), keyslot: undefined as number | undefined };
  }
  const r = await unlockLuks(device, volume, auth.passphrase, {
    limits,
    ...(auth.keyslot !== undefined ? { keyslot: auth.keyslot } : {}),
  });
  return { volumeKey: r.volumeKey, keyslot: r.keyslot };
}

/**
 * Adds a keyslot holding the volume key under `newPassphrase` (cryptsetup luksAddKey). The key
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
  const { volumeKey } = await authorize(device, volume, auth, limits);
  try {
    if (volume.version === 1)
      return await addLuks1Keyslot(device, volume.header, volumeKey, newPassphrase, options, limits);
    const meta = volume.active.metadata;
    const digest = meta.digests.find((d) => d.segments.length > 0) ?? meta.digests[0];
    if (!digest) throw new FormatError('LUKS2_METADATA', 'the header has no digest');
    const seg = meta.segments.find((s) => digest.segments.includes(s.id));
    const template = meta.keyslots.find((k) => digest.keyslots.includes(k.id) && k.type === 'luks2');
    const encryption = template?.area.encryption ?? seg?.encryption ?? 'aes-xts-plain64';
    const { id, nextSeqid } = luks2Identity(volume);
    const staged = await stageLuks2Keyslot(
      device,
      volume.active.json,
      meta,
      id.hdrSize,
      volumeKey,
      newPassphrase,
      {
        ...(options.keyslot !== undefined ? { keyslot: options.keyslot } : {}),
        ...(options.kdf ? { kdf: options.kdf } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
        encryption,
        digest: digest.id,
        limits,
      },
    );
    await writeLuks2Headers(device, id, staged.json, nextSeqid);
    return staged.keyslot;
  } finally {
    zeroize(volumeKey);
  }
}

async function addLuks1Keyslot(
  device: BlockDevice,
  hdr: Luks1Header,
  volumeKey: Uint8Array,
  pass: Uint8Array,
  options: AddKeyslotOptions,
  limits: LuksLimits,
): Promise<number> {
  const slot = options.keyslot ?? hdr.keyslots.findIndex((k) => !k.active);
  if (slot < 0) throw new UsageError('LUKS1_NO_FREE_KEYSLOT', 'all 8 LUKS1 keyslots are in use');
  const ks = hdr.keyslots[slot];
  if (!ks) throw new UsageError('LUKS1_BAD_KEYSLOT', `keyslot ${slot} is out of range 0…7`);
  if (ks.active) throw new UsageError('LUKS1_KEYSLOT_IN_USE', `keyslot ${slot} is in use`);
  const kdfOpt = options.kdf ?? {};
  if (kdfOpt.type !== undefined && kdfOpt.type !== 'pbkdf2')
    throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
  const kdf = await resolveKdf({ ...kdfOpt, type: 'pbkdf2', hash: hdr.hashSpec }, hdr.keyBytes, 'pbkdf2');
  if (kdf.type !== 'pbkdf2') throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
  await writeLuks1KeyslotMaterial(device, hdr, slot, volumeKey, pass, kdf.iterations, kdf.salt, limits);
  const next: Luks1Header = {
    ...hdr,
    keyslots: hdr.keyslots.map((k) =>
      k.index === slot
        ? { ...k, active: true, iterations: kdf.iterations, salt: kdf.salt, stripes: LUKS_STRIPES }
        : k,
    ),
  };
  await writeLuks1Header(device, next);
  return slot;
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
  const r = await unlockLuks(device, volume, oldPassphrase, {
    limits,
    ...(options.oldKeyslot !== undefined ? { keyslot: options.oldKeyslot } : {}),
  });
  try {
    const { keyslot: _k, ...addOpts } = options;
    const slot = await addKeyslot(device, { volumeKey: r.volumeKey }, newPassphrase, addOpts);
    await removeKeyslot(device, r.keyslot, { allowLast: true });
    return slot;
  } finally {
    zeroize(r.volumeKey);
  }
}

/**
 * Adds an unbound keyslot (cryptsetup luksAddKey --unbound): a fresh random key of `keySize`
 * bytes, with its own digest that names no segment. It cannot decrypt data; other software uses
 * such keys as secrets stored under LUKS protection. Authorisation is by an existing passphrase or
 * the volume key.
 * @returns the keyslot number and the unbound key (the caller zeroes it).
 */
export async function addUnboundKeyslot(
  device: BlockDevice,
  auth: Authorization,
  passphrase: Uint8Array,
  options: AddKeyslotOptions & { keySize: number; encryption?: string; digestIterations?: number },
): Promise<{ keyslot: number; key: Uint8Array }> {
  const limits = luksLimits(options.limits);
  const volume = await readLuks(device);
  if (volume.version !== 2) throw new UsageError('LUKS1_UNBOUND', 'LUKS1 has no unbound keys');
  assertRequirementsMet(volume, 'add a keyslot');
  const { volumeKey } = await authorize(device, volume, auth, limits);
  zeroize(volumeKey);
  if (!Number.isInteger(options.keySize) || options.keySize < 1 || options.keySize > 512)
    throw new UsageError('LUKS2_KEY_SIZE', `unbound key size ${options.keySize} is not 1…512 bytes`);
  const meta = volume.active.metadata;
  if (meta.digests.length >= LUKS2_MAX_DIGESTS)
    throw new UsageError('LUKS2_NO_DIGEST', 'no free digest for an unbound key');
  const key = new Uint8Array(randomBytes(options.keySize));
  try {
    let digestId = 0;
    while (meta.digests.some((d) => d.id === digestId)) digestId++;
    const salt = new Uint8Array(randomBytes(32));
    const iterations = options.digestIterations ?? calibratePbkdf2('sha256', key.length, 125);
    const digest = await pbkdf2(key, salt, iterations, 'sha256', 32);
    const json = cloneJson(volume.active.json);
    (json.digests as JsonObject)[String(digestId)] = jsonObject({
      type: 'pbkdf2',
      keyslots: [],
      segments: [],
      hash: 'sha256',
      iterations: JsonNumber.of(iterations),
      salt: Buffer.from(salt).toString('base64'),
      digest: Buffer.from(digest).toString('base64'),
    });
    // Key sizes that are no AES-XTS key are stored with a cipher that accepts any 32-byte key
    // (the area key is the derived key, independent of the unbound key's size).
    const encryption = options.encryption ?? 'aes-xts-plain64';
    const { id, nextSeqid } = luks2Identity(volume);
    const staged = await stageLuks2Keyslot(device, json, meta, id.hdrSize, key, passphrase, {
      ...(options.keyslot !== undefined ? { keyslot: options.keyslot } : {}),
      ...(options.kdf ? { kdf: options.kdf } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      encryption,
      digest: digestId,
      limits,
      areaKeySize: 64,
    });
    await writeLuks2Headers(device, id, staged.json, nextSeqid);
    return { keyslot: staged.keyslot, key };
  } catch (e) {
    zeroize(key);
    throw e;
  }
}
