import {
  ByteReader,
  ChecksumError,
  FormatError,
  guidFromBytes,
  guidToBytes,
  UnsupportedError,
} from '@lsvm/core';
import {
  BAT_REGION_GUID,
  HEADER_SECTION_SIZE,
  KiB64,
  MAX_TABLE_ENTRIES,
  METADATA_REGION_GUID,
  MiB,
} from './constants.js';
import { checksum4k } from './header.js';
import { expectSignature, writeSignature } from './signature.js';

/** One region table entry ([MS-VHDX] §2.2.3.2). */
export interface RegionEntry {
  guid: string;
  fileOffset: number;
  length: number;
  /** When set, a reader that does not know the region must refuse the file. */
  required: boolean;
}

/** A parsed region table ([MS-VHDX] §2.2.3). */
export interface RegionTable {
  entries: RegionEntry[];
  /** The BAT region. */
  bat: RegionEntry;
  /** The metadata region. */
  metadata: RegionEntry;
}

const STRUCTURE = 'VHDX region table';
const KNOWN = new Set([BAT_REGION_GUID, METADATA_REGION_GUID]);

/**
 * Parses and validates a 64 KiB region table: signature, CRC-32C over the 64 KiB, at most 2047
 * entries, 1 MiB aligned offsets and lengths past the header section, no duplicate GUIDs, no
 * overlap between regions, both the BAT and metadata regions present, and no unknown region marked
 * Required (an {@link UnsupportedError}).
 */
export function parseRegionTable(bytes: Uint8Array, base = 0): RegionTable {
  if (bytes.length < KiB64) {
    throw new FormatError('VHDX_TRUNCATED', 'region table needs 64 KiB', {
      structure: STRUCTURE,
      offset: base,
    });
  }
  const table = bytes.subarray(0, KiB64);
  expectSignature(table, 0, 'regi', 'VHDX_BAD_SIGNATURE', STRUCTURE, base);
  const r = new ByteReader(table, { structure: STRUCTURE, base });
  if (checksum4k(table) !== r.u32At(4)) {
    throw new ChecksumError('VHDX_REGION_TABLE_CHECKSUM', 'region table CRC-32C does not match', {
      structure: STRUCTURE,
      offset: base + 4,
    });
  }
  const count = r.u32At(8);
  if (count > MAX_TABLE_ENTRIES) {
    throw new FormatError('VHDX_REGION_COUNT', `region table claims ${count} entries (at most 2047)`, {
      structure: STRUCTURE,
      offset: base + 8,
    });
  }
  const entries: RegionEntry[] = [];
  const seen = new Set<string>();
  r.seek(16);
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const guid = guidFromBytes(r.bytesView(16));
    const fileOffset = r.u64Number('region offset');
    const length = r.u32();
    const flags = r.u32();
    const entry: RegionEntry = { guid, fileOffset, length, required: (flags & 1) !== 0 };
    if (seen.has(guid)) {
      throw new FormatError('VHDX_REGION_DUPLICATE', `region ${guid} is listed twice`, {
        structure: STRUCTURE,
        offset: base + at,
      });
    }
    seen.add(guid);
    if (fileOffset % MiB !== 0 || length % MiB !== 0 || fileOffset < HEADER_SECTION_SIZE || length === 0) {
      throw new FormatError(
        'VHDX_REGION_ALIGNMENT',
        `region ${guid} at ${fileOffset} of ${length} bytes is not 1 MiB aligned past the header section`,
        { structure: STRUCTURE, offset: base + at },
      );
    }
    if (!KNOWN.has(guid) && entry.required) {
      throw new UnsupportedError(
        'VHDX_UNKNOWN_REQUIRED_REGION',
        `unknown region ${guid} is marked required`,
        {
          structure: STRUCTURE,
          offset: base + at,
        },
      );
    }
    entries.push(entry);
  }
  const sorted = [...entries].sort((x, y) => x.fileOffset - y.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.fileOffset < prev.fileOffset + prev.length) {
      throw new FormatError('VHDX_REGION_OVERLAP', `regions ${prev.guid} and ${cur.guid} overlap`, {
        structure: STRUCTURE,
        offset: cur.fileOffset,
      });
    }
  }
  const bat = entries.find((e) => e.guid === BAT_REGION_GUID);
  const metadata = entries.find((e) => e.guid === METADATA_REGION_GUID);
  if (!bat || !metadata) {
    throw new FormatError('VHDX_REGION_MISSING', `the ${bat ? 'metadata' : 'BAT'} region is missing`, {
      structure: STRUCTURE,
      offset: base,
    });
  }
  return { entries, bat, metadata };
}

/** Serializes region entries into a canonical 64 KiB table, checksum included. */
export function serializeRegionTable(entries: readonly RegionEntry[]): Uint8Array {
  const out = new Uint8Array(KiB64);
  const v = new DataView(out.buffer);
  writeSignature(out, 0, 'regi');
  v.setUint32(8, entries.length, true);
  let at = 16;
  for (const e of entries) {
    guidToBytes(e.guid, out, at);
    v.setBigUint64(at + 16, BigInt(e.fileOffset), true);
    v.setUint32(at + 24, e.length, true);
    v.setUint32(at + 28, e.required ? 1 : 0, true);
    at += 32;
  }
  v.setUint32(4, checksum4k(out), true);
  return out;
}
