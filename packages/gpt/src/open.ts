import { type BlockDevice, FormatError, UsageError, crc32, resolveLimits } from '@lsvm/core';
import { type GptFinding, finding } from './errors.js';
import {
  DEFAULT_GPT_LIMITS,
  type GptArrayLimits,
  type GptEntry,
  isUsedEntry,
  parseEntryArray,
} from './entry.js';
import { type GptHeader, decodeGptHeader, hasGptSignature } from './header.js';
import { type Mbr, parseMbr } from './mbr.js';
import type { GptTable } from './table.js';
import { checkArrayCrc, checkEntries, checkHeader, checkMbr, compareCopies } from './validate.js';

/**
 * Reading a GPT from a device: probe the logical sector size, read the protective MBR, both
 * headers and both arrays, validate everything, and pick the copy to trust (the primary when
 * intact, else the backup — UEFI §5.3.2 "if the primary is corrupt, the backup is used").
 */

/** One of the two copies as read. */
export interface GptCopy {
  readonly which: 'primary' | 'backup';
  /** LBA the header was read from. */
  readonly lba: number;
  /** Decoded header, when 92 bytes could be decoded at all. */
  readonly header?: GptHeader;
  /** Exactly count × size bytes of the array, when it could be read. */
  readonly arrayBytes?: Uint8Array;
  /** Decoded entries, when the array could be read and decoded. */
  readonly entries?: readonly GptEntry[];
  /** Signature, size, header CRC, array CRC hold and the entries decode: the copy can be trusted. */
  readonly intact: boolean;
  /** No error-level problem on this copy. */
  readonly valid: boolean;
  /** Findings about this copy. */
  readonly problems: readonly GptFinding[];
}

/** Everything {@link openGpt} learnt about a disk. */
export interface GptDisk {
  readonly sectorSize: number;
  /** Disk size in logical sectors. */
  readonly diskSectors: number;
  /** How the sector size was decided. */
  readonly sectorSizeSource: 'given' | 'primary' | 'backup';
  readonly mbr: Mbr;
  readonly primary: GptCopy;
  readonly backup: GptCopy;
  /** The table of the trusted copy; undefined when neither copy is intact. */
  readonly table?: GptTable;
  /** Which copy `table` came from. */
  readonly source?: 'primary' | 'backup';
  /** Findings about the MBR. */
  readonly mbrProblems: readonly GptFinding[];
  /** Table-level findings: copies disagreeing, backup position, entries. */
  readonly tableProblems: readonly GptFinding[];
  /** All findings: MBR, primary, backup, table. */
  readonly findings: readonly GptFinding[];
}

/** Options of {@link openGpt}. */
export interface OpenGptOptions {
  /** Logical sector size; probed (512, then 4096) when absent. */
  sectorSize?: number;
  /** Entry array limits. */
  limits?: Partial<GptArrayLimits>;
}

/**
 * Reads and validates the GPT of `device`. Never throws for damage it can describe: problems come
 * back as findings. Throws FormatError `GPT_NOT_FOUND` when no `EFI PART` header exists at either
 * end for any probed sector size (a plain MBR disk or a blank one — reported, not misread).
 */
export async function openGpt(device: BlockDevice, options: OpenGptOptions = {}): Promise<GptDisk> {
  const limits = resolveLimits(DEFAULT_GPT_LIMITS, options.limits);
  const lba0 = await device.read(0, Math.min(device.size, 512));
  if (lba0.length < 512) {
    throw new FormatError('GPT_NOT_FOUND', `a ${device.size}-byte device cannot hold a GPT`, {
      structure: 'GPT',
    });
  }
  const mbr = parseMbr(lba0);
  const probe = await probeSectorSize(device, options.sectorSize);
  if (probe === undefined) {
    const what =
      mbr.kind === 'mbr'
        ? `a plain MBR disk (${mbr.records.filter((r) => r.osType !== 0).length} MBR partition(s)), not GPT`
        : mbr.kind === 'protective' || mbr.kind === 'hybrid'
          ? 'a protective MBR but no "EFI PART" header at either end of the disk'
          : 'no "EFI PART" header at either end of the disk';
    throw new FormatError('GPT_NOT_FOUND', what, { structure: 'GPT' });
  }
  const { sectorSize, source: sectorSizeSource } = probe;
  const diskSectors = Math.floor(device.size / sectorSize);
  if (diskSectors < 3) {
    throw new FormatError('GPT_NOT_FOUND', `a ${diskSectors}-sector disk cannot hold a GPT`, {
      structure: 'GPT',
    });
  }

  const primary = await readCopy(device, 'primary', 1, sectorSize, diskSectors, limits);
  // The backup is where the intact primary says it is (§5.3.2); when nothing intact is there, the
  // last LBA is tried too, so a wrong AlternateLBA does not hide a good backup.
  const last = diskSectors - 1;
  const alt = primary.intact ? primary.header!.alternateLba : undefined;
  const wanted = alt !== undefined && alt > 1 && alt < diskSectors ? alt : last;
  let backup = await readCopy(device, 'backup', wanted, sectorSize, diskSectors, limits);
  if (!backup.intact && wanted !== last) {
    const atEnd = await readCopy(device, 'backup', last, sectorSize, diskSectors, limits);
    if (atEnd.intact) backup = atEnd;
  }
  const backupLba = backup.lba;

  const tableProblems: GptFinding[] = [];
  if (backup.intact && backupLba !== last) {
    tableProblems.push(
      finding(
        'GPT_BACKUP_NOT_AT_END',
        'warning',
        'backup',
        `backup header is at LBA ${backupLba}, not in the last LBA ${last} (disk grown?)`,
      ),
    );
  }
  if (primary.intact && backup.intact) {
    tableProblems.push(...compareCopies(primary.header!, backup.header!, backupLba));
  }
  // Preference: a valid primary, a valid backup, then whichever is merely intact (§5.3.2: "if the
  // primary GPT is corrupt, software must check the backup").
  const order: GptCopy[] = [primary, backup].filter((c) => c.valid && c.intact);
  order.push(...[primary, backup].filter((c) => c.intact && !c.valid));
  const chosen = order[0];
  let table: GptTable | undefined;
  let source: 'primary' | 'backup' | undefined;
  if (chosen) {
    source = chosen.which;
    const other = chosen === primary ? backup : primary;
    table = tableFromCopy(chosen, other.intact ? other : undefined, sectorSize, diskSectors);
  } else {
    tableProblems.push(
      finding('GPT_NO_VALID_HEADER', 'error', 'table', 'neither the primary nor the backup table is intact'),
    );
  }
  if (table) tableProblems.push(...checkEntries(table));
  const mbrProblems = checkMbr(mbr, diskSectors);
  const findings = [...mbrProblems, ...primary.problems, ...backup.problems, ...tableProblems];
  return {
    sectorSize,
    diskSectors,
    sectorSizeSource,
    mbr,
    primary,
    backup,
    ...(table ? { table, source: source! } : {}),
    mbrProblems,
    tableProblems,
    findings,
  };
}

/**
 * Like {@link openGpt} but insists on a usable table: throws FormatError `GPT_NO_VALID_HEADER`
 * when neither copy is intact. Damage to one copy is tolerated (see `disk.findings`).
 */
export async function readGpt(
  device: BlockDevice,
  options: OpenGptOptions = {},
): Promise<GptDisk & { table: GptTable }> {
  const disk = await openGpt(device, options);
  if (!disk.table) {
    throw new FormatError('GPT_NO_VALID_HEADER', 'neither the primary nor the backup GPT is intact', {
      structure: 'GPT header',
    });
  }
  return disk as GptDisk & { table: GptTable };
}

async function probeSectorSize(
  device: BlockDevice,
  given: number | undefined,
): Promise<{ sectorSize: number; source: GptDisk['sectorSizeSource'] } | undefined> {
  if (given !== undefined) {
    if (given !== 512 && given !== 4096 && !(given >= 512 && given <= 65536 && (given & (given - 1)) === 0)) {
      throw new UsageError('GPT_BAD_SECTOR_SIZE', `sector size ${given} is not a power of two in 512..65536`);
    }
    return { sectorSize: given, source: 'given' };
  }
  for (const ss of [512, 4096]) {
    if (device.size >= 2 * ss && hasGptSignature(await device.read(ss, 8)))
      return { sectorSize: ss, source: 'primary' };
  }
  for (const ss of [512, 4096]) {
    const at = (Math.floor(device.size / ss) - 1) * ss;
    if (at >= 2 * ss && hasGptSignature(await device.read(at, 8)))
      return { sectorSize: ss, source: 'backup' };
  }
  return undefined;
}

async function readCopy(
  device: BlockDevice,
  which: 'primary' | 'backup',
  lba: number,
  sectorSize: number,
  diskSectors: number,
  limits: GptArrayLimits,
): Promise<GptCopy> {
  const sector = await device.read(lba * sectorSize, sectorSize);
  let header: GptHeader;
  try {
    header = decodeGptHeader(sector);
  } catch (e) {
    const code = hasGptSignature(sector) ? 'GPT_HEADER_LBA_RANGE' : 'GPT_HEADER_SIGNATURE';
    return broken(which, lba, [
      finding(code, 'error', which, `${which} header at LBA ${lba}: ${(e as Error).message}`),
    ]);
  }
  const check = checkHeader(header, sector, which, lba, diskSectors, sectorSize, limits);
  const problems = [...check.problems];
  if (!check.arrayReadable) {
    return { which, lba, header, intact: false, valid: false, problems };
  }
  const length = header.numberOfPartitionEntries * header.sizeOfPartitionEntry;
  const arrayBytes = await device.read(header.partitionEntryLba * sectorSize, length);
  const crcProblem = checkArrayCrc(header, crc32(arrayBytes), which);
  if (crcProblem) problems.push(crcProblem);
  let entries: GptEntry[] | undefined;
  try {
    entries = parseEntryArray(
      arrayBytes,
      header.numberOfPartitionEntries,
      header.sizeOfPartitionEntry,
      limits,
    );
  } catch (e) {
    problems.push(
      finding('GPT_ENTRY_LBA_RANGE', 'error', which, `${which} entry array: ${(e as Error).message}`),
    );
  }
  const intact = check.intact && !crcProblem && entries !== undefined;
  const valid = !problems.some((p) => p.severity === 'error');
  return { which, lba, header, arrayBytes, ...(entries ? { entries } : {}), intact, valid, problems };
}

function broken(which: 'primary' | 'backup', lba: number, problems: GptFinding[]): GptCopy {
  return { which, lba, intact: false, valid: false, problems };
}

/**
 * Builds the table model from an intact copy; `other` (the other copy, when intact) supplies its
 * own array location.
 */
export function tableFromCopy(
  copy: GptCopy,
  other: GptCopy | undefined,
  sectorSize: number,
  diskSectors: number,
): GptTable {
  const h = copy.header!;
  const sectors = Math.ceil((h.numberOfPartitionEntries * h.sizeOfPartitionEntry) / sectorSize);
  const fromPrimary = copy.which === 'primary';
  const backupHeaderLba = fromPrimary ? h.alternateLba : h.myLba;
  return {
    sectorSize,
    diskSectors,
    diskGuid: h.diskGuid,
    revision: h.revision,
    headerExtra: h.extra,
    firstUsableLba: h.firstUsableLba,
    lastUsableLba: h.lastUsableLba,
    primaryEntryLba: fromPrimary ? h.partitionEntryLba : (other?.header?.partitionEntryLba ?? 2),
    backupEntryLba: fromPrimary
      ? (other?.header?.partitionEntryLba ?? backupHeaderLba - sectors)
      : h.partitionEntryLba,
    backupHeaderLba,
    entrySize: h.sizeOfPartitionEntry,
    entries: copy.entries!,
  };
}

/** The used partitions of a table, in slot order. */
export function usedPartitions(table: GptTable): GptEntry[] {
  return table.entries.filter(isUsedEntry);
}
