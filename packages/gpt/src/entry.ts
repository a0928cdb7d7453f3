import {
  ByteWriter,
  FormatError,
  NIL_GUID,
  UsageError,
  checkLimit,
  decodeUtf16le,
  encodeUtf16le,
  guidFromBytes,
  guidToBytes,
} from '@lsvm/core';

/**
 * GPT partition entries (UEFI spec §5.3.3, table 5-6). An entry is SizeOfPartitionEntry bytes
 * (128 × 2^n); the first 128 hold the defined fields and any bytes past them are kept verbatim so
 * rewriting a table with 256-byte entries does not lose what another tool stored there.
 */

/** Size of the fields UEFI defines in an entry. */
export const GPT_ENTRY_MIN_SIZE = 128;
/** The PartitionName field holds 36 UTF-16 code units (72 bytes). */
export const GPT_NAME_MAX_UNITS = 36;

/** One slot of the partition entry array. */
export interface GptEntry {
  /** 1-based slot number. Stable: deleting a partition never renumbers the others. */
  readonly index: number;
  /** Lower-case canonical GUID; {@link NIL_GUID} marks an unused slot. */
  readonly typeGuid: string;
  /** Lower-case canonical GUID. */
  readonly uniqueGuid: string;
  readonly firstLba: number;
  /** Inclusive (§5.3.3). */
  readonly lastLba: number;
  /** The full 64 attribute bits; see attributes.ts for the named ones. */
  readonly attributes: bigint;
  /** Up to 36 UTF-16 code units; surrogate pairs count as two. */
  readonly name: string;
  /** Bytes 128..SizeOfPartitionEntry of the entry, preserved on rewrite. */
  readonly extra: Uint8Array;
}

/** True when the slot holds a partition (non-zero type GUID, §5.3.3). */
export function isUsedEntry(e: GptEntry): boolean {
  return e.typeGuid !== NIL_GUID;
}

/** An unused slot of the given entry size. */
export function emptyEntry(index: number, entrySize = GPT_ENTRY_MIN_SIZE): GptEntry {
  return {
    index,
    typeGuid: NIL_GUID,
    uniqueGuid: NIL_GUID,
    firstLba: 0,
    lastLba: 0,
    attributes: 0n,
    name: '',
    extra: new Uint8Array(entrySize - GPT_ENTRY_MIN_SIZE),
  };
}

/** Number of sectors an array of `count` entries of `size` bytes occupies. */
export function entryArraySectors(count: number, size: number, sectorSize: number): number {
  return Math.ceil((count * size) / sectorSize);
}

/** Limits of the entry array parser. */
export interface GptArrayLimits {
  /** Most entries accepted (default 16384: 128 × the usual count). */
  maxEntries: number;
  /** Most bytes an array may occupy (default 16 MiB). */
  maxArrayBytes: number;
}

/** Defaults of {@link GptArrayLimits}. */
export const DEFAULT_GPT_LIMITS: Readonly<GptArrayLimits> = Object.freeze({
  maxEntries: 16384,
  maxArrayBytes: 16 * 1024 * 1024,
});

/** Throws a LimitError (`GPT_ENTRY_ARRAY_LIMIT`) when an array of `count` × `size` bytes exceeds `limits`. */
export function checkArrayLimits(count: number, size: number, limits: GptArrayLimits): void {
  checkLimit(count, limits.maxEntries, 'GPT_ENTRY_ARRAY_LIMIT', 'partition entry count', 'GPT entry array');
  checkLimit(
    count * size,
    limits.maxArrayBytes,
    'GPT_ENTRY_ARRAY_LIMIT',
    'entry array size',
    'GPT entry array',
  );
}

/**
 * Decodes `count` entries of `size` bytes. Pure. Used slots whose LBAs exceed 2^53 − 1 are a
 * FormatError (no disk is that large); unused slots are not interpreted beyond their type.
 * @param bytes at least count × size bytes (the array as read, possibly padded to a sector)
 */
export function parseEntryArray(
  bytes: Uint8Array,
  count: number,
  size: number,
  limits: GptArrayLimits = DEFAULT_GPT_LIMITS,
): GptEntry[] {
  if (!Number.isInteger(size) || size < GPT_ENTRY_MIN_SIZE || size % GPT_ENTRY_MIN_SIZE !== 0) {
    throw new FormatError('GPT_HEADER_ENTRY_SIZE', `entry size ${size} is not a non-zero multiple of 128`, {
      structure: 'GPT entry array',
    });
  }
  checkArrayLimits(count, size, limits);
  if (bytes.length < count * size) {
    throw new FormatError('TRUNCATED', `entry array needs ${count * size} bytes, got ${bytes.length}`, {
      structure: 'GPT entry array',
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: GptEntry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    // Most slots of a 128-entry (or 4096-entry) array are all zeros: skip decoding them.
    out[i] = isZero(bytes, o, o + size) ? emptyEntry(i + 1, size) : decodeEntry(bytes, view, o, size, i + 1);
  }
  return out;
}

function isZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

function decodeEntry(bytes: Uint8Array, view: DataView, o: number, size: number, index: number): GptEntry {
  const typeGuid = guidFromBytes(bytes, o);
  const used = typeGuid !== NIL_GUID;
  const lba = (at: number, what: string): number => {
    const v = view.getBigUint64(o + at, true);
    if (v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    if (!used) return 0;
    throw new FormatError('GPT_ENTRY_LBA_RANGE', `partition ${index} ${what} ${v} is beyond any disk`, {
      structure: 'GPT entry array',
      offset: o + at,
    });
  };
  return {
    index,
    typeGuid,
    uniqueGuid: guidFromBytes(bytes, o + 16),
    firstLba: lba(32, 'StartingLBA'),
    lastLba: lba(40, 'EndingLBA'),
    attributes: view.getBigUint64(o + 48, true),
    name: decodeUtf16le(bytes.subarray(o + 56, o + 128)),
    extra: bytes.slice(o + 128, o + size),
  };
}

/**
 * Checks that a partition name fits the 36-code-unit field; a longer name is refused rather than
 * truncated (truncation could split a surrogate pair, and silently renaming is worse than failing).
 */
export function checkPartitionName(name: string): void {
  if (name.length > GPT_NAME_MAX_UNITS) {
    throw new UsageError(
      'GPT_NAME_TOO_LONG',
      `partition name has ${name.length} UTF-16 code units; at most ${GPT_NAME_MAX_UNITS} fit`,
    );
  }
  if (name.includes('\u0000')) throw new UsageError('GPT_NAME_NUL', 'partition name contains NUL');
}

/** Encodes entries into an array of `entries.length` × `size` bytes. */
export function serializeEntryArray(entries: readonly GptEntry[], size: number): Uint8Array {
  if (size < GPT_ENTRY_MIN_SIZE || size % GPT_ENTRY_MIN_SIZE !== 0) {
    throw new UsageError('GPT_HEADER_ENTRY_SIZE', `entry size ${size} is not a non-zero multiple of 128`);
  }
  const out = new Uint8Array(entries.length * size);
  for (let i = 0; i < entries.length; i++) encodeEntry(entries[i]!, out, i * size, size);
  return out;
}

function encodeEntry(e: GptEntry, out: Uint8Array, o: number, size: number): void {
  checkPartitionName(e.name);
  if (e.extra.length > size - GPT_ENTRY_MIN_SIZE) {
    throw new UsageError('GPT_ENTRY_EXTRA', `entry ${e.index} carries more extra bytes than ${size} allows`);
  }
  const w = new ByteWriter(out.subarray(o, o + size));
  w.bytes(guidToBytes(e.typeGuid))
    .bytes(guidToBytes(e.uniqueGuid))
    .u64(e.firstLba)
    .u64(e.lastLba)
    .u64(e.attributes)
    .bytes(encodeUtf16le(e.name));
  out.set(e.extra, o + GPT_ENTRY_MIN_SIZE);
}
