import { ByteReader, FormatError, guidFromBytes, guidToBytes, UnsupportedError } from '@lsvm/core';
import {
  FILE_PARAMETERS_GUID,
  KiB64,
  LOGICAL_SECTOR_SIZE_GUID,
  MAX_BLOCK_SIZE,
  MAX_METADATA_ITEM_LENGTH,
  MAX_TABLE_ENTRIES,
  MAX_VIRTUAL_DISK_SIZE,
  MIN_BLOCK_SIZE,
  PARENT_LOCATOR_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
} from './constants.js';
import { type ParentLocator, parseParentLocator, serializeParentLocator } from './parent-locator.js';
import { expectSignature, writeSignature } from './signature.js';

/** One entry of the metadata table ([MS-VHDX] §2.6.1.2). */
export interface MetadataEntry {
  itemId: string;
  /** Offset of the item from the start of the metadata region (≥ 64 KiB, or 0 when empty). */
  offset: number;
  length: number;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
}

/** The known system metadata items, decoded ([MS-VHDX] §2.6.2). */
export interface VhdxMetadata {
  blockSize: number;
  /** File parameters flag: blocks stay allocated (a "fixed" disk). */
  leaveBlocksAllocated: boolean;
  /** File parameters flag: this is a differencing disk. */
  hasParent: boolean;
  virtualDiskSize: number;
  /** The Page 83 / virtual disk id GUID. */
  virtualDiskId: string;
  logicalSectorSize: 512 | 4096;
  physicalSectorSize: 512 | 4096;
  parentLocator: ParentLocator | undefined;
  /** Every table entry, known or not (user items included). */
  entries: MetadataEntry[];
}

const STRUCTURE = 'VHDX metadata table';
const SYSTEM_ITEMS = new Set([
  FILE_PARAMETERS_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  PARENT_LOCATOR_GUID,
]);

/** Parses the metadata table (first 64 KiB of `region`) and its entries; no item is decoded. */
export function parseMetadataTable(region: Uint8Array, base = 0): MetadataEntry[] {
  if (region.length < KiB64) {
    throw new FormatError('VHDX_TRUNCATED', 'metadata table needs 64 KiB', {
      structure: STRUCTURE,
      offset: base,
    });
  }
  expectSignature(region, 0, 'metadata', 'VHDX_BAD_SIGNATURE', STRUCTURE, base);
  const r = new ByteReader(region, { structure: STRUCTURE, base });
  const count = r.u16At(10);
  if (count > MAX_TABLE_ENTRIES) {
    throw new FormatError('VHDX_METADATA_COUNT', `metadata table claims ${count} entries (at most 2047)`, {
      structure: STRUCTURE,
      offset: base + 10,
    });
  }
  const entries: MetadataEntry[] = [];
  const seen = new Set<string>();
  r.seek(32);
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const itemId = guidFromBytes(r.bytesView(16));
    const offset = r.u32();
    const length = r.u32();
    const flags = r.u32();
    r.skip(4);
    const e: MetadataEntry = {
      itemId,
      offset,
      length,
      isUser: (flags & 1) !== 0,
      isVirtualDisk: (flags & 2) !== 0,
      isRequired: (flags & 4) !== 0,
    };
    const key = `${e.isUser ? 'u' : 's'}${itemId}`;
    if (seen.has(key)) {
      throw new FormatError('VHDX_METADATA_DUPLICATE', `metadata item ${itemId} is listed twice`, {
        structure: STRUCTURE,
        offset: base + at,
      });
    }
    seen.add(key);
    const bad =
      length > MAX_METADATA_ITEM_LENGTH ||
      (length === 0 ? offset !== 0 : offset < KiB64 || offset + length > region.length);
    if (bad) {
      throw new FormatError(
        'VHDX_METADATA_RANGE',
        `metadata item ${itemId} at ${offset} of ${length} bytes lies outside the ${region.length}-byte region`,
        { structure: STRUCTURE, offset: base + at },
      );
    }
    // Like qemu, a required item this reader does not know — system or user — refuses the file.
    if ((e.isUser || !SYSTEM_ITEMS.has(itemId)) && e.isRequired) {
      throw new UnsupportedError(
        'VHDX_UNKNOWN_REQUIRED_METADATA',
        `unknown required metadata item ${itemId}`,
        {
          structure: STRUCTURE,
          offset: base + at,
        },
      );
    }
    entries.push(e);
  }
  const items = entries.filter((e) => e.length > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < items.length; i++) {
    const prev = items[i - 1]!;
    const cur = items[i]!;
    if (cur.offset < prev.offset + prev.length) {
      throw new FormatError(
        'VHDX_METADATA_OVERLAP',
        `metadata items ${prev.itemId} and ${cur.itemId} overlap`,
        {
          structure: STRUCTURE,
          offset: base + cur.offset,
        },
      );
    }
  }
  return entries;
}

/**
 * Parses the metadata region: the table and every known system item, checking their values
 * (block size a power of two in 1–256 MiB, sector sizes 512/4096, disk size a multiple of the
 * logical sector size and at most 64 TiB, parent locator present exactly when HasParent).
 */
export function parseMetadata(region: Uint8Array, base = 0): VhdxMetadata {
  const entries = parseMetadataTable(region, base);
  const item = (id: string, what: string, size?: number): Uint8Array => {
    const e = entries.find((x) => !x.isUser && x.itemId === id);
    if (!e) {
      throw new FormatError('VHDX_METADATA_MISSING', `required metadata item "${what}" is missing`, {
        structure: STRUCTURE,
        offset: base,
      });
    }
    if (size !== undefined && e.length < size) {
      throw new FormatError(
        'VHDX_METADATA_ITEM',
        `metadata item "${what}" is ${e.length} bytes, needs ${size}`,
        {
          structure: STRUCTURE,
          offset: base + e.offset,
        },
      );
    }
    return region.subarray(e.offset, e.offset + e.length);
  };
  const at = (id: string): number => base + (entries.find((x) => x.itemId === id)?.offset ?? 0);
  const fp = new ByteReader(item(FILE_PARAMETERS_GUID, 'file parameters', 8), {
    structure: 'VHDX file parameters',
  });
  const blockSize = fp.u32();
  const fpFlags = fp.u32();
  if (blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    throw new FormatError('VHDX_BLOCK_SIZE', `block size ${blockSize} is not a power of two in 1–256 MiB`, {
      structure: 'VHDX file parameters',
      offset: at(FILE_PARAMETERS_GUID),
    });
  }
  const virtualDiskSize = new ByteReader(item(VIRTUAL_DISK_SIZE_GUID, 'virtual disk size', 8), {
    structure: 'VHDX virtual disk size',
    base: at(VIRTUAL_DISK_SIZE_GUID),
  }).u64Number('virtual disk size');
  const virtualDiskId = guidFromBytes(item(VIRTUAL_DISK_ID_GUID, 'virtual disk id', 16));
  const logical = new ByteReader(item(LOGICAL_SECTOR_SIZE_GUID, 'logical sector size', 4)).u32();
  const physical = new ByteReader(item(PHYSICAL_SECTOR_SIZE_GUID, 'physical sector size', 4)).u32();
  for (const [v, id, what] of [
    [logical, LOGICAL_SECTOR_SIZE_GUID, 'logical'],
    [physical, PHYSICAL_SECTOR_SIZE_GUID, 'physical'],
  ] as const) {
    if (v !== 512 && v !== 4096) {
      throw new FormatError('VHDX_SECTOR_SIZE', `${what} sector size ${v} is neither 512 nor 4096`, {
        structure: STRUCTURE,
        offset: at(id),
      });
    }
  }
  if (virtualDiskSize === 0 || virtualDiskSize % logical !== 0 || virtualDiskSize > MAX_VIRTUAL_DISK_SIZE) {
    throw new FormatError(
      'VHDX_DISK_SIZE',
      `virtual disk size ${virtualDiskSize} is zero, above 64 TiB or not a multiple of the ${logical}-byte sector`,
      { structure: 'VHDX virtual disk size', offset: at(VIRTUAL_DISK_SIZE_GUID) },
    );
  }
  const hasParent = (fpFlags & 2) !== 0;
  let parentLocator: ParentLocator | undefined;
  if (hasParent) {
    parentLocator = parseParentLocator(item(PARENT_LOCATOR_GUID, 'parent locator'), at(PARENT_LOCATOR_GUID));
  }
  return {
    blockSize,
    leaveBlocksAllocated: (fpFlags & 1) !== 0,
    hasParent,
    virtualDiskSize,
    virtualDiskId,
    logicalSectorSize: logical as 512 | 4096,
    physicalSectorSize: physical as 512 | 4096,
    parentLocator,
    entries,
  };
}

/** What {@link serializeMetadata} needs. */
export type MetadataInput = Omit<VhdxMetadata, 'entries'>;

/**
 * Serializes the metadata region (table + items, `regionLength` bytes). Items follow the table at
 * 64 KiB in the order file parameters, size, id, logical, physical, parent locator; flags follow
 * [MS-VHDX] §2.6.2 (all required; the size, id and sector sizes are virtual-disk items).
 */
export function serializeMetadata(m: MetadataInput, regionLength: number): Uint8Array {
  const out = new Uint8Array(regionLength);
  const v = new DataView(out.buffer);
  writeSignature(out, 0, 'metadata');
  const items: { id: string; data: Uint8Array; vd: boolean }[] = [];
  const u32s = (...xs: number[]): Uint8Array => {
    const b = new Uint8Array(xs.length * 4);
    const dv = new DataView(b.buffer);
    xs.forEach((x, i) => {
      dv.setUint32(i * 4, x, true);
    });
    return b;
  };
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(m.virtualDiskSize), true);
  items.push({
    id: FILE_PARAMETERS_GUID,
    data: u32s(m.blockSize, (m.leaveBlocksAllocated ? 1 : 0) | (m.hasParent ? 2 : 0)),
    vd: false,
  });
  items.push({ id: VIRTUAL_DISK_SIZE_GUID, data: size, vd: true });
  items.push({ id: VIRTUAL_DISK_ID_GUID, data: guidToBytes(m.virtualDiskId), vd: true });
  items.push({ id: LOGICAL_SECTOR_SIZE_GUID, data: u32s(m.logicalSectorSize), vd: true });
  items.push({ id: PHYSICAL_SECTOR_SIZE_GUID, data: u32s(m.physicalSectorSize), vd: true });
  if (m.parentLocator)
    items.push({ id: PARENT_LOCATOR_GUID, data: serializeParentLocator(m.parentLocator), vd: false });
  v.setUint16(10, items.length, true);
  let data = KiB64;
  items.forEach((it, i) => {
    const at = 32 + i * 32;
    guidToBytes(it.id, out, at);
    v.setUint32(at + 16, data, true);
    v.setUint32(at + 20, it.data.length, true);
    v.setUint32(at + 24, (it.vd ? 2 : 0) | 4, true);
    out.set(it.data, data);
    data += it.data.length;
  });
  return out;
}
