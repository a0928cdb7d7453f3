import { FormatError, UsageError } from '@lsvm/core';
import { MiB, SECTORS_PER_BITMAP_BLOCK } from './constants.js';

/**
 * Payload block states ([MS-VHDX] §2.5.1.1). `UNMAPPED_V1` (5) is the value early Hyper-V builds
 * wrote for UNMAPPED; readers accept it as UNMAPPED.
 */
export const PayloadState = {
  NOT_PRESENT: 0,
  UNDEFINED: 1,
  ZERO: 2,
  UNMAPPED: 3,
  UNMAPPED_V1: 5,
  FULLY_PRESENT: 6,
  PARTIALLY_PRESENT: 7,
} as const;
export type PayloadState = (typeof PayloadState)[keyof typeof PayloadState];

/** Sector bitmap block states ([MS-VHDX] §2.5.1.2). */
export const BitmapState = { NOT_PRESENT: 0, PRESENT: 6 } as const;
export type BitmapState = (typeof BitmapState)[keyof typeof BitmapState];

/** A decoded BAT entry: the 3-bit state and the file offset (bits 20–63 count MiB). */
export interface BatEntry {
  state: number;
  /** Byte offset in the file (a multiple of 1 MiB), 0 when none. */
  fileOffset: number;
}

/**
 * The shape of a BAT, computed from the metadata ([MS-VHDX] §2.5): how many payload blocks, the
 * chunk ratio (payload blocks per sector-bitmap block) and where each entry lives. Every quantity
 * is a JS number; the chunk ratio's numerator 2^23 × 4096 = 2^35 does not fit 32 bits, so no
 * 32-bit (bitwise) arithmetic is used on it or on offsets.
 */
export interface BatGeometry {
  blockSize: number;
  logicalSectorSize: number;
  virtualDiskSize: number;
  hasParent: boolean;
  chunkRatio: number;
  dataBlocks: number;
  bitmapBlocks: number;
  totalEntries: number;
  sectorsPerBlock: number;
}

/** Computes the BAT geometry ([MS-VHDX] §2.5, "chunk ratio" and "BAT entry count"). */
export function batGeometry(m: {
  blockSize: number;
  logicalSectorSize: number;
  virtualDiskSize: number;
  hasParent: boolean;
}): BatGeometry {
  const chunkRatio = (SECTORS_PER_BITMAP_BLOCK * m.logicalSectorSize) / m.blockSize;
  if (!Number.isInteger(chunkRatio) || chunkRatio < 1) {
    throw new UsageError('VHDX_GEOMETRY', `block size ${m.blockSize} gives no whole chunk ratio`);
  }
  const dataBlocks = Math.ceil(m.virtualDiskSize / m.blockSize);
  const bitmapBlocks = Math.ceil(dataBlocks / chunkRatio);
  const totalEntries = m.hasParent
    ? bitmapBlocks * (chunkRatio + 1)
    : dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
  return {
    blockSize: m.blockSize,
    logicalSectorSize: m.logicalSectorSize,
    virtualDiskSize: m.virtualDiskSize,
    hasParent: m.hasParent,
    chunkRatio,
    dataBlocks,
    bitmapBlocks,
    totalEntries,
    sectorsPerBlock: m.blockSize / m.logicalSectorSize,
  };
}

/** Index in the BAT of payload block `block` (payload entries interleave with bitmap entries). */
export function payloadEntryIndex(g: BatGeometry, block: number): number {
  return block + Math.floor(block / g.chunkRatio);
}

/** Index in the BAT of the sector bitmap entry of chunk `chunk`. */
export function bitmapEntryIndex(g: BatGeometry, chunk: number): number {
  return chunk * (g.chunkRatio + 1) + g.chunkRatio;
}

/** True when BAT index `i` holds a sector bitmap entry rather than a payload entry. */
export function isBitmapEntryIndex(g: BatGeometry, i: number): boolean {
  return i % (g.chunkRatio + 1) === g.chunkRatio;
}

/** Bytes the BAT occupies (the region may be larger). */
export function batByteLength(g: BatGeometry): number {
  return g.totalEntries * 8;
}

/** Reads entry `i` of a BAT held in `bat`. */
export function readBatEntry(bat: Uint8Array, i: number): BatEntry {
  const at = i * 8;
  if (at + 8 > bat.length) throw new FormatError('VHDX_BAT_RANGE', `BAT entry ${i} is outside the BAT`);
  const lo = bat[at]! | (bat[at + 1]! << 8) | (bat[at + 2]! << 16) | (bat[at + 3]! << 24);
  const hi = (bat[at + 4]! | (bat[at + 5]! << 8) | (bat[at + 6]! << 16) | (bat[at + 7]! << 24)) >>> 0;
  // Bits 20..63 count MiB: (lo >>> 20) + hi × 2^12, times 2^20.
  const mb = (lo >>> 20) + hi * 4096;
  return { state: lo & 7, fileOffset: mb * MiB };
}

/** Writes entry `i` into `bat`. */
export function writeBatEntry(bat: Uint8Array, i: number, e: BatEntry): void {
  if (e.fileOffset % MiB !== 0 || e.fileOffset < 0 || !Number.isSafeInteger(e.fileOffset)) {
    throw new UsageError('VHDX_BAT_OFFSET', `BAT offset ${e.fileOffset} is not a multiple of 1 MiB`);
  }
  const mb = e.fileOffset / MiB;
  const lo = ((mb % 4096) * 2 ** 20 + (e.state & 7)) >>> 0;
  const hi = Math.floor(mb / 4096) >>> 0;
  const at = i * 8;
  bat[at] = lo & 0xff;
  bat[at + 1] = (lo >>> 8) & 0xff;
  bat[at + 2] = (lo >>> 16) & 0xff;
  bat[at + 3] = lo >>> 24;
  bat[at + 4] = hi & 0xff;
  bat[at + 5] = (hi >>> 8) & 0xff;
  bat[at + 6] = (hi >>> 16) & 0xff;
  bat[at + 7] = hi >>> 24;
}

/** True for the payload states that point at file space. */
export function isAllocated(state: number): boolean {
  return state === PayloadState.FULLY_PRESENT || state === PayloadState.PARTIALLY_PRESENT;
}

/** True when `state` is a state a payload entry may hold in a disk with or without a parent. */
export function isValidPayloadState(state: number, hasParent: boolean): boolean {
  switch (state) {
    case PayloadState.NOT_PRESENT:
    case PayloadState.UNDEFINED:
    case PayloadState.ZERO:
    case PayloadState.UNMAPPED:
    case PayloadState.UNMAPPED_V1:
    case PayloadState.FULLY_PRESENT:
      return true;
    case PayloadState.PARTIALLY_PRESENT:
      return hasParent;
    default:
      return false;
  }
}

/** Human name of a payload state, for findings and `--json`. */
export function payloadStateName(state: number): string {
  switch (state) {
    case 0:
      return 'NOT_PRESENT';
    case 1:
      return 'UNDEFINED';
    case 2:
      return 'ZERO';
    case 3:
    case 5:
      return 'UNMAPPED';
    case 6:
      return 'FULLY_PRESENT';
    case 7:
      return 'PARTIALLY_PRESENT';
    default:
      return `INVALID(${state})`;
  }
}
