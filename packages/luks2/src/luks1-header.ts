import { ByteReader, ByteWriter, FormatError, UsageError, constantTimeEqual } from '@lsvm/core';
import { LUKS_STRIPES } from './limits.js';

/**
 * The LUKS1 phdr (LUKS1 On-Disk Format Specification v1.2.3, §2.4 and Figure 1): 592 big-endian
 * bytes at sector 0, eight keyslot descriptors of 48 bytes each at byte 208.
 *
 * ```
 *   0 magic[6] "LUKS\xba\xbe"   6 version u16 = 1     8 cipher-name[32]   40 cipher-mode[32]
 *  72 hash-spec[32]  104 payload-offset u32 (sectors)  108 key-bytes u32  112 mk-digest[20]
 * 132 mk-digest-salt[32]  164 mk-digest-iter u32  168 uuid[40]  208 keyslots[8] × 48:
 *      active u32 (0x00AC71F3 / 0x0000DEAD), iterations u32, salt[32],
 *      key-material-offset u32 (sectors), stripes u32
 * ```
 */

/** Size of the LUKS1 header. */
export const LUKS1_HEADER_SIZE = 592;
/** Number of LUKS1 keyslots. */
export const LUKS1_KEYSLOTS = 8;
/** `active` value of an enabled keyslot. */
export const LUKS1_KEY_ENABLED = 0x00ac71f3;
/** `active` value of a disabled keyslot. */
export const LUKS1_KEY_DISABLED = 0x0000dead;
const MAGIC = new Uint8Array([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
const STRUCT = 'LUKS1 header';

/** One LUKS1 keyslot descriptor. */
export interface Luks1Keyslot {
  index: number;
  /** True for 0x00AC71F3; any other value (0x0000DEAD or garbage) is an unused slot, as in cryptsetup. */
  active: boolean;
  iterations: number;
  /** 32 bytes. */
  salt: Uint8Array;
  /** In 512-byte sectors from the device start. */
  keyMaterialOffset: number;
  stripes: number;
}

/** A decoded LUKS1 header. */
export interface Luks1Header {
  version: 1;
  cipherName: string;
  cipherMode: string;
  hashSpec: string;
  /** Start of the encrypted data, in 512-byte sectors (0 for a detached header). */
  payloadOffset: number;
  keyBytes: number;
  /** 20 bytes: PBKDF2(hash, volume key, mkDigestSalt, mkDigestIterations). */
  mkDigest: Uint8Array;
  mkDigestSalt: Uint8Array;
  mkDigestIterations: number;
  uuid: string;
  keyslots: Luks1Keyslot[];
}

/** True when `bytes` starts with the LUKS magic and version 1. */
export function looksLikeLuks1(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 && constantTimeEqual(bytes.subarray(0, 6), MAGIC) && bytes[6] === 0 && bytes[7] === 1
  );
}

function field(bytes: Uint8Array, at: number, size: number): string {
  // cryptsetup forces the last byte of each string to NUL rather than rejecting; we do the same
  // (the field simply ends there) but refuse non-ASCII, which no tool writes.
  const f = bytes.subarray(at, at + size - 1);
  const nul = f.indexOf(0);
  const s = f.subarray(0, nul < 0 ? f.length : nul);
  for (const c of s)
    if (c < 0x20 || c > 0x7e)
      throw new FormatError('LUKS1_BAD_STRING', 'header string holds a non-ASCII byte', {
        structure: STRUCT,
        offset: at,
      });
  return String.fromCharCode(...s);
}

/** Sectors one keyslot's AF material occupies: ceil(keyBytes × stripes / 512). */
export function luks1KeyslotSectors(keyBytes: number, stripes = LUKS_STRIPES): number {
  return Math.ceil((keyBytes * stripes) / 512);
}

/**
 * Decodes and validates a LUKS1 header with cryptsetup's keyslot checks (keymanage.c,
 * LUKS_check_keyslots): every keyslot, active or not, has 4000 stripes, its material starts after
 * the header, ends before the payload (unless the header is detached), and no two keyslot areas
 * overlap.
 * @throws FormatError `LUKS_BAD_MAGIC`, `LUKS1_BAD_VERSION`, `LUKS1_KEYSLOT_INVALID` (message
 *   "keyslot N is invalid: …"), `LUKS1_BAD_KEY_SIZE`.
 */
export function parseLuks1Header(bytes: Uint8Array): Luks1Header {
  const r = new ByteReader(bytes, { endian: 'be', structure: STRUCT });
  r.need(LUKS1_HEADER_SIZE, 'LUKS1 header');
  if (!constantTimeEqual(r.bytesView(6), MAGIC))
    throw new FormatError('LUKS_BAD_MAGIC', 'no LUKS magic', { structure: STRUCT, offset: 0 });
  const version = r.u16();
  if (version !== 1)
    throw new FormatError('LUKS1_BAD_VERSION', `header version ${version}, expected 1`, {
      structure: STRUCT,
      offset: 6,
    });
  const cipherName = field(bytes, 8, 32);
  const cipherMode = field(bytes, 40, 32);
  // cryptsetup lower-cases the hash name on read (LUKS_fix_header_compatible).
  const hashSpec = field(bytes, 72, 32).toLowerCase();
  r.seek(104);
  const payloadOffset = r.u32();
  const keyBytes = r.u32();
  const mkDigest = r.bytesCopy(20);
  const mkDigestSalt = r.bytesCopy(32);
  const mkDigestIterations = r.u32();
  const uuid = field(bytes, 168, 40);
  r.seek(208);
  if (keyBytes === 0 || keyBytes > 256)
    throw new FormatError('LUKS1_BAD_KEY_SIZE', `key-bytes ${keyBytes} is not a valid key size`, {
      structure: STRUCT,
      offset: 108,
    });
  const keyslots: Luks1Keyslot[] = [];
  for (let i = 0; i < LUKS1_KEYSLOTS; i++) {
    const activeWord = r.u32();
    const iterations = r.u32();
    const salt = r.bytesCopy(32);
    const keyMaterialOffset = r.u32();
    const stripes = r.u32();
    keyslots.push({
      index: i,
      active: activeWord === LUKS1_KEY_ENABLED,
      iterations,
      salt,
      keyMaterialOffset,
      stripes,
    });
  }
  const hdr: Luks1Header = {
    version: 1,
    cipherName,
    cipherMode,
    hashSpec,
    payloadOffset,
    keyBytes,
    mkDigest,
    mkDigestSalt,
    mkDigestIterations,
    uuid,
    keyslots,
  };
  checkLuks1Keyslots(hdr);
  return hdr;
}

function invalidSlot(i: number, why: string, offset?: number): never {
  throw new FormatError('LUKS1_KEYSLOT_INVALID', `keyslot ${i} is invalid: ${why}`, {
    structure: STRUCT,
    ...(offset !== undefined ? { offset } : {}),
  });
}

/** cryptsetup's LUKS_check_keyslots, in its order, so the same keyslot is named. */
export function checkLuks1Keyslots(hdr: Luks1Header): void {
  const secs = luks1KeyslotSectors(hdr.keyBytes);
  for (const k of hdr.keyslots) {
    const at = 208 + 48 * k.index;
    if (k.stripes !== LUKS_STRIPES)
      invalidSlot(k.index, `${k.stripes} stripes instead of ${LUKS_STRIPES}`, at + 44);
    if (k.keyMaterialOffset * 512 < LUKS1_HEADER_SIZE)
      invalidSlot(k.index, `key material at sector ${k.keyMaterialOffset} overlaps the header`, at + 40);
    if (hdr.payloadOffset === 0) continue; // detached header
    if (hdr.payloadOffset <= k.keyMaterialOffset)
      invalidSlot(k.index, `key material at sector ${k.keyMaterialOffset} lies in the payload`, at + 40);
    if (hdr.payloadOffset < k.keyMaterialOffset + secs)
      invalidSlot(k.index, `key material [${k.keyMaterialOffset}, +${secs}) runs into the payload`, at + 40);
  }
  const sorted = [...hdr.keyslots].sort((a, b) => a.keyMaterialOffset - b.keyMaterialOffset);
  for (let i = 0; i + 1 < sorted.length; i++) {
    const prev = sorted[i]!;
    const next = sorted[i + 1]!;
    // cryptsetup names the earlier slot of the pair ("not enough space in keyslot prev").
    if (next.keyMaterialOffset < prev.keyMaterialOffset + secs)
      invalidSlot(prev.index, `key material overlaps keyslot ${next.index}`, 208 + 48 * prev.index + 40);
  }
}

/** Bytes a device must have to hold the header and every keyslot area (cryptsetup LUKS_device_sectors). */
export function luks1RequiredDeviceSize(hdr: Luks1Header): number {
  const last = Math.max(...hdr.keyslots.map((k) => k.keyMaterialOffset));
  return (last + luks1KeyslotSectors(hdr.keyBytes)) * 512;
}

/**
 * cryptsetup's LUKS_check_device_size: the device must hold every keyslot area.
 * @throws FormatError `LUKS1_DEVICE_TOO_SMALL` ("device too small")
 */
export function checkLuks1DeviceSize(hdr: Luks1Header, deviceSize: number): void {
  const need = luks1RequiredDeviceSize(hdr);
  if (deviceSize < need)
    throw new FormatError(
      'LUKS1_DEVICE_TOO_SMALL',
      `device too small: ${deviceSize} bytes, LUKS1 requires at least ${need} bytes`,
      { structure: STRUCT },
    );
}

/** Encodes a LUKS1 header into its 592 bytes. */
export function serializeLuks1Header(hdr: Luks1Header): Uint8Array {
  const w = new ByteWriter(LUKS1_HEADER_SIZE, { endian: 'be' });
  const str = (s: string, size: number, name: string): void => {
    const b = new TextEncoder().encode(s);
    if (b.length >= size)
      throw new UsageError('LUKS1_STRING_TOO_LONG', `${name} must be at most ${size - 1} bytes`);
    w.bytes(b).zeros(size - b.length);
  };
  if (hdr.keyslots.length !== LUKS1_KEYSLOTS)
    throw new UsageError('LUKS1_KEYSLOTS', 'LUKS1 has exactly 8 keyslots');
  w.bytes(MAGIC).u16(1);
  str(hdr.cipherName, 32, 'cipher-name');
  str(hdr.cipherMode, 32, 'cipher-mode');
  str(hdr.hashSpec, 32, 'hash-spec');
  w.u32(hdr.payloadOffset).u32(hdr.keyBytes);
  if (hdr.mkDigest.length !== 20 || hdr.mkDigestSalt.length !== 32)
    throw new UsageError('LUKS1_FIELD_SIZE', 'mk-digest is 20 bytes and its salt 32');
  w.bytes(hdr.mkDigest).bytes(hdr.mkDigestSalt).u32(hdr.mkDigestIterations);
  str(hdr.uuid, 40, 'uuid');
  for (const k of hdr.keyslots) {
    if (k.salt.length !== 32) throw new UsageError('LUKS1_FIELD_SIZE', 'keyslot salt is 32 bytes');
    w.u32(k.active ? LUKS1_KEY_ENABLED : LUKS1_KEY_DISABLED)
      .u32(k.iterations)
      .bytes(k.salt)
      .u32(k.keyMaterialOffset)
      .u32(k.stripes);
  }
  return w.finish();
}

/** The cipher specification (`aes-xts-plain64`) of a LUKS1 header. */
export function luks1CipherSpec(hdr: Luks1Header): string {
  return `${hdr.cipherName}-${hdr.cipherMode}`;
}
