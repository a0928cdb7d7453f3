import { randomBytes, randomUUID } from 'node:crypto';
import { type BlockDevice, UsageError, isGuid, zeroize } from '@lsvm/core';
import { afSplit, hashLength } from './af.js';
import { parseCipherSpec, validKeySizes } from './cipher.js';
import { writeLuks1Header, writeLuks2Headers } from './header-write.js';
import { calibratePbkdf2, type KdfOptions, resolveKdf } from './kdf-params.js';
import { encryptKeyslotMaterial } from './keyslot-area.js';
import { planLuks2Keyslot, sealLuks2Keyslot } from './keyslot-plan.js';
import { LUKS2_MAX_KEYSLOTS_SIZE, LUKS_STRIPES, luksLimits, type LuksLimits } from './limits.js';
import {
  LUKS1_KEYSLOTS,
  type Luks1Header,
  type Luks1Keyslot,
  luks1KeyslotSectors,
  serializeLuks1Header,
} from './luks1-header.js';
import { LUKS2_HDR_SIZES, fixedString } from './luks2-binary-header.js';
import { JsonNumber, jsonObject } from './luks2-json.js';
import { validateLuks2Metadata } from './metadata-validate.js';
import { checkKdfCost, deriveKey, pbkdf2 } from './pbkdf.js';

/** Options of {@link formatLuks}; defaults follow cryptsetup 2.6's luksFormat. */
export interface FormatOptions {
  /** `luks2` (default) or `luks1`. */
  type?: 'luks1' | 'luks2';
  /** Default `aes-xts-plain64`. */
  cipher?: string;
  /** Volume key size in bits: default 512 for XTS, 256 otherwise. */
  keySizeBits?: number;
  /** LUKS2 encryption sector size, 512 (default) or up to 4096. */
  sectorSize?: number;
  /** KDF of keyslot 0 (LUKS2 default argon2id calibrated to 2 s; LUKS1 PBKDF2). */
  kdf?: KdfOptions;
  /** Hash of the AF splitter, digest and (LUKS1) keyslots: default sha256. */
  hash?: string;
  /** PBKDF2 iterations of the volume-key digest (default: calibrated to 125 ms, at least 1000). */
  digestIterations?: number;
  label?: string;
  subsystem?: string;
  uuid?: string;
  /** Use this volume key instead of a random one. */
  volumeKey?: Uint8Array;
  /** LUKS2 header copy size (binary + JSON): default 16384. */
  metadataSize?: number;
  /** LUKS2 keyslots area size: default 16 MiB minus both header copies. */
  keyslotsSize?: number;
  /** LUKS2 data segment offset in bytes (default right after the keyslots area). */
  dataOffset?: number;
  /** Keyslot number for the passphrase (default 0). */
  keyslot?: number;
  limits?: Partial<LuksLimits>;
}

/** What a format produced. The caller owns `volumeKey` and should zero it. */
export interface FormatResult {
  version: 1 | 2;
  uuid: string;
  keyslot: number;
  /** Byte offset of the data segment. */
  dataOffset: number;
  /** Bytes of decrypted data the volume holds. */
  dataSize: number;
  volumeKey: Uint8Array;
}

/** Bytes zeroed per write when wiping the metadata and keyslots area. */
const WIPE_CHUNK = 1024 * 1024;

async function wipe(device: BlockDevice, start: number, end: number): Promise<void> {
  const zero = new Uint8Array(Math.min(WIPE_CHUNK, end - start));
  for (let o = start; o < end; o += zero.length) {
    const n = Math.min(zero.length, end - o);
    await device.write(o, n === zero.length ? zero : zero.subarray(0, n));
  }
}

function volumeKeyFor(options: FormatOptions, cipher: string): Uint8Array {
  const spec = parseCipherSpec(cipher);
  const bits = options.keySizeBits ?? (spec.mode === 'xts' ? 512 : 256);
  if (bits % 8 !== 0 || !validKeySizes(spec).includes(bits / 8))
    throw new UsageError('LUKS_KEY_SIZE', `${bits}-bit keys are not valid for ${cipher}`);
  if (options.volumeKey) {
    if (options.volumeKey.length * 8 !== bits)
      throw new UsageError(
        'LUKS_KEY_SIZE',
        `the given volume key has ${options.volumeKey.length * 8} bits, not ${bits}`,
      );
    return new Uint8Array(options.volumeKey);
  }
  return new Uint8Array(randomBytes(bits / 8));
}

function checkUuid(uuid: string | undefined): string {
  const u = uuid ?? randomUUID();
  if (!isGuid(u)) throw new UsageError('LUKS_UUID', `${JSON.stringify(u)} is not a UUID`);
  return u.toLowerCase();
}

/**
 * Creates a new LUKS volume on `device` (cryptsetup luksFormat), with `passphrase` in keyslot 0.
 * Everything before the data segment is wiped; the data area is left as it is.
 */
export async function formatLuks(
  device: BlockDevice,
  passphrase: Uint8Array,
  options: FormatOptions = {},
): Promise<FormatResult> {
  if (device.readOnly) throw new UsageError('READ_ONLY', 'cannot format a read-only device');
  return (options.type ?? 'luks2') === 'luks1'
    ? formatLuks1(device, passphrase, options)
    : formatLuks2(device, passphrase, options);
}

async function formatLuks2(
  device: BlockDevice,
  passphrase: Uint8Array,
  o: FormatOptions,
): Promise<FormatResult> {
  const limits = luksLimits(o.limits);
  const cipher = o.cipher ?? 'aes-xts-plain64';
  const hdrSize = o.metadataSize ?? 16384;
  if (!LUKS2_HDR_SIZES.includes(hdrSize))
    throw new UsageError(
      'LUKS2_METADATA_SIZE',
      `metadata size ${hdrSize} is not one of ${LUKS2_HDR_SIZES.join(', ')}`,
    );
  const defaultOffset = 16 * 1024 * 1024;
  const keyslotsSize =
    o.keyslotsSize ?? (o.dataOffset ?? Math.max(defaultOffset, 2 * hdrSize + 4096)) - 2 * hdrSize;
  if (keyslotsSize % 4096 !== 0 || keyslotsSize <= 0 || keyslotsSize > LUKS2_MAX_KEYSLOTS_SIZE)
    throw new UsageError(
      'LUKS2_KEYSLOTS_SIZE',
      `keyslots area size ${keyslotsSize} must be a positive multiple of 4096 up to 128 MiB`,
    );
  const dataOffset = o.dataOffset ?? 2 * hdrSize + keyslotsSize;
  if (dataOffset < 2 * hdrSize + keyslotsSize || dataOffset % 4096 !== 0)
    throw new UsageError(
      'LUKS2_DATA_OFFSET',
      `data offset ${dataOffset} must be 4096-aligned and after the keyslots area`,
    );
  const sectorSize = o.sectorSize ?? 512;
  if (![512, 1024, 2048, 4096].includes(sectorSize))
    throw new UsageError('LUKS2_SECTOR_SIZE', `sector size ${sectorSize} is not 512, 1024, 2048 or 4096`);
  if (device.size <= dataOffset)
    throw new UsageError(
      'LUKS_DEVICE_TOO_SMALL',
      `device of ${device.size} bytes is too small for a data offset of ${dataOffset}`,
    );
  const uuid = checkUuid(o.uuid);
  const label = o.label ?? '';
  const subsystem = o.subsystem ?? '';
  checkHeaderString(label, 'label');
  checkHeaderString(subsystem, 'subsystem');
  const hash = o.hash ?? 'sha256';
  const digestLen = hashLength(hash);
  const vk = volumeKeyFor(o, cipher);
  try {
    const meta = {
      keyslots: [],
      segments: [],
      digests: [],
      tokens: [],
      config: { jsonSize: hdrSize - 4096, keyslotsSize, flags: [], requirements: [] },
    };
    // Every parameter of the keyslot is checked here, before the digest, the KDF and the wipe.
    const plan = await planLuks2Keyslot(meta, hdrSize, vk.length, {
      ...(o.keyslot !== undefined ? { keyslot: o.keyslot } : {}),
      ...(o.kdf ? { kdf: o.kdf } : {}),
      encryption: cipher,
      // cryptsetup luksFormat: the keyslot area uses the data cipher with a key of the volume key's size.
      areaKeySize: vk.length,
      limits,
    });
    const digestSalt = new Uint8Array(randomBytes(32));
    const digestIterations = o.digestIterations ?? calibratePbkdf2(hash, vk.length, 125);
    const digest = await pbkdf2(vk, digestSalt, digestIterations, hash, digestLen);
    const json = jsonObject({
      keyslots: jsonObject(),
      tokens: jsonObject(),
      segments: jsonObject({
        '0': jsonObject({
          type: 'crypt',
          offset: String(dataOffset),
          size: 'dynamic',
          iv_tweak: '0',
          encryption: cipher,
          sector_size: JsonNumber.of(sectorSize),
        }),
      }),
      digests: jsonObject({
        '0': jsonObject({
          type: 'pbkdf2',
          keyslots: [],
          segments: ['0'],
          hash,
          iterations: JsonNumber.of(digestIterations),
          salt: Buffer.from(digestSalt).toString('base64'),
          digest: Buffer.from(digest).toString('base64'),
        }),
      }),
      config: jsonObject({ json_size: String(hdrSize - 4096), keyslots_size: String(keyslotsSize) }),
    });
    // The KDF runs before the wipe: a failure there leaves the device as it was.
    const sealed = await sealLuks2Keyslot(json, plan, vk, passphrase, 0, limits);
    validateLuks2Metadata(sealed.json, hdrSize);
    await wipe(device, 0, 2 * hdrSize + keyslotsSize);
    await device.write(plan.offset, sealed.area);
    await device.flush();
    await writeLuks2Headers(
      device,
      { hdrSize, uuid, label, subsystem, checksumAlgorithm: 'sha256' },
      sealed.json,
      1n,
    );
    const dataSize = device.size - dataOffset - ((device.size - dataOffset) % sectorSize);
    return { version: 2, uuid, keyslot: plan.slot, dataOffset, dataSize, volumeKey: vk };
  } catch (e) {
    zeroize(vk);
    throw e;
  }
}

/** The label and subsystem fields hold at most 47 bytes and a NUL (LUKS2 spec §2.1). */
function checkHeaderString(value: string, name: string): void {
  try {
    fixedString(value, 48, name);
  } catch {
    throw new UsageError('LUKS2_HEADER_STRING', `the ${name} must be at most 47 bytes without NUL`);
  }
}

async function formatLuks1(
  device: BlockDevice,
  passphrase: Uint8Array,
  o: FormatOptions,
): Promise<FormatResult> {
  const limits = luksLimits(o.limits);
  const cipher = o.cipher ?? 'aes-xts-plain64';
  const dash = cipher.indexOf('-');
  if (dash <= 0) throw new UsageError('LUKS_CIPHER', `cipher ${JSON.stringify(cipher)} is not cipher-mode`);
  if (o.label !== undefined || o.subsystem !== undefined)
    throw new UsageError('LUKS1_LABEL', 'LUKS1 headers have no label or subsystem');
  if (o.sectorSize !== undefined && o.sectorSize !== 512)
    throw new UsageError('LUKS1_SECTOR_SIZE', 'LUKS1 encrypts 512-byte sectors only');
  const kdfOpt = o.kdf ?? {};
  if (kdfOpt.type !== undefined && kdfOpt.type !== 'pbkdf2')
    throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
  const hash = o.hash ?? kdfOpt.hash ?? 'sha256';
  hashLength(hash);
  const uuid = checkUuid(o.uuid);
  const slot = o.keyslot ?? 0;
  if (!Number.isInteger(slot) || slot < 0 || slot >= LUKS1_KEYSLOTS)
    throw new UsageError('LUKS1_BAD_KEYSLOT', `keyslot ${slot} is out of range 0…7`);
  const vk = volumeKeyFor(o, cipher);
  try {
    // Layout of cryptsetup's LUKS_generate_phdr: keyslots from 4 KiB, each aligned to 4 KiB,
    // data aligned to 1 MiB.
    const slotSectors = Math.ceil(luks1KeyslotSectors(vk.length) / 8) * 8;
    const keyslots: Luks1Keyslot[] = [];
    for (let i = 0; i < LUKS1_KEYSLOTS; i++)
      keyslots.push({
        index: i,
        active: false,
        iterations: 0,
        salt: new Uint8Array(32),
        keyMaterialOffset: 8 + i * slotSectors,
        stripes: LUKS_STRIPES,
      });
    const end = 8 + LUKS1_KEYSLOTS * slotSectors;
    const payloadSectors = o.dataOffset !== undefined ? o.dataOffset / 512 : Math.ceil(end / 2048) * 2048;
    if (!Number.isInteger(payloadSectors) || payloadSectors < end)
      throw new UsageError(
        'LUKS1_DATA_OFFSET',
        `data offset must be whole sectors after the keyslots (≥ ${end * 512})`,
      );
    if (device.size <= payloadSectors * 512)
      throw new UsageError(
        'LUKS_DEVICE_TOO_SMALL',
        `device of ${device.size} bytes is too small for a data offset of ${payloadSectors * 512}`,
      );
    const kdf = await resolveKdf({ ...kdfOpt, type: 'pbkdf2', hash }, vk.length, 'pbkdf2');
    if (kdf.type !== 'pbkdf2') throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
    checkKdfCost(kdf, limits, `keyslot ${slot}`);
    const mkDigestSalt = new Uint8Array(randomBytes(32));
    const mkDigestIterations = o.digestIterations ?? calibratePbkdf2(hash, vk.length, 125);
    const mkDigest = await pbkdf2(vk, mkDigestSalt, mkDigestIterations, hash, 20);
    const hdr: Luks1Header = {
      version: 1,
      cipherName: cipher.slice(0, dash),
      cipherMode: cipher.slice(dash + 1),
      hashSpec: hash,
      payloadOffset: payloadSectors,
      keyBytes: vk.length,
      mkDigest,
      mkDigestSalt,
      mkDigestIterations,
      uuid,
      keyslots,
    };
    // Serialised once before anything is written: the 31-byte string fields (a long hash name
    // such as node's "id-rsassa-pkcs1-v1_5-with-sha3-256" passes getHashes()) are refused here,
    // not after the wipe.
    serializeLuks1Header(hdr);
    // The KDF runs before the wipe: a failure there leaves the device as it was.
    const dk = await deriveKey(kdf, passphrase, vk.length, limits, `keyslot ${slot}`);
    const material = afSplit(vk, LUKS_STRIPES, hash);
    let enc: Uint8Array;
    try {
      enc = encryptKeyslotMaterial(material, cipher, dk);
    } finally {
      zeroize(dk, material);
    }
    await wipe(device, 0, payloadSectors * 512);
    await device.write(keyslots[slot]!.keyMaterialOffset * 512, enc);
    keyslots[slot] = { ...keyslots[slot]!, active: true, iterations: kdf.iterations, salt: kdf.salt };
    await writeLuks1Header(device, hdr);
    return {
      version: 1,
      uuid,
      keyslot: slot,
      dataOffset: payloadSectors * 512,
      dataSize: device.size - payloadSectors * 512 - (device.size % 512),
      volumeKey: vk,
    };
  } catch (e) {
    zeroize(vk);
    throw e;
  }
}
