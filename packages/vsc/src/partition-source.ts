import { type BlockDevice, UsageError, normalizeGuid } from '@lsvm/core';

/**
 * A partition handed to the catalog builder or verifier: its contents as a {@link BlockDevice}
 * (typically a slice of the disk) and its GPT identity. This package does not read GPTs itself —
 * format packages never import each other — so the caller (a flow, the CLI) reads the partition
 * table with @lsvm/gpt and fills this in.
 */
export interface PartitionSource {
  /** The partition's bytes; `size` must be `(lastLba - firstLba + 1) × sectorSize`. */
  device: BlockDevice;
  /** GPT partition entry number, 1-based. */
  index: number;
  /** Unique partition GUID. */
  partitionGuid: string;
  /** Partition type GUID. */
  typeGuid: string;
  /** First LBA (inclusive). */
  firstLba: number;
  /** Last LBA (inclusive). */
  lastLba: number;
}

/** Checks a source's fields and that its device has exactly the size its LBAs say. */
export function checkPartitionSource(p: PartitionSource, sectorSize: number): void {
  const where = `partition ${p.index}`;
  if (!Number.isSafeInteger(p.index) || p.index < 1)
    throw new UsageError('VSC_BAD_PARTITION', `${where}: index must be 1 or more`);
  normalizeGuid(p.partitionGuid);
  normalizeGuid(p.typeGuid);
  if (
    !Number.isSafeInteger(p.firstLba) ||
    !Number.isSafeInteger(p.lastLba) ||
    p.firstLba < 0 ||
    p.lastLba < p.firstLba
  ) {
    throw new UsageError('VSC_BAD_PARTITION', `${where}: LBA range ${p.firstLba}..${p.lastLba} is not valid`);
  }
  const expected = (p.lastLba - p.firstLba + 1) * sectorSize;
  if (p.device.size !== expected) {
    throw new UsageError(
      'VSC_BAD_PARTITION',
      `${where}: device holds ${p.device.size} bytes but LBAs ${p.firstLba}..${p.lastLba} make ${expected}`,
    );
  }
}
