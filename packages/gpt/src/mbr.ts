import { ByteWriter, FormatError } from '@lsvm/core';

/**
 * The Master Boot Record in sector 0 (UEFI spec §5.2). A GPT disk carries a *protective* MBR —
 * one record of type 0xEE covering the disk from LBA 1 — so MBR-only tools see the disk as full
 * and leave it alone (§5.2.3). Hybrid MBRs (the 0xEE record beside real MBR partitions, as Boot
 * Camp made) and plain MBR disks are recognised and reported, never read as GPT.
 */

/** Size of the MBR structure; on 4 KiB-sector disks it still occupies the first 512 bytes of LBA 0. */
export const MBR_SIZE = 512;
/** OS type of the protective record (§5.2.3, table 5-4). */
export const MBR_TYPE_GPT_PROTECTIVE = 0xee;
/** The largest SizeInLBA a record can hold; bigger disks are capped at it (§5.2.3). */
export const MBR_MAX_SECTORS = 0xffffffff;

/** One of the four 16-byte partition records at offset 446 (§5.2.1, table 5-2). */
export interface MbrRecord {
  /** 0x80 marks the legacy boot partition. */
  readonly bootIndicator: number;
  /** Start address in CHS form, the raw 3 bytes as one little-endian number. */
  readonly startChs: number;
  /** OS type; 0 means the record is unused, 0xEE is the GPT protective type. */
  readonly osType: number;
  /** End address in CHS form, raw 3 bytes little-endian. */
  readonly endChs: number;
  readonly startingLba: number;
  readonly sizeInLba: number;
}

/**
 * What sector 0 holds: `none` (no 0x55AA signature), `protective` (only 0xEE records), `hybrid`
 * (0xEE plus other records), `mbr` (a plain MBR disk: records but no 0xEE), `empty` (signature,
 * no records).
 */
export type MbrKind = 'none' | 'protective' | 'hybrid' | 'mbr' | 'empty';

/** A decoded MBR. */
export interface Mbr {
  readonly kind: MbrKind;
  /** The 440 bytes of boot code, kept so rewrites do not destroy a boot loader. */
  readonly bootCode: Uint8Array;
  /** The 4-byte unique MBR disk signature at offset 440. */
  readonly diskSignature: number;
  /** Bytes 444..445, normally zero. */
  readonly reserved: number;
  /** The four records, unused ones included (osType 0). */
  readonly records: readonly MbrRecord[];
  /** True when bytes 510..511 are 0x55 0xAA. */
  readonly hasSignature: boolean;
}

/**
 * Decodes the first 512 bytes of a disk. Pure; any 512 bytes decode (a missing signature is
 * reported through `kind: 'none'`, not thrown) so validation can say what it found.
 * @throws FormatError `GPT_MBR_TRUNCATED` when fewer than 512 bytes are given.
 */
export function parseMbr(bytes: Uint8Array): Mbr {
  if (bytes.length < MBR_SIZE) {
    throw new FormatError('GPT_MBR_TRUNCATED', `MBR needs 512 bytes, got ${bytes.length}`, {
      structure: 'MBR',
      offset: 0,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, MBR_SIZE);
  const records: MbrRecord[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 446 + i * 16;
    records.push({
      bootIndicator: bytes[o]!,
      startChs: bytes[o + 1]! | (bytes[o + 2]! << 8) | (bytes[o + 3]! << 16),
      osType: bytes[o + 4]!,
      endChs: bytes[o + 5]! | (bytes[o + 6]! << 8) | (bytes[o + 7]! << 16),
      startingLba: view.getUint32(o + 8, true),
      sizeInLba: view.getUint32(o + 12, true),
    });
  }
  const hasSignature = bytes[510] === 0x55 && bytes[511] === 0xaa;
  return {
    kind: classify(hasSignature, records),
    bootCode: bytes.slice(0, 440),
    diskSignature: view.getUint32(440, true),
    reserved: view.getUint16(444, true),
    records,
    hasSignature,
  };
}

function classify(hasSignature: boolean, records: readonly MbrRecord[]): MbrKind {
  if (!hasSignature) return 'none';
  const used = records.filter((r) => r.osType !== 0);
  if (used.length === 0) return 'empty';
  const ee = used.filter((r) => r.osType === MBR_TYPE_GPT_PROTECTIVE).length;
  if (ee === 0) return 'mbr';
  return ee === used.length ? 'protective' : 'hybrid';
}

/** The SizeInLBA a protective record must hold on a disk of `diskSectors` logical sectors (§5.2.3). */
export function protectiveSize(diskSectors: number): number {
  return Math.min(Math.max(diskSectors - 1, 0), MBR_MAX_SECTORS);
}

/** The protective 0xEE record of a parsed MBR, if any (the first one). */
export function protectiveRecord(mbr: Mbr): MbrRecord | undefined {
  return mbr.records.find((r) => r.osType === MBR_TYPE_GPT_PROTECTIVE);
}

/** Options of {@link serializeProtectiveMbr}. */
export interface ProtectiveMbrOptions {
  /** Boot code to keep (440 bytes); zeros by default. */
  bootCode?: Uint8Array;
  /** Disk signature to keep; 0 by default (§5.2.3 says it is unused on GPT disks). */
  diskSignature?: number;
}

/**
 * Builds a protective MBR for a disk of `diskSectors` logical sectors (§5.2.3, table 5-4):
 * one record, OS type 0xEE, StartingLBA 1, SizeInLBA = sectors − 1 capped at 0xFFFFFFFF,
 * StartingCHS 0x000200, EndingCHS the CHS of the last sector or 0xFFFFFF when not representable.
 * Returns 512 bytes; callers writing a 4 KiB LBA 0 pad it with zeros.
 */
export function serializeProtectiveMbr(diskSectors: number, options: ProtectiveMbrOptions = {}): Uint8Array {
  const out = new Uint8Array(MBR_SIZE);
  if (options.bootCode) out.set(options.bootCode.subarray(0, 440));
  const w = new ByteWriter(out);
  w.seek(440)
    .u32(options.diskSignature ?? 0)
    .u16(0);
  const size = protectiveSize(diskSectors);
  w.u8(0) // not bootable: firmware must not boot the record (§5.2.3)
    .u8(0x00)
    .u8(0x02)
    .u8(0x00) // StartingCHS 0/0/2, i.e. LBA 1
    .u8(MBR_TYPE_GPT_PROTECTIVE);
  const endChs = lbaToChs(size);
  w.u8(endChs & 0xff)
    .u8((endChs >>> 8) & 0xff)
    .u8(endChs >>> 16)
    .u32(1)
    .u32(size);
  out[510] = 0x55;
  out[511] = 0xaa;
  return out;
}

/**
 * CHS encoding of an LBA with the conventional 255 heads × 63 sectors geometry, as the 3 on-disk
 * bytes (head, sector | cylinder high bits, cylinder low) in one little-endian number;
 * 0xFFFFFF when the LBA is beyond what CHS can address (§5.2.3).
 */
export function lbaToChs(lba: number): number {
  const heads = 255;
  const spt = 63;
  const cyl = Math.floor(lba / (heads * spt));
  if (cyl > 1023) return 0xffffff;
  const head = Math.floor(lba / spt) % heads;
  const sector = (lba % spt) + 1;
  return head | ((sector | ((cyl >>> 2) & 0xc0)) << 8) | ((cyl & 0xff) << 16);
}
