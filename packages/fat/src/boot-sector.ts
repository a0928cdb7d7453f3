import { ByteReader, FormatError, UnsupportedError, UsageError } from '@lsvm/core';

/** The three FAT variants; which one a volume is follows from its cluster count alone. */
export type FatType = 12 | 16 | 32;

/** Largest cluster count of a FAT12 volume (fatgen103 §3.5: "less than 4085"). */
export const FAT12_MAX_CLUSTERS = 4084;
/** Largest cluster count of a FAT16 volume (fatgen103 §3.5: "less than 65525"). */
export const FAT16_MAX_CLUSTERS = 65524;
/** Largest cluster count a FAT32 volume may use (28-bit entries minus the reserved values). */
export const FAT32_MAX_CLUSTERS = 0x0ffffff5;

/**
 * The BIOS Parameter Block and the rest of sector 0 (fatgen103 §3.1–§3.3), as stored. Derived
 * geometry lives in {@link FatGeometry}.
 */
export interface BootSector {
  /** BS_jmpBoot: 3 bytes, EB xx 90 or E9 xx xx. */
  jump: Uint8Array;
  /** BS_OEMName, 8 ASCII characters. */
  oemName: string;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  /** BPB_RootEntCnt: 0 on FAT32. */
  rootEntryCount: number;
  /** BPB_TotSec16 or BPB_TotSec32, whichever is used. */
  totalSectors: number;
  media: number;
  /** BPB_FATSz16 or BPB_FATSz32: sectors per FAT copy. */
  fatSectors: number;
  sectorsPerTrack: number;
  numHeads: number;
  hiddenSectors: number;
  /** True when the FAT32 layout of the extended BPB is used (BPB_FATSz16 == 0). */
  fat32Layout: boolean;
  /** FAT32 only: BPB_ExtFlags (mirroring). */
  extFlags: number;
  /** FAT32 only: BPB_FSVer. */
  fsVersion: number;
  /** FAT32 only: first cluster of the root directory. */
  rootCluster: number;
  /** FAT32 only: sector of the FSInfo structure (0 or 0xFFFF: none). */
  fsInfoSector: number;
  /** FAT32 only: sector of the backup boot sector (0 or 0xFFFF: none). */
  backupBootSector: number;
  driveNumber: number;
  /** BS_Reserved1 / "current head" byte: bit 0 is the Linux dirty flag. */
  reserved1: number;
  /** BS_BootSig: 0x29 when the three following fields are present. */
  bootSignature: number;
  volumeId: number;
  /** BS_VolLab, 11 characters, trailing blanks trimmed. */
  volumeLabel: string;
  /** BS_FilSysType, informational only (never used to decide the type). */
  fsTypeLabel: string;
  /** Boot code bytes (between the extended BPB and the 0x55AA signature). */
  bootCode: Uint8Array;
}

/** Layout derived from a {@link BootSector} (fatgen103 §3.5). All numbers are in sectors unless named. */
export interface FatGeometry {
  type: FatType;
  bytesPerSector: number;
  clusterSize: number;
  /** Number of data clusters; valid cluster numbers are 2 … clusterCount + 1. */
  clusterCount: number;
  firstFatSector: number;
  fatSectors: number;
  numFats: number;
  /** First sector of the fixed root directory (FAT12/16), 0 on FAT32. */
  rootDirSector: number;
  /** Sectors of the fixed root directory (FAT12/16), 0 on FAT32. */
  rootDirSectors: number;
  firstDataSector: number;
  totalSectors: number;
  /** Root directory's first cluster on FAT32, 0 on FAT12/16. */
  rootCluster: number;
}

const STRUCT = 'FAT boot sector';

function ascii(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * Parses sector 0 of a FAT volume. Checks what the layout depends on (sector size, cluster size,
 * FAT count, the 0x55AA signature); see {@link fatGeometry} for the checks that relate fields.
 */
export function parseBootSector(bytes: Uint8Array): BootSector {
  const r = new ByteReader(bytes, { structure: STRUCT });
  r.need(512, 'boot sector');
  if (bytes[510] !== 0x55 || bytes[511] !== 0xaa) {
    throw new FormatError('FAT_BOOT_SIGNATURE', 'boot sector does not end with 55 AA', {
      structure: STRUCT,
      offset: 510,
    });
  }
  const jump = r.bytesCopy(3);
  if (!(jump[0] === 0xeb && jump[2] === 0x90) && jump[0] !== 0xe9) {
    throw new FormatError('FAT_BOOT_JUMP', 'boot sector does not start with a jump instruction', {
      structure: STRUCT,
      offset: 0,
    });
  }
  const oemName = ascii(r.bytesView(8));
  const bytesPerSector = r.u16();
  if (!isPow2(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096) {
    throw new FormatError(
      'FAT_SECTOR_SIZE',
      `bytes per sector ${bytesPerSector} is not 512, 1024, 2048 or 4096`,
      {
        structure: STRUCT,
        offset: 11,
      },
    );
  }
  const sectorsPerCluster = r.u8();
  if (!isPow2(sectorsPerCluster)) {
    throw new FormatError(
      'FAT_CLUSTER_SIZE',
      `sectors per cluster ${sectorsPerCluster} is not a power of two`,
      {
        structure: STRUCT,
        offset: 13,
      },
    );
  }
  const reservedSectors = r.u16();
  const numFats = r.u8();
  const rootEntryCount = r.u16();
  const totSec16 = r.u16();
  const media = r.u8();
  const fatSz16 = r.u16();
  const sectorsPerTrack = r.u16();
  const numHeads = r.u16();
  const hiddenSectors = r.u32();
  const totSec32 = r.u32();
  const fat32Layout = fatSz16 === 0;
  let fatSectors = fatSz16;
  let extFlags = 0;
  let fsVersion = 0;
  let rootCluster = 0;
  let fsInfoSector = 0;
  let backupBootSector = 0;
  if (fat32Layout) {
    fatSectors = r.u32();
    extFlags = r.u16();
    fsVersion = r.u16();
    rootCluster = r.u32();
    fsInfoSector = r.u16();
    backupBootSector = r.u16();
    r.skip(12);
  }
  const driveNumber = r.u8();
  const reserved1 = r.u8();
  const bootSignature = r.u8();
  let volumeId = 0;
  let volumeLabel = '';
  let fsTypeLabel = '';
  if (bootSignature === 0x29) {
    volumeId = r.u32();
    volumeLabel = ascii(r.bytesView(11)).replace(/ +$/, '');
    fsTypeLabel = ascii(r.bytesView(8)).replace(/ +$/, '');
  } else {
    r.skip(19);
  }
  const bootCode = bytes.slice(r.pos, 510);
  return {
    jump,
    oemName,
    bytesPerSector,
    sectorsPerCluster,
    reservedSectors,
    numFats,
    rootEntryCount,
    totalSectors: totSec16 !== 0 ? totSec16 : totSec32,
    media,
    fatSectors,
    sectorsPerTrack,
    numHeads,
    hiddenSectors,
    fat32Layout,
    extFlags,
    fsVersion,
    rootCluster,
    fsInfoSector,
    backupBootSector,
    driveNumber,
    reserved1,
    bootSignature,
    volumeId,
    volumeLabel,
    fsTypeLabel,
    bootCode,
  };
}

/**
 * Derives the layout from a boot sector and checks its consistency: the regions fit inside the
 * volume, the FAT is large enough for every cluster, and the type is decided by the cluster count
 * (fatgen103 §3.5) — never by the BS_FilSysType string.
 */
export function fatGeometry(bs: BootSector): FatGeometry {
  const fail = (code: string, msg: string): never => {
    throw new FormatError(code, msg, { structure: STRUCT });
  };
  if (bs.reservedSectors === 0) fail('FAT_RESERVED_SECTORS', 'reserved sector count is 0');
  if (bs.numFats === 0) fail('FAT_NUM_FATS', 'number of FATs is 0');
  if (bs.fatSectors === 0) fail('FAT_FAT_SIZE', 'FAT size is 0');
  if (bs.totalSectors === 0) fail('FAT_TOTAL_SECTORS', 'total sector count is 0');
  const bps = bs.bytesPerSector;
  const rootDirSectors = Math.ceil((bs.rootEntryCount * 32) / bps);
  const firstFatSector = bs.reservedSectors;
  const rootDirSector = firstFatSector + bs.numFats * bs.fatSectors;
  const firstDataSector = rootDirSector + rootDirSectors;
  if (firstDataSector >= bs.totalSectors) {
    fail(
      'FAT_LAYOUT',
      `data region starts at sector ${firstDataSector}, past the ${bs.totalSectors}-sector volume`,
    );
  }
  const clusterCount = Math.floor((bs.totalSectors - firstDataSector) / bs.sectorsPerCluster);
  if (clusterCount === 0) fail('FAT_LAYOUT', 'the volume has no data cluster');
  const type: FatType =
    clusterCount <= FAT12_MAX_CLUSTERS ? 12 : clusterCount <= FAT16_MAX_CLUSTERS ? 16 : 32;
  if (type === 32) {
    if (!bs.fat32Layout)
      fail('FAT_LAYOUT', `${clusterCount} clusters make a FAT32 volume but the BPB has the FAT12/16 layout`);
    if (bs.rootEntryCount !== 0) fail('FAT_LAYOUT', 'a FAT32 volume has a non-zero root entry count');
    if (clusterCount > FAT32_MAX_CLUSTERS)
      fail('FAT_LAYOUT', `cluster count ${clusterCount} is too large for FAT32`);
    if (bs.fsVersion !== 0) {
      throw new UnsupportedError(
        'FAT_VERSION',
        `FAT32 version ${bs.fsVersion >> 8}.${bs.fsVersion & 0xff} is not 0.0`,
        {
          structure: STRUCT,
          offset: 42,
        },
      );
    }
    if (bs.rootCluster < 2 || bs.rootCluster > clusterCount + 1) {
      fail('FAT_ROOT_CLUSTER', `root cluster ${bs.rootCluster} is outside 2…${clusterCount + 1}`);
    }
  } else {
    if (bs.fat32Layout)
      fail(
        'FAT_LAYOUT',
        `${clusterCount} clusters make a FAT${type} volume but the BPB has the FAT32 layout`,
      );
    if (bs.rootEntryCount === 0) fail('FAT_LAYOUT', `a FAT${type} volume has no root directory entries`);
  }
  const bitsPerEntry = type;
  const neededFatBytes = Math.ceil(((clusterCount + 2) * bitsPerEntry) / 8);
  if (bs.fatSectors * bps < neededFatBytes) {
    fail(
      'FAT_FAT_SIZE',
      `a FAT of ${bs.fatSectors} sectors cannot hold ${clusterCount + 2} FAT${type} entries`,
    );
  }
  return {
    type,
    bytesPerSector: bps,
    clusterSize: bs.sectorsPerCluster * bps,
    clusterCount,
    firstFatSector,
    fatSectors: bs.fatSectors,
    numFats: bs.numFats,
    rootDirSector: type === 32 ? 0 : rootDirSector,
    rootDirSectors,
    firstDataSector,
    totalSectors: bs.totalSectors,
    rootCluster: type === 32 ? bs.rootCluster : 0,
  };
}

function putAscii(out: Uint8Array, at: number, s: string, len: number): void {
  for (let i = 0; i < len; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x20;
    if (c > 0x7e || c < 0x20) throw new UsageError('FAT_BAD_TEXT', `'${s}' is not printable ASCII`);
    out[at + i] = c;
  }
}

/** Serializes a {@link BootSector} into `bytesPerSector` bytes (the inverse of {@link parseBootSector}). */
export function serializeBootSector(bs: BootSector): Uint8Array {
  const out = new Uint8Array(bs.bytesPerSector);
  const v = new DataView(out.buffer);
  out.set(bs.jump.subarray(0, 3), 0);
  putAscii(out, 3, bs.oemName, 8);
  v.setUint16(11, bs.bytesPerSector, true);
  out[13] = bs.sectorsPerCluster;
  v.setUint16(14, bs.reservedSectors, true);
  out[16] = bs.numFats;
  v.setUint16(17, bs.rootEntryCount, true);
  const small = !bs.fat32Layout && bs.totalSectors < 0x10000;
  v.setUint16(19, small ? bs.totalSectors : 0, true);
  out[21] = bs.media;
  v.setUint16(22, bs.fat32Layout ? 0 : bs.fatSectors, true);
  v.setUint16(24, bs.sectorsPerTrack, true);
  v.setUint16(26, bs.numHeads, true);
  v.setUint32(28, bs.hiddenSectors, true);
  v.setUint32(32, small ? 0 : bs.totalSectors, true);
  let p = 36;
  if (bs.fat32Layout) {
    v.setUint32(36, bs.fatSectors, true);
    v.setUint16(40, bs.extFlags, true);
    v.setUint16(42, bs.fsVersion, true);
    v.setUint32(44, bs.rootCluster, true);
    v.setUint16(48, bs.fsInfoSector, true);
    v.setUint16(50, bs.backupBootSector, true);
    p = 64;
  }
  out[p] = bs.driveNumber;
  out[p + 1] = bs.reserved1;
  out[p + 2] = bs.bootSignature;
  if (bs.bootSignature === 0x29) {
    v.setUint32(p + 3, bs.volumeId >>> 0, true);
    putAscii(out, p + 7, bs.volumeLabel, 11);
    putAscii(out, p + 18, bs.fsTypeLabel, 8);
  }
  const codeAt = p + 26;
  out.set(bs.bootCode.subarray(0, 510 - codeAt), codeAt);
  out[510] = 0x55;
  out[511] = 0xaa;
  return out;
}
