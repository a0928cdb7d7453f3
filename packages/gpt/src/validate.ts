import { type GptFinding, type GptLocation, finding } from './errors.js';
import { type GptArrayLimits, GPT_ENTRY_MIN_SIZE, isUsedEntry } from './entry.js';
import {
  GPT_HEADER_MIN_SIZE,
  GPT_REVISION_1_0,
  type GptHeader,
  computeHeaderCrc,
  hasGptSignature,
  hex32,
} from './header.js';
import { type Mbr, protectiveRecord, protectiveSize } from './mbr.js';
import type { GptTable } from './table.js';

/**
 * Validation rules (UEFI spec §5.3.2 "GPT header", §5.3.3 "GPT partition entry array", §5.2.3
 * "protective MBR"). Every check reports instead of throwing, so one run lists every problem,
 * each with a stable code (errors.ts). Pure functions; openGpt feeds them what it read.
 */

/** The UEFI minimum space reserved for one partition entry array (§5.3). */
export const GPT_MIN_ARRAY_RESERVED_BYTES = 16384;

/** Verdict on one header sector, before its array is read. */
export interface HeaderCheck {
  readonly problems: GptFinding[];
  /** Signature, HeaderSize and HeaderCRC32 hold: the fields can be trusted. */
  readonly intact: boolean;
  /** The array location and size are sane enough to read it. */
  readonly arrayReadable: boolean;
}

/**
 * Checks one header. `lba` is where it was read; `diskSectors` the disk size in logical sectors.
 * Cross-copy checks (disagreement, backup position) are in {@link compareCopies}.
 */
export function checkHeader(
  h: GptHeader,
  sector: Uint8Array,
  which: 'primary' | 'backup',
  lba: number,
  diskSectors: number,
  sectorSize: number,
  limits: GptArrayLimits,
): HeaderCheck {
  const p: GptFinding[] = [];
  const err = (code: Parameters<typeof finding>[0], msg: string): void => {
    p.push(finding(code, 'error', which, msg));
  };
  const warn = (code: Parameters<typeof finding>[0], msg: string): void => {
    p.push(finding(code, 'warning', which, msg));
  };
  if (!hasGptSignature(sector)) {
    err('GPT_HEADER_SIGNATURE', `${which} header at LBA ${lba} has no "EFI PART" signature`);
    return { problems: p, intact: false, arrayReadable: false };
  }
  if (h.headerSize < GPT_HEADER_MIN_SIZE || h.headerSize > sectorSize) {
    err('GPT_HEADER_SIZE', `${which} HeaderSize ${h.headerSize} is outside [92, ${sectorSize}]`);
    return { problems: p, intact: false, arrayReadable: false };
  }
  const crc = computeHeaderCrc(sector, h.headerSize);
  const crcOk = crc === h.headerCrc32;
  if (!crcOk) {
    err(
      'GPT_HEADER_CRC',
      `${which} HeaderCRC32 is 0x${hex32(h.headerCrc32)}, the header hashes to 0x${hex32(crc ?? 0)}`,
    );
  }
  if (h.revision !== GPT_REVISION_1_0) {
    warn('GPT_HEADER_REVISION', `${which} revision is 0x${hex32(h.revision)}, expected 0x00010000`);
  }
  if (h.reserved !== 0) warn('GPT_HEADER_RESERVED', `${which} reserved field is 0x${hex32(h.reserved)}`);
  if (h.myLba !== lba)
    err('GPT_HEADER_MY_LBA', `${which} MyLBA is ${h.myLba} but it was read from LBA ${lba}`);
  if (which === 'backup' && h.alternateLba !== 1) {
    err('GPT_HEADER_ALTERNATE_LBA', `backup AlternateLBA is ${h.alternateLba}, expected 1`);
  }
  if (which === 'primary' && (h.alternateLba <= h.lastUsableLba || h.alternateLba >= diskSectors)) {
    err(
      'GPT_HEADER_ALTERNATE_LBA',
      `primary AlternateLBA ${h.alternateLba} is not after the usable range and on the ${diskSectors}-sector disk`,
    );
  }
  const lastMeta = which === 'primary' ? h.alternateLba : h.myLba;
  if (
    h.firstUsableLba > h.lastUsableLba ||
    h.firstUsableLba < 2 ||
    h.lastUsableLba >= Math.min(diskSectors - 1, lastMeta)
  ) {
    err(
      'GPT_HEADER_USABLE_RANGE',
      `${which} usable range ${h.firstUsableLba}..${h.lastUsableLba} is not inside 2..${Math.min(diskSectors - 1, lastMeta) - 1}`,
    );
  }
  const size = h.sizeOfPartitionEntry;
  const count = h.numberOfPartitionEntries;
  if (size < GPT_ENTRY_MIN_SIZE || size % GPT_ENTRY_MIN_SIZE !== 0) {
    err('GPT_HEADER_ENTRY_SIZE', `${which} SizeOfPartitionEntry ${size} is not a non-zero multiple of 128`);
    return { problems: p, intact: false, arrayReadable: false };
  }
  if (count > limits.maxEntries || count * size > limits.maxArrayBytes) {
    err(
      'GPT_ENTRY_ARRAY_LIMIT',
      `${which} array of ${count} × ${size} bytes exceeds the limits (${limits.maxEntries} entries, ${limits.maxArrayBytes} bytes)`,
    );
    return { problems: p, intact: crcOk, arrayReadable: false };
  }
  const sectors = Math.ceil((count * size) / sectorSize);
  const start = h.partitionEntryLba;
  const end = start + sectors; // exclusive
  const inDisk = start >= 2 && end <= diskSectors;
  const clear =
    which === 'primary' ? start >= 2 && end <= h.firstUsableLba : start > h.lastUsableLba && end <= h.myLba;
  if (!inDisk || !clear) {
    err(
      'GPT_ENTRY_ARRAY_LOCATION',
      `${which} entry array at LBA ${start}..${end - 1} ${inDisk ? 'overlaps a header or the usable range' : 'is not on the disk'}`,
    );
  }
  const reserved = (which === 'primary' ? h.firstUsableLba : h.myLba) - start;
  if (inDisk && reserved * sectorSize < GPT_MIN_ARRAY_RESERVED_BYTES) {
    warn(
      'GPT_ENTRY_ARRAY_SMALL',
      `${which} reserves ${Math.max(0, reserved) * sectorSize} bytes for its entry array; UEFI asks for at least 16384`,
    );
  }
  return { problems: p, intact: crcOk, arrayReadable: inDisk };
}

/** Finding for an array CRC mismatch, or none. CRC is over exactly count × size bytes (§5.3.2). */
export function checkArrayCrc(
  h: GptHeader,
  computed: number,
  which: 'primary' | 'backup',
): GptFinding | undefined {
  if (computed === h.partitionEntryArrayCrc32) return undefined;
  return finding(
    'GPT_ENTRY_ARRAY_CRC',
    'error',
    which,
    `${which} PartitionEntryArrayCRC32 is 0x${hex32(h.partitionEntryArrayCrc32)}, the array hashes to 0x${hex32(computed)}`,
  );
}

/** Primary/backup agreement (§5.3.2: the backup is a copy, with MyLBA/AlternateLBA swapped). */
export function compareCopies(primary: GptHeader, backup: GptHeader, backupLba: number): GptFinding[] {
  const out: GptFinding[] = [];
  const fields: [string, unknown, unknown][] = [
    ['DiskGUID', primary.diskGuid, backup.diskGuid],
    ['FirstUsableLBA', primary.firstUsableLba, backup.firstUsableLba],
    ['LastUsableLBA', primary.lastUsableLba, backup.lastUsableLba],
    ['NumberOfPartitionEntries', primary.numberOfPartitionEntries, backup.numberOfPartitionEntries],
    ['SizeOfPartitionEntry', primary.sizeOfPartitionEntry, backup.sizeOfPartitionEntry],
    ['PartitionEntryArrayCRC32', primary.partitionEntryArrayCrc32, backup.partitionEntryArrayCrc32],
    ['primary AlternateLBA vs backup location', primary.alternateLba, backupLba],
  ];
  for (const [name, a, b] of fields) {
    if (a !== b) {
      out.push(
        finding(
          'GPT_HEADERS_DIFFER',
          'error',
          'table',
          `primary and backup differ in ${name}: ${String(a)} vs ${String(b)}`,
        ),
      );
    }
  }
  return out;
}

/** Protective MBR checks (§5.2.3) for a disk of `diskSectors` logical sectors. */
export function checkMbr(mbr: Mbr, diskSectors: number): GptFinding[] {
  const out: GptFinding[] = [];
  switch (mbr.kind) {
    case 'none':
      out.push(
        finding('GPT_MBR_MISSING', 'error', 'mbr', 'sector 0 has no 0x55AA signature: no protective MBR'),
      );
      return out;
    case 'empty':
    case 'mbr':
      out.push(
        finding(
          'GPT_MBR_NOT_PROTECTIVE',
          'error',
          'mbr',
          mbr.kind === 'empty'
            ? 'the MBR has no partition records, not even the 0xEE protective one'
            : 'the MBR holds MBR partitions and no 0xEE record: firmware and kernels may treat the disk as MBR',
        ),
      );
      return out;
    case 'hybrid':
      out.push(
        finding(
          'GPT_MBR_HYBRID',
          'info',
          'mbr',
          `hybrid MBR: ${mbr.records.filter((r) => r.osType !== 0 && r.osType !== 0xee).length} MBR partition record(s) beside the 0xEE record`,
        ),
      );
      break;
    case 'protective':
      break;
  }
  const ee = protectiveRecord(mbr)!;
  if (ee.startingLba !== 1) {
    out.push(
      finding(
        'GPT_MBR_PROTECTIVE_START',
        'error',
        'mbr',
        `the 0xEE record starts at LBA ${ee.startingLba}, not 1`,
      ),
    );
  }
  const want = protectiveSize(diskSectors);
  if (mbr.kind === 'protective' && ee.sizeInLba !== want) {
    out.push(
      finding(
        'GPT_MBR_PROTECTIVE_SIZE',
        'warning',
        'mbr',
        `the 0xEE record covers ${ee.sizeInLba} sectors; the disk needs ${want}`,
      ),
    );
  }
  return out;
}

/**
 * Entry checks on a table: EndingLBA ≥ StartingLBA (inclusive end), inside the usable range,
 * no overlaps, no duplicate unique GUIDs (§5.3.3).
 */
export function checkEntries(table: GptTable): GptFinding[] {
  const out: GptFinding[] = [];
  const used = table.entries.filter(isUsedEntry);
  const sane = [];
  for (const e of used) {
    if (e.lastLba < e.firstLba) {
      out.push(
        finding(
          'GPT_ENTRY_END_BEFORE_START',
          'error',
          'table',
          `partition ${e.index} ends at LBA ${e.lastLba}, before its start ${e.firstLba}`,
          [e.index],
        ),
      );
      continue;
    }
    sane.push(e);
    if (e.firstLba < table.firstUsableLba || e.lastLba > table.lastUsableLba) {
      out.push(
        finding(
          'GPT_ENTRY_OUTSIDE_USABLE',
          'error',
          'table',
          `partition ${e.index} (LBA ${e.firstLba}..${e.lastLba}) is outside the usable range ${table.firstUsableLba}..${table.lastUsableLba}`,
          [e.index],
        ),
      );
    }
  }
  sane.sort((a, b) => a.firstLba - b.firstLba || a.index - b.index);
  // Sweep in start order: each partition is compared with every earlier one still open. An
  // overlap chain is reported pairwise, like sgdisk does.
  for (let i = 0; i < sane.length; i++) {
    const a = sane[i]!;
    for (let j = i + 1; j < sane.length && sane[j]!.firstLba <= a.lastLba; j++) {
      const b = sane[j]!;
      const [x, y] = a.index < b.index ? [a, b] : [b, a];
      out.push(
        finding(
          'GPT_ENTRY_OVERLAP',
          'error',
          'table',
          `partitions ${x.index} (LBA ${x.firstLba}..${x.lastLba}) and ${y.index} (LBA ${y.firstLba}..${y.lastLba}) overlap`,
          [x.index, y.index],
        ),
      );
    }
  }
  const seen = new Map<string, number>();
  for (const e of used) {
    const prev = seen.get(e.uniqueGuid);
    if (prev !== undefined) {
      out.push(
        finding(
          'GPT_ENTRY_DUPLICATE_GUID',
          'warning',
          'table',
          `partitions ${prev} and ${e.index} share the unique GUID ${e.uniqueGuid.toUpperCase()}`,
          [prev, e.index],
        ),
      );
    } else seen.set(e.uniqueGuid, e.index);
  }
  return out;
}

/**
 * Layout checks on a table about to be written (the writer refuses what validation would flag):
 * usable range, both arrays clear of headers and of the usable range, backup inside the disk.
 */
export function checkLayout(t: GptTable): GptFinding[] {
  const out: GptFinding[] = [];
  const sectors = Math.ceil((t.entries.length * t.entrySize) / t.sectorSize);
  const loc: GptLocation = 'table';
  if (t.backupHeaderLba >= t.diskSectors || t.backupHeaderLba <= t.lastUsableLba) {
    out.push(
      finding(
        'GPT_HEADER_ALTERNATE_LBA',
        'error',
        loc,
        `backup header LBA ${t.backupHeaderLba} is not after the usable range on the disk`,
      ),
    );
  }
  if (t.firstUsableLba > t.lastUsableLba || t.firstUsableLba < 2) {
    out.push(
      finding(
        'GPT_HEADER_USABLE_RANGE',
        'error',
        loc,
        `usable range ${t.firstUsableLba}..${t.lastUsableLba} is empty or overlaps LBA 0-1`,
      ),
    );
  }
  if (t.primaryEntryLba < 2 || t.primaryEntryLba + sectors > t.firstUsableLba) {
    out.push(
      finding(
        'GPT_ENTRY_ARRAY_LOCATION',
        'error',
        'primary',
        `primary array LBA ${t.primaryEntryLba}+${sectors} does not fit before FirstUsableLBA ${t.firstUsableLba}`,
      ),
    );
  }
  if (t.backupEntryLba <= t.lastUsableLba || t.backupEntryLba + sectors > t.backupHeaderLba) {
    out.push(
      finding(
        'GPT_ENTRY_ARRAY_LOCATION',
        'error',
        'backup',
        `backup array LBA ${t.backupEntryLba}+${sectors} does not fit between LastUsableLBA ${t.lastUsableLba} and the backup header`,
      ),
    );
  }
  return out;
}
