import { ChecksumError, crc32c, FormatError, guidFromBytes, guidToBytes } from '@lsvm/core';
import { SECTOR4K } from './constants.js';
import { hasSignature, writeSignature } from './signature.js';

/**
 * Log entries ([MS-VHDX] §2.3.1): a 64-byte header, 32-byte descriptors (126 in the first 4 KiB
 * sector, 128 in each following one), then one 4 KiB data sector per data descriptor. The CRC-32C
 * covers the whole entry with the checksum field zeroed.
 */

/** A data descriptor with its sector reassembled: 4096 bytes to write at `fileOffset`. */
export interface LogDataWrite {
  kind: 'data';
  fileOffset: number;
  data: Uint8Array;
}

/** A zero descriptor: `length` zero bytes at `fileOffset`. */
export interface LogZeroWrite {
  kind: 'zero';
  fileOffset: number;
  length: number;
}

export type LogWrite = LogDataWrite | LogZeroWrite;

/** A decoded, checksum-verified log entry. */
export interface LogEntry {
  /** Offset of the entry within the log. */
  offset: number;
  entryLength: number;
  tail: number;
  sequenceNumber: bigint;
  logGuid: string;
  flushedFileOffset: number;
  lastFileOffset: number;
  writes: LogWrite[];
}

const STRUCTURE = 'VHDX log entry';
export const LOG_HEADER_SIZE = 64;
export const LOG_DESCRIPTOR_SIZE = 32;

/** Number of 4 KiB sectors the header and `n` descriptors occupy. */
export function descriptorSectors(n: number): number {
  return Math.ceil((LOG_HEADER_SIZE + n * LOG_DESCRIPTOR_SIZE) / SECTOR4K);
}

/**
 * Reads `length` bytes of a circular log starting at `offset` (entries may wrap at the end).
 * Returns a view when no wrap is needed.
 */
export function readCircular(log: Uint8Array, offset: number, length: number): Uint8Array {
  if (offset + length <= log.length) return log.subarray(offset, offset + length);
  const out = new Uint8Array(length);
  const first = log.length - offset;
  out.set(log.subarray(offset), 0);
  out.set(log.subarray(0, length - first), first);
  return out;
}

/**
 * Parses the log entry starting at `offset` of `log` (the whole log region). Returns `undefined`
 * when no entry signature is there; throws a FormatError/ChecksumError for a damaged entry.
 * `logGuid` must match the header's LogGuid.
 */
export function parseLogEntry(
  log: Uint8Array,
  offset: number,
  logGuid: string,
  base = 0,
): LogEntry | undefined {
  const L = log.length;
  if (offset % SECTOR4K !== 0 || offset + LOG_HEADER_SIZE > L) return undefined;
  if (!hasSignature(log, offset, 'loge')) return undefined;
  const h = new DataView(log.buffer, log.byteOffset + offset, LOG_HEADER_SIZE);
  const where = { structure: STRUCTURE, offset: base + offset };
  const checksum = h.getUint32(4, true);
  const entryLength = h.getUint32(8, true);
  const tail = h.getUint32(12, true);
  const sequenceNumber = h.getBigUint64(16, true);
  const descriptorCount = h.getUint32(24, true);
  const guid = guidFromBytes(log, offset + 32);
  const flushed = h.getBigUint64(48, true);
  const last = h.getBigUint64(56, true);
  if (entryLength === 0 || entryLength % SECTOR4K !== 0 || entryLength > L) {
    throw new FormatError('VHDX_LOG_ENTRY_LENGTH', `log entry length ${entryLength} is invalid`, where);
  }
  if (tail % SECTOR4K !== 0 || tail >= L) {
    throw new FormatError('VHDX_LOG_TAIL', `log tail ${tail} is outside the log`, where);
  }
  if (sequenceNumber === 0n) throw new FormatError('VHDX_LOG_SEQUENCE', 'log sequence number is zero', where);
  if (guid !== logGuid) throw new FormatError('VHDX_LOG_GUID', `log entry belongs to log ${guid}`, where);
  const sectors = entryLength / SECTOR4K;
  const descSectors = descriptorSectors(descriptorCount);
  if (descriptorCount > sectors * 128 || descSectors > sectors) {
    throw new FormatError(
      'VHDX_LOG_DESCRIPTORS',
      `${descriptorCount} descriptors do not fit the entry`,
      where,
    );
  }
  if (flushed > BigInt(Number.MAX_SAFE_INTEGER) || last > BigInt(Number.MAX_SAFE_INTEGER) || last < flushed) {
    throw new FormatError('VHDX_LOG_FILE_OFFSETS', 'log entry file offsets are out of range', where);
  }
  const entry = readCircular(log, offset, entryLength);
  let c = crc32c(entry.subarray(0, 4));
  c = crc32c(new Uint8Array(4), c);
  c = crc32c(entry.subarray(8), c);
  if (c !== checksum) throw new ChecksumError('VHDX_LOG_CHECKSUM', 'log entry CRC-32C does not match', where);
  const ev = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
  const writes: LogWrite[] = [];
  let dataSector = descSectors;
  for (let i = 0; i < descriptorCount; i++) {
    const d = LOG_HEADER_SIZE + i * LOG_DESCRIPTOR_SIZE;
    const dWhere = { structure: 'VHDX log descriptor', offset: base + ((offset + d) % L) };
    const seq = ev.getBigUint64(d + 24, true);
    if (seq !== sequenceNumber) {
      throw new FormatError('VHDX_LOG_SEQUENCE', 'descriptor sequence number differs from its entry', dWhere);
    }
    const fileOffsetBig = ev.getBigUint64(d + 16, true);
    if (fileOffsetBig > BigInt(Number.MAX_SAFE_INTEGER) || fileOffsetBig % 4096n !== 0n) {
      throw new FormatError('VHDX_LOG_DESCRIPTOR', 'descriptor file offset is invalid', dWhere);
    }
    const fileOffset = Number(fileOffsetBig);
    if (hasSignature(entry, d, 'zero')) {
      const len = ev.getBigUint64(d + 8, true);
      if (len % 4096n !== 0n || len === 0n || fileOffsetBig + len > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new FormatError('VHDX_LOG_DESCRIPTOR', 'zero descriptor length is invalid', dWhere);
      }
      writes.push({ kind: 'zero', fileOffset, length: Number(len) });
    } else if (hasSignature(entry, d, 'desc')) {
      if (dataSector >= sectors) {
        throw new FormatError('VHDX_LOG_DESCRIPTORS', 'more data descriptors than data sectors', dWhere);
      }
      const s = dataSector * SECTOR4K;
      const sWhere = { structure: 'VHDX log data sector', offset: base + ((offset + s) % L) };
      if (!hasSignature(entry, s, 'data')) {
        throw new FormatError('VHDX_LOG_DATA_SECTOR', 'data sector signature not found', sWhere);
      }
      const high = ev.getUint32(s + 4, true);
      const low = ev.getUint32(s + 4092, true);
      if ((BigInt(high) << 32n) + BigInt(low) !== sequenceNumber) {
        throw new FormatError(
          'VHDX_LOG_SEQUENCE',
          'data sector sequence number differs from its entry',
          sWhere,
        );
      }
      // The sector as it belongs on disk: LeadingBytes (8), the 4084 data bytes, TrailingBytes (4).
      const data = new Uint8Array(SECTOR4K);
      data.set(entry.subarray(d + 8, d + 16), 0);
      data.set(entry.subarray(s + 8, s + 4092), 8);
      data.set(entry.subarray(d + 4, d + 8), 4092);
      writes.push({ kind: 'data', fileOffset, data });
      dataSector++;
    } else {
      throw new FormatError('VHDX_LOG_DESCRIPTOR', 'unknown descriptor signature', dWhere);
    }
  }
  return {
    offset,
    entryLength,
    tail,
    sequenceNumber,
    logGuid: guid,
    flushedFileOffset: Number(flushed),
    lastFileOffset: Number(last),
    writes,
  };
}

/** What {@link serializeLogEntry} needs. */
export interface LogEntryInput {
  tail: number;
  sequenceNumber: bigint;
  logGuid: string;
  flushedFileOffset: number;
  lastFileOffset: number;
  /** 4 KiB sector writes (4 KiB aligned) and zero ranges (4 KiB multiples). */
  writes: LogWrite[];
}

/** Serializes a log entry (the bytes to place at its offset in the log), checksum included. */
export function serializeLogEntry(e: LogEntryInput): Uint8Array {
  const data = e.writes.filter((w): w is LogDataWrite => w.kind === 'data');
  const descSectors = descriptorSectors(e.writes.length);
  const length = (descSectors + data.length) * SECTOR4K;
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  writeSignature(out, 0, 'loge');
  v.setUint32(8, length, true);
  v.setUint32(12, e.tail, true);
  v.setBigUint64(16, e.sequenceNumber, true);
  v.setUint32(24, e.writes.length, true);
  guidToBytes(e.logGuid, out, 32);
  v.setBigUint64(48, BigInt(e.flushedFileOffset), true);
  v.setBigUint64(56, BigInt(e.lastFileOffset), true);
  let sector = descSectors;
  e.writes.forEach((w, i) => {
    const d = LOG_HEADER_SIZE + i * LOG_DESCRIPTOR_SIZE;
    v.setBigUint64(d + 16, BigInt(w.fileOffset), true);
    v.setBigUint64(d + 24, e.sequenceNumber, true);
    if (w.kind === 'zero') {
      writeSignature(out, d, 'zero');
      v.setBigUint64(d + 8, BigInt(w.length), true);
      return;
    }
    writeSignature(out, d, 'desc');
    out.set(w.data.subarray(4092, 4096), d + 4);
    out.set(w.data.subarray(0, 8), d + 8);
    const s = sector * SECTOR4K;
    writeSignature(out, s, 'data');
    v.setUint32(s + 4, Number(e.sequenceNumber >> 32n), true);
    out.set(w.data.subarray(8, 4092), s + 8);
    v.setUint32(s + 4092, Number(e.sequenceNumber & 0xffffffffn), true);
    sector++;
  });
  // The checksum field is still zero here, so the CRC over the whole entry is the one to store.
  v.setUint32(4, crc32c(out), true);
  return out;
}
