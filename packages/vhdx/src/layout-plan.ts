import { UsageError } from '@lsvm/core';
import { type BatGeometry, batByteLength, batGeometry } from './bat.js';
import {
  BAT_REGION_GUID,
  HEADER_SECTION_SIZE,
  MAX_BLOCK_SIZE,
  MAX_VIRTUAL_DISK_SIZE,
  METADATA_REGION_GUID,
  MIN_BLOCK_SIZE,
  MiB,
} from './constants.js';
import type { RegionEntry } from './region-table.js';

/** Where a new file's structures go. */
export interface LayoutPlan {
  geometry: BatGeometry;
  logOffset: number;
  logLength: number;
  metadataOffset: number;
  metadataLength: number;
  batOffset: number;
  batLength: number;
  /** First byte available for payload blocks. */
  payloadOffset: number;
  regions: RegionEntry[];
}

/** qemu-img's default block size by disk size (block/vhdx.c): 8, 16, 32 or 64 MiB. */
export function defaultBlockSize(size: number): number {
  if (size > 32 * 2 ** 40) return 64 * MiB;
  if (size > 100 * 2 ** 30) return 32 * MiB;
  if (size > 2 ** 30) return 16 * MiB;
  return 8 * MiB;
}

/** Checks new-image parameters and lays out the header section, log, metadata, BAT and payload. */
export function planLayout(p: {
  size: number;
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  hasParent: boolean;
  logLength?: number;
}): LayoutPlan {
  if (p.logicalSectorSize !== 512 && p.logicalSectorSize !== 4096) {
    throw new UsageError(
      'VHDX_SECTOR_SIZE',
      `logical sector size ${p.logicalSectorSize} is neither 512 nor 4096`,
    );
  }
  if (p.physicalSectorSize !== 512 && p.physicalSectorSize !== 4096) {
    throw new UsageError(
      'VHDX_SECTOR_SIZE',
      `physical sector size ${p.physicalSectorSize} is neither 512 nor 4096`,
    );
  }
  if (
    !Number.isSafeInteger(p.blockSize) ||
    p.blockSize < MIN_BLOCK_SIZE ||
    p.blockSize > MAX_BLOCK_SIZE ||
    (p.blockSize & (p.blockSize - 1)) !== 0
  ) {
    throw new UsageError('VHDX_BLOCK_SIZE', `block size ${p.blockSize} is not a power of two in 1–256 MiB`);
  }
  if (!Number.isSafeInteger(p.size) || p.size <= 0 || p.size > MAX_VIRTUAL_DISK_SIZE) {
    throw new UsageError('VHDX_DISK_SIZE', `disk size ${p.size} is not in 1 byte–64 TiB`);
  }
  if (p.size % p.logicalSectorSize !== 0) {
    throw new UsageError(
      'VHDX_DISK_SIZE',
      `disk size ${p.size} is not a multiple of the ${p.logicalSectorSize}-byte logical sector`,
    );
  }
  const logLength = p.logLength ?? MiB;
  if (logLength % MiB !== 0 || logLength === 0) {
    throw new UsageError('VHDX_LOG_SIZE', `log size ${logLength} is not a positive multiple of 1 MiB`);
  }
  const geometry = batGeometry({
    blockSize: p.blockSize,
    logicalSectorSize: p.logicalSectorSize,
    virtualDiskSize: p.size,
    hasParent: p.hasParent,
  });
  const logOffset = HEADER_SECTION_SIZE;
  const metadataOffset = logOffset + logLength;
  const metadataLength = MiB;
  const batOffset = metadataOffset + metadataLength;
  const batLength = Math.ceil(batByteLength(geometry) / MiB) * MiB;
  return {
    geometry,
    logOffset,
    logLength,
    metadataOffset,
    metadataLength,
    batOffset,
    batLength,
    payloadOffset: batOffset + batLength,
    regions: [
      { guid: BAT_REGION_GUID, fileOffset: batOffset, length: batLength, required: true },
      { guid: METADATA_REGION_GUID, fileOffset: metadataOffset, length: metadataLength, required: true },
    ],
  };
}
