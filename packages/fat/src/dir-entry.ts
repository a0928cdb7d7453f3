import { ByteReader } from '@lsvm/core';

/** Directory entry attribute bits (fatgen103 §6). */
export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
/** READ_ONLY | HIDDEN | SYSTEM | VOLUME_ID: marks a VFAT long-name entry. */
export const ATTR_LONG_NAME = 0x0f;

/** DIR_NTRes bit: the base name is shown in lower case (Windows NT and Linux vfat). */
export const CASE_LOWER_BASE = 0x08;
/** DIR_NTRes bit: the extension is shown in lower case. */
export const CASE_LOWER_EXT = 0x10;

/** First name byte of a deleted entry. */
export const ENTRY_DELETED = 0xe5;
/** First name byte of the end-of-directory marker. */
export const ENTRY_END = 0x00;

/** Size of every directory entry. */
export const DIR_ENTRY_SIZE = 32;

/** A 32-byte short (8.3) directory entry, fields as stored (fatgen103 §6). */
export interface DirEntry {
  /** DIR_Name: 11 bytes, 8 base + 3 extension, blank padded, OEM code page. */
  name: Uint8Array;
  attr: number;
  /** DIR_NTRes: case bits {@link CASE_LOWER_BASE} / {@link CASE_LOWER_EXT}. */
  ntRes: number;
  /** DIR_CrtTimeTenth: 0–199 hundredths of a second to add to the creation time. */
  createTenth: number;
  createTime: number;
  createDate: number;
  accessDate: number;
  /** DIR_FstClusHI << 16 | DIR_FstClusLO (the high half is 0 on FAT12/16). */
  firstCluster: number;
  writeTime: number;
  writeDate: number;
  fileSize: number;
}

/** Parses one 32-byte entry at `offset` of `bytes`. */
export function parseDirEntry(bytes: Uint8Array, offset = 0): DirEntry {
  const r = new ByteReader(bytes, { structure: 'FAT directory entry', offset });
  const name = r.bytesCopy(11);
  const attr = r.u8();
  const ntRes = r.u8();
  const createTenth = r.u8();
  const createTime = r.u16();
  const createDate = r.u16();
  const accessDate = r.u16();
  const hi = r.u16();
  const writeTime = r.u16();
  const writeDate = r.u16();
  const lo = r.u16();
  const fileSize = r.u32();
  return {
    name,
    attr,
    ntRes,
    createTenth,
    createTime,
    createDate,
    accessDate,
    firstCluster: ((hi << 16) | lo) >>> 0,
    writeTime,
    writeDate,
    fileSize,
  };
}

/** Serializes a short entry into 32 bytes (into `out` at `offset` when given). */
export function serializeDirEntry(
  e: DirEntry,
  out: Uint8Array = new Uint8Array(DIR_ENTRY_SIZE),
  offset = 0,
): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset + offset, DIR_ENTRY_SIZE);
  out.set(e.name.subarray(0, 11), offset);
  v.setUint8(11, e.attr);
  v.setUint8(12, e.ntRes);
  v.setUint8(13, e.createTenth);
  v.setUint16(14, e.createTime, true);
  v.setUint16(16, e.createDate, true);
  v.setUint16(18, e.accessDate, true);
  v.setUint16(20, (e.firstCluster >>> 16) & 0xffff, true);
  v.setUint16(22, e.writeTime, true);
  v.setUint16(24, e.writeDate, true);
  v.setUint16(26, e.firstCluster & 0xffff, true);
  v.setUint32(28, e.fileSize >>> 0, true);
  return out;
}

/** A FAT date and time pair with the creation hundredths (fatgen103 §6.1). */
export interface FatTimestamp {
  date: number;
  time: number;
  tenth: number;
}

/**
 * Encodes a JS date as FAT date/time. FAT stores local wall-clock time without a zone; we store
 * UTC, which is what firmware (UEFI has no time zone for FAT) and Linux with `tz=UTC` assume.
 * Years are clamped to 1980–2107, the range the 7-bit year field covers.
 */
export function toFatTimestamp(d: Date): FatTimestamp {
  let year = d.getUTCFullYear();
  if (Number.isNaN(year) || year < 1980) return { date: (0 << 9) | (1 << 5) | 1, time: 0, tenth: 0 };
  if (year > 2107) year = 2107;
  const date = ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  const sec = d.getUTCSeconds();
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (sec >> 1);
  const tenth = (sec & 1) * 100 + Math.floor(d.getUTCMilliseconds() / 10);
  return { date, time, tenth };
}

/** Decodes a FAT date/time (UTC, see {@link toFatTimestamp}); `undefined` for a zero or invalid date. */
export function fromFatTimestamp(date: number, time: number, tenth = 0): Date | undefined {
  if (date === 0) return undefined;
  const year = 1980 + (date >> 9);
  const month = (date >> 5) & 0xf;
  const day = date & 0x1f;
  if (month < 1 || month > 12 || day < 1) return undefined;
  const ms =
    Date.UTC(year, month - 1, day, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2) +
    Math.min(199, tenth) * 10;
  return new Date(ms);
}
