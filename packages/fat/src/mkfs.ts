import { type BlockDevice, UsageError, throwIfAborted, type LongOperationOptions } from '@lsvm/core';
import {
  type BootSector,
  FAT12_MAX_CLUSTERS,
  FAT16_MAX_CLUSTERS,
  FAT32_MAX_CLUSTERS,
  type FatType,
  serializeBootSector,
} from './boot-sector.js';
import { ATTR_VOLUME_ID, serializeDirEntry, toFatTimestamp } from './dir-entry.js';
import { serializeFsInfo } from './fsinfo.js';

/** Options of {@link mkfs}; the defaults follow mkfs.fat (dosfstools). */
export interface MkfsOptions extends LongOperationOptions {
  /** Force a FAT type. Default: FAT32 when the volume is large enough (≥ 65 525 clusters), else 16, else 12. */
  type?: FatType;
  /** Volume label, up to 11 characters (stored upper case). Default: none ("NO NAME"). */
  label?: string;
  /** Volume serial number. Default: random. */
  volumeId?: number;
  /** Cluster size in bytes (a power of two, sector size … 64 KiB). Default: by volume size, as mkfs.fat. */
  clusterSize?: number;
  /** Logical sector size. Default: the device's sector size. */
  sectorSize?: number;
  /** Bytes of the device to use. Default: all of it. */
  size?: number;
  /** BPB_HiddSec: the partition's start LBA when the volume is a partition. Default 0. */
  hiddenSectors?: number;
  /** Number of FAT copies. Default 2. */
  numFats?: number;
  /** FAT12/16 root directory entries. Default 512. */
  rootEntries?: number;
  /** Media descriptor. Default 0xF8 (fixed disk). */
  media?: number;
  /** BS_OEMName. Default `MSWIN4.1`, the value fatgen103 §3.1 calls the most compatible. */
  oemName?: string;
  /** Clock for the label entry's timestamp. */
  now?: () => Date;
}

/** The layout {@link mkfs} chose. */
export interface MkfsResult {
  type: FatType;
  clusterSize: number;
  clusterCount: number;
  fatSectors: number;
  reservedSectors: number;
  totalSectors: number;
  sectorSize: number;
  volumeId: number;
  label: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Default cluster size per type and volume size (fatgen103 §3.5 tables, as mkfs.fat uses them). */
function defaultClusterSize(type: FatType, bytes: number): number {
  if (type === 32) {
    if (bytes <= 260 * MiB) return 512;
    if (bytes <= 8 * GiB) return 4 * KiB;
    if (bytes <= 16 * GiB) return 8 * KiB;
    if (bytes <= 32 * GiB) return 16 * KiB;
    return 32 * KiB;
  }
  if (type === 16) {
    if (bytes <= 16 * MiB) return 1 * KiB;
    if (bytes <= 128 * MiB) return 2 * KiB;
    if (bytes <= 256 * MiB) return 4 * KiB;
    if (bytes <= 512 * MiB) return 8 * KiB;
    if (bytes <= 1 * GiB) return 16 * KiB;
    return 32 * KiB;
  }
  // mkfs.fat starts FAT12 at 2 KiB clusters and doubles until the count fits.
  return 2 * KiB;
}

interface Layout {
  type: FatType;
  spc: number;
  reserved: number;
  rootDirSectors: number;
  fatSectors: number;
  clusterCount: number;
}

function layoutFor(
  type: FatType,
  total: number,
  bps: number,
  spc: number,
  nf: number,
  rootEntries: number,
): Layout {
  const rootDirSectors = type === 32 ? 0 : Math.ceil((rootEntries * 32) / bps);
  let reserved = type === 32 ? 32 : 1;
  const clustersWith = (fat: number): number =>
    Math.max(0, Math.floor((total - reserved - nf * fat - rootDirSectors) / spc));
  const fatNeeded = (clusters: number): number => Math.ceil(Math.ceil(((clusters + 2) * type) / 8) / bps);
  // The smallest FAT that holds an entry for every cluster left after the FATs themselves
  // (the larger the FAT, the fewer the clusters, so a binary search finds it).
  let lo = 1;
  let hi = Math.max(1, fatNeeded(clustersWith(0)));
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (fatNeeded(clustersWith(mid)) <= mid) hi = mid;
    else lo = mid + 1;
  }
  let fatSectors = lo;
  // Like mkfs.fat: above floppy sizes (4 MiB), FATs are a whole number of clusters and the
  // reserved sectors are padded so the data area starts on a cluster boundary (aligned clusters
  // are faster on every modern medium).
  if (total * bps > 4 * MiB) {
    fatSectors = Math.ceil(fatSectors / spc) * spc;
    const meta = reserved + nf * fatSectors + rootDirSectors;
    if (meta % spc !== 0) reserved += spc - (meta % spc);
  }
  const clusterCount = Math.max(0, Math.floor((total - reserved - nf * fatSectors - rootDirSectors) / spc));
  return { type, spc, reserved, rootDirSectors, fatSectors, clusterCount };
}

function fits(l: Layout): boolean {
  if (l.type === 12) return l.clusterCount >= 1 && l.clusterCount <= FAT12_MAX_CLUSTERS;
  if (l.type === 16) return l.clusterCount > FAT12_MAX_CLUSTERS && l.clusterCount <= FAT16_MAX_CLUSTERS;
  return l.clusterCount > FAT16_MAX_CLUSTERS && l.clusterCount <= FAT32_MAX_CLUSTERS;
}

/** Chooses cluster size (doubling or halving from the default) so the cluster count suits the type. */
function chooseLayout(
  type: FatType,
  total: number,
  bps: number,
  nf: number,
  rootEntries: number,
  clusterSize: number | undefined,
): Layout | undefined {
  if (clusterSize !== undefined) {
    const l = layoutFor(type, total, bps, clusterSize / bps, nf, rootEntries);
    return fits(l) ? l : undefined;
  }
  let spc = Math.max(1, defaultClusterSize(type, total * bps) / bps);
  for (let i = 0; i < 16 && spc >= 1 && spc <= 128; i++) {
    const l = layoutFor(type, total, bps, spc, nf, rootEntries);
    if (fits(l)) return l;
    const tooMany =
      l.clusterCount >
      (type === 12 ? FAT12_MAX_CLUSTERS : type === 16 ? FAT16_MAX_CLUSTERS : FAT32_MAX_CLUSTERS);
    if (tooMany) spc *= 2;
    else if (spc > 1) spc /= 2;
    else return undefined;
  }
  return undefined;
}

function checkLabel(label: string): string {
  const up = label.toUpperCase();
  if (up.length > 11 || !/^[A-Z0-9 $%'\-_@~`!(){}^#&]*$/.test(up) || up.startsWith(' ')) {
    throw new UsageError(
      'FAT_BAD_LABEL',
      `label '${label}' must be at most 11 characters of A-Z, 0-9, space and $%'-_@~\`!(){}^#&`,
    );
  }
  return up.replace(/ +$/, '');
}

/**
 * Creates an empty FAT file system on `device` (like `mkfs.fat`): boot sector, FSInfo and backup
 * boot sector on FAT32, both FATs, an empty root directory and, when a label is given, the root
 * directory's volume label entry. Only the metadata regions are written; the data area is not
 * zeroed (nothing references it).
 */
export async function mkfs(device: BlockDevice, options: MkfsOptions = {}): Promise<MkfsResult> {
  if (device.readOnly) throw new UsageError('READ_ONLY', 'cannot format a read-only device');
  const bps =
    options.sectorSize ?? (device.sectorSize >= 512 && device.sectorSize <= 4096 ? device.sectorSize : 512);
  if (![512, 1024, 2048, 4096].includes(bps))
    throw new UsageError('FAT_SECTOR_SIZE', `sector size ${bps} is not supported`);
  const size = options.size ?? device.size;
  if (!Number.isSafeInteger(size) || size <= 0 || size > device.size) {
    throw new UsageError('FAT_BAD_SIZE', `size ${size} does not fit the ${device.size}-byte device`);
  }
  const total = Math.floor(size / bps);
  if (total > 0xffffffff)
    throw new UsageError('FAT_TOO_LARGE', 'FAT volumes are limited to 2^32 - 1 sectors');
  const nf = options.numFats ?? 2;
  if (!Number.isInteger(nf) || nf < 1 || nf > 4)
    throw new UsageError('FAT_NUM_FATS', `number of FATs ${nf} is not 1–4`);
  const rootEntries = options.rootEntries ?? 512;
  if (
    !Number.isInteger(rootEntries) ||
    rootEntries < 16 ||
    rootEntries > 65520 ||
    (rootEntries * 32) % bps !== 0
  ) {
    throw new UsageError(
      'FAT_ROOT_ENTRIES',
      `root entry count ${rootEntries} must fill whole sectors (16–65520)`,
    );
  }
  const cs = options.clusterSize;
  if (cs !== undefined && (cs < bps || cs > 64 * KiB || (cs & (cs - 1)) !== 0 || cs / bps > 128)) {
    throw new UsageError(
      'FAT_CLUSTER_SIZE',
      `cluster size ${cs} must be a power of two from ${bps} to 65536`,
    );
  }
  let layout: Layout | undefined;
  if (options.type !== undefined) {
    if (![12, 16, 32].includes(options.type))
      throw new UsageError('FAT_TYPE', `FAT type ${options.type} is not 12, 16 or 32`);
    layout = chooseLayout(options.type, total, bps, nf, rootEntries, cs);
    if (!layout) {
      throw new UsageError(
        'FAT_TYPE_DOES_NOT_FIT',
        `a FAT${options.type} volume cannot be made on ${size} bytes${cs ? ` with ${cs}-byte clusters` : ''}`,
      );
    }
  } else {
    for (const t of [32, 16, 12] as const) {
      layout = chooseLayout(t, total, bps, nf, rootEntries, cs);
      if (layout) break;
    }
    if (!layout) throw new UsageError('FAT_TOO_SMALL', `${size} bytes are too few for a FAT volume`);
  }
  const type = layout.type;
  const label = checkLabel(options.label ?? '');
  const volumeId = (options.volumeId ?? crypto.getRandomValues(new Uint32Array(1))[0]!) >>> 0;
  const fat32 = type === 32;
  const codeAt = fat32 ? 90 : 62;
  const bootCode = new Uint8Array(510 - codeAt);
  // int 18h (no bootable disk: let the firmware try the next device), then spin.
  bootCode.set([0xcd, 0x18, 0xeb, 0xfe]);
  const bs: BootSector = {
    jump: new Uint8Array([0xeb, codeAt - 2, 0x90]),
    oemName: options.oemName ?? 'MSWIN4.1',
    bytesPerSector: bps,
    sectorsPerCluster: layout.spc,
    reservedSectors: layout.reserved,
    numFats: nf,
    rootEntryCount: fat32 ? 0 : rootEntries,
    totalSectors: total,
    media: options.media ?? 0xf8,
    fatSectors: layout.fatSectors,
    sectorsPerTrack: 63,
    numHeads: 255,
    hiddenSectors: options.hiddenSectors ?? 0,
    fat32Layout: fat32,
    extFlags: 0,
    fsVersion: 0,
    rootCluster: fat32 ? 2 : 0,
    fsInfoSector: fat32 ? 1 : 0,
    backupBootSector: fat32 ? 6 : 0,
    driveNumber: 0x80,
    reserved1: 0,
    bootSignature: 0x29,
    volumeId,
    volumeLabel: label.length > 0 ? label : 'NO NAME',
    fsTypeLabel: `FAT${type}`,
    bootCode,
  };
  throwIfAborted(options.signal);
  const boot = serializeBootSector(bs);
  // Reserved region (boot sector, FSInfo, backup) first, zeroed around them.
  const reserved = new Uint8Array(layout.reserved * bps);
  reserved.set(boot, 0);
  if (fat32) {
    const info = serializeFsInfo({ freeCount: layout.clusterCount - 1, nextFree: 3 }, bps);
    reserved.set(info, bps);
    reserved.set(boot, 6 * bps);
    reserved.set(info, 7 * bps);
  }
  // The FAT: entry 0 holds the media byte, entry 1 the end-of-chain mark with the clean bits set.
  const fat = new Uint8Array(layout.fatSectors * bps);
  const media = bs.media;
  if (type === 12) {
    fat.set([media, 0xff, 0xff]);
  } else if (type === 16) {
    fat.set([media, 0xff, 0xff, 0xff]);
  } else {
    fat.set([media, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0x0f]);
  }
  // The root directory: fixed region on FAT12/16, cluster 2 on FAT32.
  const cluster = layout.spc * bps;
  const root = new Uint8Array(fat32 ? cluster : layout.rootDirSectors * bps);
  if (label.length > 0) {
    const ts = toFatTimestamp(options.now?.() ?? new Date());
    const name = new Uint8Array(11).fill(0x20);
    for (let i = 0; i < label.length; i++) name[i] = label.charCodeAt(i);
    serializeDirEntry(
      {
        name,
        attr: ATTR_VOLUME_ID,
        ntRes: 0,
        createTenth: 0,
        createTime: 0,
        createDate: 0,
        accessDate: 0,
        firstCluster: 0,
        writeTime: ts.time,
        writeDate: ts.date,
        fileSize: 0,
      },
      root,
      0,
    );
  }
  const total_ = layout.reserved + nf * layout.fatSectors + layout.rootDirSectors + (fat32 ? layout.spc : 0);
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total_ * bps);
  };
  await device.write(0, reserved);
  progress(reserved.length);
  for (let k = 0; k < nf; k++) {
    throwIfAborted(options.signal);
    // Large FATs are written in pieces so progress moves and no single write is huge.
    const base = (layout.reserved + k * layout.fatSectors) * bps;
    for (let off = 0; off < fat.length; off += 4 * MiB) {
      const piece = fat.subarray(off, Math.min(fat.length, off + 4 * MiB));
      await device.write(base + off, piece);
      progress(piece.length);
    }
  }
  const rootAt = (layout.reserved + nf * layout.fatSectors) * bps;
  await device.write(rootAt, root);
  progress(root.length);
  await device.flush();
  return {
    type,
    clusterSize: cluster,
    clusterCount: layout.clusterCount,
    fatSectors: layout.fatSectors,
    reservedSectors: layout.reserved,
    totalSectors: total,
    sectorSize: bps,
    volumeId,
    label,
  };
}
