import { NIL_GUID, UsageError, normalizeGuid, randomGuid } from '@lsvm/core';
import { type GptEntry, checkPartitionName, emptyEntry, isUsedEntry, GPT_ENTRY_MIN_SIZE } from './entry.js';
import { GPT_REVISION_1_0 } from './header.js';
import { resolvePartitionType } from './partition-types.js';
import { type GptTable, arraySectorsOf } from './table.js';
import { GPT_MIN_ARRAY_RESERVED_BYTES, checkEntries } from './validate.js';

/**
 * Creating and editing tables. Every function is pure: it takes a table and returns a new one
 * (write it with writeGpt). Slot numbers are stable — deleting never renumbers, adding takes the
 * first free slot unless told otherwise — because /dev/sdaN, fstab and boot entries name slots.
 */

/** Options of {@link createGpt}. */
export interface CreateGptOptions {
  /** Disk size in logical sectors (or give `diskSize` in bytes). */
  diskSectors?: number;
  /** Disk size in bytes, rounded down to whole sectors. */
  diskSize?: number;
  /** Logical sector size (default 512). */
  sectorSize?: number;
  /** NumberOfPartitionEntries (default 128). */
  entryCount?: number;
  /** SizeOfPartitionEntry (default 128; a multiple of 128). */
  entrySize?: number;
  /** Disk GUID (default random). */
  diskGuid?: string;
}

/**
 * A new empty table filling the disk: primary array at LBA 2, backup header in the last LBA, the
 * backup array just before it, at least 16 KiB reserved for each array (UEFI §5.3).
 */
export function createGpt(options: CreateGptOptions): GptTable {
  const ss = options.sectorSize ?? 512;
  if (ss < 512 || (ss & (ss - 1)) !== 0 || ss > 65536) {
    throw new UsageError('GPT_BAD_SECTOR_SIZE', `sector size ${ss} is not a power of two in 512..65536`);
  }
  const diskSectors = options.diskSectors ?? Math.floor((options.diskSize ?? 0) / ss);
  const count = options.entryCount ?? 128;
  const size = options.entrySize ?? GPT_ENTRY_MIN_SIZE;
  if (!Number.isSafeInteger(count) || count < 1 || count > 65536) {
    throw new UsageError('GPT_BAD_ENTRY_COUNT', `entry count ${count} is not in 1..65536`);
  }
  if (
    !Number.isSafeInteger(size) ||
    size < GPT_ENTRY_MIN_SIZE ||
    size % GPT_ENTRY_MIN_SIZE !== 0 ||
    size > 65536
  ) {
    throw new UsageError('GPT_HEADER_ENTRY_SIZE', `entry size ${size} is not a multiple of 128`);
  }
  const arraySectors = Math.ceil((count * size) / ss);
  const reserved = Math.max(arraySectors, Math.ceil(GPT_MIN_ARRAY_RESERVED_BYTES / ss));
  const firstUsableLba = 2 + reserved;
  const backupHeaderLba = diskSectors - 1;
  const backupEntryLba = backupHeaderLba - arraySectors;
  const lastUsableLba = backupHeaderLba - reserved - 1;
  if (!Number.isSafeInteger(diskSectors) || lastUsableLba < firstUsableLba) {
    throw new UsageError(
      'GPT_DISK_TOO_SMALL',
      `a disk of ${diskSectors} sectors of ${ss} bytes is too small for a GPT with ${count} entries`,
    );
  }
  return {
    sectorSize: ss,
    diskSectors,
    diskGuid: options.diskGuid ? normalizeGuid(options.diskGuid) : randomGuid(),
    revision: GPT_REVISION_1_0,
    headerExtra: new Uint8Array(0),
    firstUsableLba,
    lastUsableLba,
    primaryEntryLba: 2,
    backupEntryLba,
    backupHeaderLba,
    entrySize: size,
    entries: Array.from({ length: count }, (_, i) => emptyEntry(i + 1, size)),
  };
}

/** A free extent of the usable range, inclusive. */
export interface FreeRange {
  readonly firstLba: number;
  readonly lastLba: number;
}

/** The unallocated extents of the usable range, in order. */
export function freeRanges(table: GptTable): FreeRange[] {
  const used = table.entries
    .filter(isUsedEntry)
    .filter((e) => e.lastLba >= e.firstLba)
    .sort((a, b) => a.firstLba - b.firstLba);
  const out: FreeRange[] = [];
  let next = table.firstUsableLba;
  for (const e of used) {
    if (e.firstLba > next)
      out.push({ firstLba: next, lastLba: Math.min(e.firstLba - 1, table.lastUsableLba) });
    next = Math.max(next, e.lastLba + 1);
  }
  if (next <= table.lastUsableLba) out.push({ firstLba: next, lastLba: table.lastUsableLba });
  return out.filter((r) => r.lastLba >= r.firstLba);
}

/** Default alignment: 1 MiB in sectors, what sgdisk, parted and Windows use. */
export function defaultAlignment(sectorSize: number): number {
  return Math.max(1, Math.floor((1024 * 1024) / sectorSize));
}

/** What {@link addPartition} adds. */
export interface AddPartitionSpec {
  /** Type GUID or alias (`esp`, `linux-root-x86-64`…). */
  type: string;
  /** Start LBA; default: the first aligned free sector where the partition fits. */
  firstLba?: number;
  /** Size in sectors, or `rest` (default): up to the end of the free extent holding the start. */
  sizeLba?: number | 'rest';
  /** Alignment of a chosen start, in sectors (default 1 MiB). An explicit `firstLba` is kept as given. */
  alignment?: number;
  /** Up to 36 UTF-16 code units. */
  name?: string;
  attributes?: bigint;
  /** Unique partition GUID (default random). */
  uniqueGuid?: string;
  /** 1-based slot to use (default the first free one). */
  index?: number;
}

/** Adds a partition; returns the new table and the entry as placed. */
export function addPartition(table: GptTable, spec: AddPartitionSpec): { table: GptTable; entry: GptEntry } {
  const typeGuid = resolvePartitionType(spec.type);
  if (typeGuid === NIL_GUID)
    throw new UsageError('GPT_UNKNOWN_TYPE', 'the nil GUID marks unused slots; it is not a type');
  const name = spec.name ?? '';
  checkPartitionName(name);
  const slot = spec.index ?? table.entries.find((e) => !isUsedEntry(e))?.index ?? 0;
  if (slot < 1 || slot > table.entries.length) {
    throw new UsageError(
      'GPT_NO_FREE_SLOT',
      spec.index === undefined
        ? `all ${table.entries.length} slots are in use`
        : `slot ${slot} is not in 1..${table.entries.length}`,
    );
  }
  if (isUsedEntry(table.entries[slot - 1]!))
    throw new UsageError('GPT_SLOT_IN_USE', `slot ${slot} is in use`);
  const align = spec.alignment ?? defaultAlignment(table.sectorSize);
  if (!Number.isSafeInteger(align) || align < 1)
    throw new UsageError('GPT_BAD_ALIGNMENT', `bad alignment ${align}`);
  const size = spec.sizeLba ?? 'rest';
  if (size !== 'rest' && (!Number.isSafeInteger(size) || size < 1)) {
    throw new UsageError('GPT_BAD_SIZE', `partition size ${size} sectors is not a positive integer`);
  }
  const free = freeRanges(table);
  let first: number | undefined;
  let range: FreeRange | undefined;
  if (spec.firstLba !== undefined) {
    first = spec.firstLba;
    range = free.find((r) => r.firstLba <= first! && first! <= r.lastLba);
    if (!range) throw new UsageError('GPT_NO_SPACE', `LBA ${first} is not free or not in the usable range`);
  } else {
    for (const r of free) {
      const s = Math.ceil(r.firstLba / align) * align;
      if (s > r.lastLba) continue;
      if (size !== 'rest' && s + size - 1 > r.lastLba) continue;
      first = s;
      range = r;
      break;
    }
    if (first === undefined || !range) {
      throw new UsageError(
        'GPT_NO_SPACE',
        `no free extent holds ${size === 'rest' ? 'an aligned partition' : `${size} sectors`}`,
      );
    }
  }
  const last = size === 'rest' ? range.lastLba : first + size - 1;
  if (last > range.lastLba) {
    throw new UsageError(
      'GPT_NO_SPACE',
      `LBA ${first}..${last} runs into another partition or past the usable range (free up to ${range.lastLba})`,
    );
  }
  const entry: GptEntry = {
    index: slot,
    typeGuid,
    uniqueGuid: spec.uniqueGuid ? normalizeGuid(spec.uniqueGuid) : randomGuid(),
    firstLba: first,
    lastLba: last,
    attributes: spec.attributes ?? 0n,
    name,
    extra: new Uint8Array(table.entrySize - GPT_ENTRY_MIN_SIZE),
  };
  return { table: replaceEntry(table, entry), entry };
}

/** Empties slot `index`. Other slots keep their numbers. */
export function deletePartition(table: GptTable, index: number): GptTable {
  usedEntry(table, index);
  return replaceEntry(table, emptyEntry(index, table.entrySize));
}

/** Changes the end of partition `index`: a size in sectors, or `rest` to grow into the free space after it. */
export function resizePartition(table: GptTable, index: number, sizeLba: number | 'rest'): GptTable {
  const e = usedEntry(table, index);
  const others = {
    ...table,
    entries: table.entries.map((x) => (x.index === index ? emptyEntry(index, table.entrySize) : x)),
  };
  const range = freeRanges(others).find((r) => r.firstLba <= e.firstLba && e.firstLba <= r.lastLba);
  if (!range) throw new UsageError('GPT_NO_SPACE', `partition ${index} does not start in free usable space`);
  if (sizeLba !== 'rest' && (!Number.isSafeInteger(sizeLba) || sizeLba < 1)) {
    throw new UsageError('GPT_BAD_SIZE', `partition size ${sizeLba} sectors is not a positive integer`);
  }
  const last = sizeLba === 'rest' ? range.lastLba : e.firstLba + sizeLba - 1;
  if (last > range.lastLba) {
    throw new UsageError(
      'GPT_NO_SPACE',
      `partition ${index} cannot end at LBA ${last}: free space ends at ${range.lastLba}`,
    );
  }
  return replaceEntry(table, { ...e, lastLba: last });
}

/** Fields {@link setPartition} can change. */
export interface SetPartitionSpec {
  type?: string;
  name?: string;
  attributes?: bigint;
  uniqueGuid?: string;
}

/** Changes the type, name, attributes or unique GUID of partition `index`. */
export function setPartition(table: GptTable, index: number, spec: SetPartitionSpec): GptTable {
  const e = usedEntry(table, index);
  if (spec.name !== undefined) checkPartitionName(spec.name);
  if (spec.attributes !== undefined && (spec.attributes < 0n || spec.attributes > 0xffffffffffffffffn)) {
    throw new UsageError('GPT_BAD_ATTRIBUTES', 'attributes must fit 64 bits');
  }
  const typeGuid = spec.type !== undefined ? resolvePartitionType(spec.type) : e.typeGuid;
  if (typeGuid === NIL_GUID) throw new UsageError('GPT_UNKNOWN_TYPE', 'use deletePartition to empty a slot');
  return replaceEntry(table, {
    ...e,
    typeGuid,
    name: spec.name ?? e.name,
    attributes: spec.attributes ?? e.attributes,
    uniqueGuid: spec.uniqueGuid !== undefined ? normalizeGuid(spec.uniqueGuid) : e.uniqueGuid,
  });
}

/**
 * Moves the backup array and header to the end of a disk of `diskSectors` sectors (a grown or
 * shrunk disk), moving LastUsableLBA with them. Entries are untouched; refuses when a partition
 * would fall outside the new usable range.
 */
export function relocateBackup(table: GptTable, diskSectors: number): GptTable {
  const arraySectors = arraySectorsOf(table);
  const reserved = Math.max(arraySectors, Math.ceil(GPT_MIN_ARRAY_RESERVED_BYTES / table.sectorSize));
  const backupHeaderLba = diskSectors - 1;
  const lastUsableLba = backupHeaderLba - reserved - 1;
  const out: GptTable = {
    ...table,
    diskSectors,
    backupHeaderLba,
    backupEntryLba: backupHeaderLba - arraySectors,
    lastUsableLba,
  };
  const beyond = table.entries.filter((e) => isUsedEntry(e) && e.lastLba > lastUsableLba);
  if (lastUsableLba < table.firstUsableLba || beyond.length > 0) {
    throw new UsageError(
      'GPT_DISK_TOO_SMALL',
      `a ${diskSectors}-sector disk cannot hold this table${beyond.length ? `: partition(s) ${beyond.map((e) => e.index).join(', ')} end past LBA ${lastUsableLba}` : ''}`,
    );
  }
  return out;
}

/** The used entry in slot `index`, or a UsageError. */
export function usedEntry(table: GptTable, index: number): GptEntry {
  const e = Number.isInteger(index) ? table.entries[index - 1] : undefined;
  if (!e || !isUsedEntry(e)) throw new UsageError('GPT_NO_SUCH_PARTITION', `there is no partition ${index}`);
  return e;
}

function replaceEntry(table: GptTable, entry: GptEntry): GptTable {
  const entries = table.entries.slice();
  entries[entry.index - 1] = entry;
  const out = { ...table, entries };
  const bad = checkEntries(out).filter((p) => p.severity === 'error' && p.partitions?.includes(entry.index));
  if (bad.length > 0) throw new UsageError('GPT_INVALID_TABLE', bad.map((p) => p.message).join('; '));
  return out;
}
