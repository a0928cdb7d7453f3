import type { GptEntry } from './entry.js';

/**
 * The in-memory model of a GUID Partition Table: everything needed to write both headers, both
 * arrays and the protective MBR. Readers produce it from the intact copy (openGpt), editors return
 * new ones (edit.ts), the writer lays it out (writer.ts). Plain data: no I/O, no hidden state.
 */
export interface GptTable {
  /** Logical sector size in bytes (512 or 4096). LBAs count these. */
  readonly sectorSize: number;
  /** Disk size in logical sectors the table is laid out for. */
  readonly diskSectors: number;
  /** Lower-case canonical GUID. */
  readonly diskGuid: string;
  /** Header revision to write (0x00010000). */
  readonly revision: number;
  /** Header bytes past the 92 defined (kept from the table read; usually empty). */
  readonly headerExtra: Uint8Array;
  readonly firstUsableLba: number;
  /** Inclusive. */
  readonly lastUsableLba: number;
  /** Where the primary array starts (usually 2). */
  readonly primaryEntryLba: number;
  /** Where the backup array starts (usually just before the backup header). */
  readonly backupEntryLba: number;
  /** Where the backup header is (usually the last LBA). */
  readonly backupHeaderLba: number;
  /** SizeOfPartitionEntry: a multiple of 128. */
  readonly entrySize: number;
  /** Every slot, used or not, in slot order; `entries.length` is NumberOfPartitionEntries. */
  readonly entries: readonly GptEntry[];
}

/** Sectors one copy of the entry array occupies. */
export function arraySectorsOf(table: Pick<GptTable, 'entries' | 'entrySize' | 'sectorSize'>): number {
  return Math.ceil((table.entries.length * table.entrySize) / table.sectorSize);
}

/** Size in bytes of a partition (EndingLBA is inclusive). */
export function partitionSizeBytes(entry: GptEntry, sectorSize: number): number {
  return (entry.lastLba - entry.firstLba + 1) * sectorSize;
}
