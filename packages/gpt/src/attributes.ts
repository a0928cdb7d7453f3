import { UsageError } from '@lsvm/core';

/**
 * Partition attribute bits (UEFI spec §5.3.3, table 5-7). Bits 0–2 are defined by UEFI, 3–47
 * are reserved, 48–63 belong to the partition type; the same bit means different things for a
 * Microsoft basic data partition, a systemd discoverable partition and a ChromeOS kernel. We keep
 * the full u64 and name the common bits.
 */

/** Bit 0: the platform needs the partition to function; never delete or modify it. */
export const ATTR_REQUIRED = 1n << 0n;
/** Bit 1: firmware must not produce EFI_BLOCK_IO for it (no file system mapping). */
export const ATTR_NO_BLOCK_IO = 1n << 1n;
/** Bit 2: legacy BIOS bootable (the MBR "active" flag's equivalent). */
export const ATTR_LEGACY_BIOS_BOOTABLE = 1n << 2n;

/** Microsoft basic data: read-only (bit 60), shadow copy (61), hidden (62), no drive letter (63). */
export const ATTR_MS_READ_ONLY = 1n << 60n;
export const ATTR_MS_SHADOW_COPY = 1n << 61n;
export const ATTR_MS_HIDDEN = 1n << 62n;
export const ATTR_MS_NO_DRIVE_LETTER = 1n << 63n;

/**
 * systemd Discoverable Partitions Specification: grow-fs (bit 59), read-only (60),
 * no-auto (63) — "do not mount automatically".
 */
export const ATTR_SYSTEMD_GROWFS = 1n << 59n;
export const ATTR_SYSTEMD_READ_ONLY = 1n << 60n;
export const ATTR_SYSTEMD_NO_AUTO = 1n << 63n;

/** ChromeOS kernel partitions: priority (bits 48–51), tries left (52–55), successful (56). */
export const ATTR_CHROMEOS_SUCCESSFUL = 1n << 56n;

/** Attribute flag names, grouped by who defines them. */
export type AttributeFamily = 'uefi' | 'microsoft' | 'systemd' | 'chromeos';

/** A decoded view of an attribute word. */
export interface DecodedAttributes {
  /** The raw value. */
  readonly value: bigint;
  /** Names of the UEFI bits set: `required`, `no-block-io`, `legacy-bios-bootable`. */
  readonly uefi: readonly string[];
  /** Reserved bits 3–47 that are set (should be zero). */
  readonly reservedBits: readonly number[];
  /** The type-specific bits 48–63 that are set. */
  readonly typeBits: readonly number[];
  /** Interpretations of bits 48–63 for the partition's type family, when it has one. */
  readonly family?: AttributeFamily;
  readonly named: readonly string[];
  /** ChromeOS kernel fields, when the family is chromeos. */
  readonly chromeos?: { priority: number; triesRemaining: number; successful: boolean };
}

const MS_TYPES = new Set([
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7', // basic data
  'de94bba4-06d1-4d40-a16a-bfd50179d6ac', // Windows RE
  'e3c9e316-0b5c-4db8-817d-f92df00215ae', // reserved
]);
const CHROMEOS_KERNEL = 'fe3a2a5d-4f32-41a7-b725-accc3285a309';

/** Which type-specific family applies to a partition type (lower-case GUID). */
export function attributeFamily(typeGuid: string): AttributeFamily | undefined {
  const t = typeGuid.toLowerCase();
  if (MS_TYPES.has(t)) return 'microsoft';
  if (t === CHROMEOS_KERNEL) return 'chromeos';
  // The systemd bits apply to every Linux type of the discoverable partitions spec; we apply them
  // to the Linux family that spec lists (root/usr/verity/home/srv/var/tmp/generic/swap/xbootldr).
  if (SYSTEMD_TYPES.has(t)) return 'systemd';
  return undefined;
}

const SYSTEMD_TYPES = new Set([
  '0fc63daf-8483-4772-8e79-3d69d8477de4',
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709',
  '44479540-f297-41b2-9af7-d131d5f0458a',
  'b921b045-1df0-41c3-af44-4c6f280d3fae',
  '69dad710-2ce4-4e3c-b16c-21a1d49abed3',
  '8484680c-9521-48c6-9c11-b0720656f69e',
  'b0e01050-ee5f-4390-949a-9101b17104e9',
  '2c7357ed-ebd2-46d9-aec1-23d437ec2bf5',
  '77ff5f63-e7b6-4633-acf4-1565b864c0e6',
  '933ac7e1-2eb4-4f13-b844-0e14e2aef915',
  '3b8f8425-20e0-4f3b-907f-1a25a76f98e8',
  '4d21b016-b534-45c2-a9fb-5c16e091fd2d',
  '7ec6f557-3bc5-4aca-b293-16ef5df639d1',
  '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f',
  'bc13c2ff-59e6-4262-a352-b275fd6f7172',
]);

/** Decodes an attribute word; `typeGuid` selects how bits 48–63 are named. */
export function decodeAttributes(value: bigint, typeGuid?: string): DecodedAttributes {
  const uefi: string[] = [];
  if (value & ATTR_REQUIRED) uefi.push('required');
  if (value & ATTR_NO_BLOCK_IO) uefi.push('no-block-io');
  if (value & ATTR_LEGACY_BIOS_BOOTABLE) uefi.push('legacy-bios-bootable');
  const reservedBits: number[] = [];
  const typeBits: number[] = [];
  for (let b = 3; b < 64; b++) {
    if ((value >> BigInt(b)) & 1n) (b < 48 ? reservedBits : typeBits).push(b);
  }
  const family = typeGuid === undefined ? undefined : attributeFamily(typeGuid);
  const named: string[] = [];
  let chromeos: DecodedAttributes['chromeos'];
  if (family === 'microsoft') {
    if (value & ATTR_MS_READ_ONLY) named.push('read-only');
    if (value & ATTR_MS_SHADOW_COPY) named.push('shadow-copy');
    if (value & ATTR_MS_HIDDEN) named.push('hidden');
    if (value & ATTR_MS_NO_DRIVE_LETTER) named.push('no-drive-letter');
  } else if (family === 'systemd') {
    if (value & ATTR_SYSTEMD_GROWFS) named.push('grow-fs');
    if (value & ATTR_SYSTEMD_READ_ONLY) named.push('read-only');
    if (value & ATTR_SYSTEMD_NO_AUTO) named.push('no-auto');
  } else if (family === 'chromeos') {
    chromeos = {
      priority: Number((value >> 48n) & 0xfn),
      triesRemaining: Number((value >> 52n) & 0xfn),
      successful: (value & ATTR_CHROMEOS_SUCCESSFUL) !== 0n,
    };
    named.push(`priority=${chromeos.priority}`, `tries=${chromeos.triesRemaining}`);
    if (chromeos.successful) named.push('successful');
  }
  const out: DecodedAttributes = { value, uefi, reservedBits, typeBits, named };
  return {
    ...out,
    ...(family !== undefined ? { family } : {}),
    ...(chromeos !== undefined ? { chromeos } : {}),
  };
}

/** Formats an attribute word as the CLI and JSON show it: `0x` and 16 hex digits. */
export function formatAttributes(value: bigint): string {
  return `0x${value.toString(16).toUpperCase().padStart(16, '0')}`;
}

/**
 * Parses an attribute word: hex with a `0x` prefix (`0x8000000000000000`) or exactly 16 hex digits
 * (`8000000000000004`), else a comma list of bit numbers and names (`required,63`,
 * `legacy-bios-bootable`, `ms-hidden`, `systemd-no-auto`). `63` alone is bit 63, not 0x63.
 */
export function parseAttributes(text: string): bigint {
  const t = text.trim();
  if (/^0x[0-9a-f]{1,16}$/i.test(t)) return BigInt(t.toLowerCase());
  if (/^[0-9a-f]{16}$/i.test(t)) return BigInt(`0x${t}`);
  let v = 0n;
  for (const part of t.split(',')) {
    const p = part.trim().toLowerCase();
    // Own keys only: `constructor` or `__proto__` must not find Object.prototype members.
    const bit = /^\d+$/.test(p) ? Number(p) : Object.hasOwn(NAMED_BITS, p) ? NAMED_BITS[p] : undefined;
    if (bit === undefined || bit > 63) {
      throw new UsageError(
        'GPT_BAD_ATTRIBUTES',
        `unknown attribute ${JSON.stringify(part)} (hex word, bit number or name)`,
      );
    }
    v |= 1n << BigInt(bit);
  }
  return v;
}

const NAMED_BITS: Record<string, number> = {
  required: 0,
  'no-block-io': 1,
  'legacy-bios-bootable': 2,
  'ms-read-only': 60,
  'ms-shadow-copy': 61,
  'ms-hidden': 62,
  'ms-no-drive-letter': 63,
  'systemd-grow-fs': 59,
  'systemd-read-only': 60,
  'systemd-no-auto': 63,
  'chromeos-successful': 56,
};
