import { type BlockDevice, UsageError, crc32 } from '@lsvm/core';
import { serializeEntryArray } from './entry.js';
import { GPT_HEADER_MIN_SIZE, serializeGptHeader } from './header.js';
import { reconcileHybridMbr } from './hybrid-mbr.js';
import { type Mbr, serializeProtectiveMbr } from './mbr.js';
import { arraySectorsOf, type GptTable } from './table.js';
import { checkEntries, checkLayout } from './validate.js';

/**
 * Laying a table out on disk: protective MBR in LBA 0, primary header in LBA 1, the primary array,
 * the backup array and the backup header (UEFI spec §5.3, figure 5-2), and writing them in an
 * order that keeps one intact copy on the disk at every instant (DESIGN.md rule 5).
 */

/** The sectors a table occupies, ready to write. */
export interface GptImage {
  /** LBA 0: the protective MBR padded to one logical sector. */
  readonly mbr: Uint8Array;
  /** LBA 1. */
  readonly primaryHeader: Uint8Array;
  /** The backup header sector, written at `table.backupHeaderLba`. */
  readonly backupHeader: Uint8Array;
  /** The entry array padded to whole sectors, written at both array LBAs. */
  readonly array: Uint8Array;
}

/** Options of {@link serializeGpt} and {@link writeGpt}. */
export interface WriteGptOptions {
  /**
   * The existing MBR. Its boot code and disk signature are kept in the new protective MBR; a
   * hybrid MBR is kept when `keepHybrid` is set, its records following the table's partitions
   * (see {@link reconcileHybridMbr}).
   */
  mbr?: Mbr;
  /** Keep a hybrid MBR instead of replacing it with a protective one. Default true. */
  keepHybrid?: boolean;
  /**
   * The exact entry array bytes to write instead of serialising `table.entries` — repair uses it
   * so the entries it copies are bit-identical to the intact copy, whatever they hold.
   */
  arrayBytes?: Uint8Array;
  /** Skip the consistency checks (used by tests that build broken tables on purpose). */
  unchecked?: boolean;
}

/**
 * Encodes a table into its sectors. Refuses (UsageError `GPT_INVALID_TABLE`) a table whose
 * layout or entries validation would flag, so the library never writes a table sgdisk rejects.
 */
export function serializeGpt(table: GptTable, options: WriteGptOptions = {}): GptImage {
  if (!options.unchecked) {
    const problems = [...checkLayout(table), ...checkEntries(table)].filter((p) => p.severity === 'error');
    if (problems.length > 0) {
      throw new UsageError(
        'GPT_INVALID_TABLE',
        `refusing to write an invalid table: ${problems.map((p) => p.message).join('; ')}`,
      );
    }
  }
  const ss = table.sectorSize;
  const raw = options.arrayBytes ?? serializeEntryArray(table.entries, table.entrySize);
  if (raw.length !== table.entries.length * table.entrySize) {
    throw new UsageError(
      'GPT_ARRAY_SIZE',
      `entry array has ${raw.length} bytes, expected ${table.entries.length * table.entrySize}`,
    );
  }
  const array = new Uint8Array(arraySectorsOf(table) * ss);
  array.set(raw);
  // §5.3.2: the array CRC covers NumberOfPartitionEntries × SizeOfPartitionEntry bytes exactly,
  // not the sector padding and not a 16 KiB minimum.
  const arrayCrc = crc32(raw);
  const common = {
    revision: table.revision,
    headerSize: GPT_HEADER_MIN_SIZE + table.headerExtra.length,
    firstUsableLba: table.firstUsableLba,
    lastUsableLba: table.lastUsableLba,
    diskGuid: table.diskGuid,
    numberOfPartitionEntries: table.entries.length,
    sizeOfPartitionEntry: table.entrySize,
    partitionEntryArrayCrc32: arrayCrc,
    extra: table.headerExtra,
  };
  const primaryHeader = serializeGptHeader(
    { ...common, myLba: 1, alternateLba: table.backupHeaderLba, partitionEntryLba: table.primaryEntryLba },
    ss,
  );
  const backupHeader = serializeGptHeader(
    { ...common, myLba: table.backupHeaderLba, alternateLba: 1, partitionEntryLba: table.backupEntryLba },
    ss,
  );
  const mbr = new Uint8Array(ss);
  const keepHybrid = options.keepHybrid ?? true;
  if (options.mbr?.kind === 'hybrid' && keepHybrid) {
    mbr.set(rebuildMbrBytes(reconcileHybridMbr(options.mbr, table).mbr));
  } else {
    mbr.set(
      serializeProtectiveMbr(table.diskSectors, {
        ...(options.mbr && options.mbr.kind !== 'none'
          ? { bootCode: options.mbr.bootCode, diskSignature: options.mbr.diskSignature }
          : {}),
      }),
    );
  }
  return { mbr, primaryHeader, backupHeader, array };
}

/** Re-encodes a parsed MBR as it was (for keeping a hybrid one). */
function rebuildMbrBytes(m: Mbr): Uint8Array {
  const out = new Uint8Array(512);
  out.set(m.bootCode);
  const v = new DataView(out.buffer);
  v.setUint32(440, m.diskSignature, true);
  v.setUint16(444, m.reserved, true);
  m.records.forEach((r, i) => {
    const o = 446 + i * 16;
    out[o] = r.bootIndicator;
    out[o + 1] = r.startChs & 0xff;
    out[o + 2] = (r.startChs >>> 8) & 0xff;
    out[o + 3] = r.startChs >>> 16;
    out[o + 4] = r.osType;
    out[o + 5] = r.endChs & 0xff;
    out[o + 6] = (r.endChs >>> 8) & 0xff;
    out[o + 7] = r.endChs >>> 16;
    v.setUint32(o + 8, r.startingLba, true);
    v.setUint32(o + 12, r.sizeInLba, true);
  });
  out[510] = 0x55;
  out[511] = 0xaa;
  return out;
}

/** Which copy {@link writeGpt} writes first. */
export type WriteOrder = 'backup-first' | 'primary-first';

/**
 * Writes a table to `device`: both arrays, both headers and the MBR. The copy written first is
 * completed (array, then header, then flush) before the other is touched, so a crash at any point
 * leaves at least one intact copy — the old or the new one. By default the backup goes first, so
 * the primary (which readers prefer) switches last; repair writes the damaged copy first.
 */
export async function writeGpt(
  device: BlockDevice,
  table: GptTable,
  options: WriteGptOptions & { order?: WriteOrder } = {},
): Promise<void> {
  const ss = table.sectorSize;
  if (Math.floor(device.size / ss) < table.diskSectors) {
    throw new UsageError(
      'GPT_DISK_TOO_SMALL',
      `the table is laid out for ${table.diskSectors} sectors but the device has ${Math.floor(device.size / ss)}`,
    );
  }
  const img = serializeGpt(table, options);
  const writePrimary = async (): Promise<void> => {
    await device.write(table.primaryEntryLba * ss, img.array);
    await device.write(ss, img.primaryHeader);
    await device.flush();
  };
  const writeBackup = async (): Promise<void> => {
    await device.write(table.backupEntryLba * ss, img.array);
    await device.write(table.backupHeaderLba * ss, img.backupHeader);
    await device.flush();
  };
  if ((options.order ?? 'backup-first') === 'backup-first') {
    await writeBackup();
    await writePrimary();
  } else {
    await writePrimary();
    await writeBackup();
  }
  await device.write(0, img.mbr);
  await device.flush();
}
