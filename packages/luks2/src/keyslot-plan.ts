import { type BlockDevice, FormatError, UsageError, zeroize } from '@lsvm/core';
import { afSplit } from './af.js';
import { type CipherSpec, parseCipherSpec, validKeySizes } from './cipher.js';
import { type KdfOptions, resolveKdf } from './kdf-params.js';
import { encryptKeyslotMaterial } from './keyslot-area.js';
import { LUKS2_MAX_KEYSLOTS, LUKS_STRIPES, type LuksLimits } from './limits.js';
import { type JsonObject, JsonNumber, cloneJson, isJsonObject, jsonObject } from './luks2-json.js';
import type { KdfParams, KeyslotPriority, Luks2Metadata } from './luks2-metadata.js';
import { checkKdfCost, deriveKey } from './pbkdf.js';

/**
 * Creating a LUKS2 keyslot in three steps, so that everything that can be refused is refused
 * before anything costly (the memory-hard KDF, the authorising unlock) or destructive (a format's
 * wipe) happens:
 * 1. {@link planLuks2Keyslot} — keyslot number, area cipher and key size, area placement, KDF
 *    parameters and their cost against the limits. Cheap (at most a KDF calibration).
 * 2. {@link sealLuks2Keyslot} — the KDF, AF split and area encryption, in memory.
 * 3. {@link stageLuks2Keyslot} — 2, then the area written where no header points yet.
 */

/** The keyslot area cipher cryptsetup uses when the volume's own cipher cannot serve (its DEFAULT_LUKS2_KEYSLOT_CIPHER). */
export const DEFAULT_KEYSLOT_ENCRYPTION = 'aes-xts-plain64';
/** Key size in bytes of {@link DEFAULT_KEYSLOT_ENCRYPTION} (DEFAULT_LUKS2_KEYSLOT_KEYBITS / 8). */
export const DEFAULT_KEYSLOT_KEY_SIZE = 64;

/** Everything a new LUKS2 keyslot needs except the secrets, all of it validated. */
export interface Luks2KeyslotPlan {
  slot: number;
  /** Size in bytes of the key the keyslot stores (`key_size`). */
  keySize: number;
  /** Byte offset and size of the keyslot area. */
  offset: number;
  areaSize: number;
  /** Area cipher and the size of its key, which is the KDF output size (`area.key_size`). */
  encryption: CipherSpec;
  areaKeySize: number;
  kdf: KdfParams;
  priority: KeyslotPriority;
}

/** Options of {@link planLuks2Keyslot}. */
export interface Luks2KeyslotPlanOptions {
  keyslot?: number;
  kdf?: KdfOptions;
  priority?: KeyslotPriority;
  /** Area cipher. */
  encryption: string;
  /**
   * Key size of the area cipher in bytes (default: the largest AES key the mode takes: 64 for
   * XTS, 32 otherwise).
   */
  areaKeySize?: number;
  limits: LuksLimits;
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

/** Whether `encryption` with an `keySize`-byte key is an area cipher we can run. */
function usableAreaCipher(encryption: string, keySize: number): boolean {
  try {
    return validKeySizes(parseCipherSpec(encryption)).includes(keySize);
  } catch {
    return false;
  }
}

/**
 * The area cipher and key size cryptsetup picks for a new keyslot when none is given
 * (crypt_keyslot_get_encryption with CRYPT_ANY_SLOT): the data segment's cipher with the volume
 * key's size when that works as a keyslot cipher, else aes-xts-plain64 with a 512-bit key. This
 * holds for unbound keyslots too (`luksAddKey --unbound -s 128` on an aes-cbc-essiv:sha256 /
 * 256-bit volume gives an area of aes-cbc-essiv:sha256 with a 32-byte key, checked with
 * cryptsetup 2.6.1).
 * @param volumeKeySize the data key's size; default: the `key_size` of a keyslot of the data
 *   segment's digest.
 */
export function defaultKeyslotEncryption(
  meta: Luks2Metadata,
  volumeKeySize?: number,
): { encryption: string; keySize: number } {
  const seg = [...meta.segments].sort((a, b) => a.id - b.id).find((s) => s.type === 'crypt');
  if (seg) {
    const digest = meta.digests.find((d) => d.segments.includes(seg.id));
    const size =
      volumeKeySize ??
      meta.keyslots.find((k) => digest?.keyslots.includes(k.id) && k.type === 'luks2')?.keySize;
    if (size !== undefined && usableAreaCipher(seg.encryption, size))
      return { encryption: seg.encryption, keySize: size };
  }
  return { encryption: DEFAULT_KEYSLOT_ENCRYPTION, keySize: DEFAULT_KEYSLOT_KEY_SIZE };
}

/**
 * Validates and resolves everything about a new keyslot holding a `keySize`-byte key, before any
 * secret is touched.
 * @throws UsageError `LUKS2_BAD_KEYSLOT`, `LUKS2_KEYSLOT_IN_USE`, `LUKS2_KEYSLOT_KEY_SIZE` (area
 *   key size not valid for the area cipher), `LUKS2_KEYSLOT_PRIORITY`, `LUKS2_NO_SPACE`,
 *   `LUKS_KDF_OPTIONS`; UnsupportedError `LUKS_UNSUPPORTED_CIPHER`; LimitError `LUKS_KDF_COST`
 *   (the KDF asked for exceeds the limits, which would refuse to unlock it later).
 */
export async function planLuks2Keyslot(
  meta: Luks2Metadata,
  hdrSize: number,
  keySize: number,
  options: Luks2KeyslotPlanOptions,
): Promise<Luks2KeyslotPlan> {
  const ids = new Set(meta.keyslots.map((k) => k.id));
  let slot = options.keyslot;
  if (slot === undefined) {
    slot = 0;
    while (ids.has(slot)) slot++;
  }
  if (!Number.isInteger(slot) || slot < 0 || slot >= LUKS2_MAX_KEYSLOTS)
    throw new UsageError('LUKS2_BAD_KEYSLOT', `keyslot ${slot} is out of range 0…${LUKS2_MAX_KEYSLOTS - 1}`);
  if (ids.has(slot)) throw new UsageError('LUKS2_KEYSLOT_IN_USE', `keyslot ${slot} is in use`);
  const priority = options.priority ?? 1;
  if (priority !== 0 && priority !== 1 && priority !== 2)
    throw new UsageError('LUKS2_KEYSLOT_PRIORITY', `keyslot priority ${String(priority)} is not 0, 1 or 2`);
  const spec = parseCipherSpec(options.encryption);
  const sizes = validKeySizes(spec);
  const areaKeySize = options.areaKeySize ?? Math.max(...sizes);
  if (!sizes.includes(areaKeySize))
    throw new UsageError(
      'LUKS2_KEYSLOT_KEY_SIZE',
      `a ${areaKeySize * 8}-bit key is not valid for the keyslot cipher ${spec.text} (valid: ${sizes
        .map((s) => s * 8)
        .join(', ')} bits)`,
    );
  const areaSize = luks2AreaSize(keySize);
  const offset = allocateLuks2Area(meta, hdrSize, areaSize);
  const kdf = await resolveKdf(options.kdf ?? {}, areaKeySize, 'argon2id');
  checkKdfCost(kdf, options.limits, `keyslot ${slot}`);
  return { slot, keySize, offset, areaSize, encryption: spec, areaKeySize, kdf, priority };
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

/**
 * Runs the planned keyslot's KDF on `passphrase`, AF-splits `key` and encrypts it: returns the
 * area contents and `json` with the keyslot added and named by digest `digest`. Nothing is
 * written.
 */
export async function sealLuks2Keyslot(
  json: JsonObject,
  plan: Luks2KeyslotPlan,
  key: Uint8Array,
  passphrase: Uint8Array,
  digest: number,
  limits: LuksLimits,
): Promise<{ json: JsonObject; area: Uint8Array }> {
  if (key.length !== plan.keySize)
    throw new UsageError('LUKS2_KEY_SIZE', `the key has ${key.length} bytes, the plan ${plan.keySize}`);
  const next = cloneJson(json);
  const digestJson = (next.digests as JsonObject)[String(digest)];
  if (!isJsonObject(digestJson) || !Array.isArray(digestJson.keyslots))
    throw new FormatError('LUKS2_METADATA', `digest ${digest} is missing`);
  const dk = await deriveKey(plan.kdf, passphrase, plan.areaKeySize, limits, `keyslot ${plan.slot}`);
  // cryptsetup's keyslot defaults: the anti-forensic splitter hashes with the PBKDF2 hash, and with
  // sha256 for Argon2 keyslots (which have no hash of their own).
  const afHash = plan.kdf.type === 'pbkdf2' ? plan.kdf.hash : 'sha256';
  const material = afSplit(key, LUKS_STRIPES, afHash);
  let enc: Uint8Array;
  try {
    enc = encryptKeyslotMaterial(material, plan.encryption.text, dk);
  } finally {
    zeroize(dk, material);
  }
  const area = new Uint8Array(plan.areaSize);
  area.set(enc);
  const ks = jsonObject({
    type: 'luks2',
    key_size: JsonNumber.of(plan.keySize),
    af: jsonObject({ type: 'luks1', stripes: JsonNumber.of(LUKS_STRIPES), hash: afHash }),
    area: jsonObject({
      type: 'raw',
      offset: String(plan.offset),
      size: String(plan.areaSize),
      encryption: plan.encryption.text,
      key_size: JsonNumber.of(plan.areaKeySize),
    }),
    kdf: kdfJson(plan.kdf),
  });
  if (plan.priority !== 1) ks.priority = JsonNumber.of(plan.priority);
  (next.keyslots as JsonObject)[String(plan.slot)] = ks;
  digestJson.keyslots.push(String(plan.slot));
  digestJson.keyslots.sort((x, y) => Number(x) - Number(y));
  return { json: next, area };
}

/**
 * {@link sealLuks2Keyslot}, then the area written (and flushed) where the current metadata does
 * not point, so a crash here changes nothing. Returns the updated JSON — the caller writes the
 * headers.
 */
export async function stageLuks2Keyslot(
  device: BlockDevice,
  json: JsonObject,
  plan: Luks2KeyslotPlan,
  key: Uint8Array,
  passphrase: Uint8Array,
  digest: number,
  limits: LuksLimits,
): Promise<{ json: JsonObject; keyslot: number }> {
  const sealed = await sealLuks2Keyslot(json, plan, key, passphrase, digest, limits);
  await device.write(plan.offset, sealed.area);
  await device.flush();
  return { json: sealed.json, keyslot: plan.slot };
}
