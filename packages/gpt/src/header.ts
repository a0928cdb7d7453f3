import {
  ByteReader,
  ByteWriter,
  ChecksumError,
  FormatError,
  UsageError,
  crc32,
  guidFromBytes,
  guidToBytes,
} from '@lsvm/core';

/**
 * The GPT header (UEFI spec §5.3.2, table 5-5). Two copies exist: the primary at LBA 1 and the
 * backup, normally in the last LBA. Each names itself (MyLBA), the other copy (AlternateLBA), the
 * usable range and its own partition entry array.
 */

/** "EFI PART" as it appears on disk. */
export const GPT_SIGNATURE = 'EFI PART';
const SIGNATURE_BYTES = new TextEncoder().encode(GPT_SIGNATURE);
/** Revision 1.0 — the only one UEFI has defined (§5.3.2). */
export const GPT_REVISION_1_0 = 0x00010000;
/** Size of the fields UEFI defines; HeaderSize may be larger (the rest is kept and CRC'd). */
export const GPT_HEADER_MIN_SIZE = 92;

/** A decoded GPT header. LBAs are numbers (range-checked once when decoded). */
export interface GptHeader {
  /** The 8 signature bytes as Latin-1 text; `EFI PART` when valid. */
  readonly signature: string;
  readonly revision: number;
  /** Bytes covered by HeaderCRC32; at least 92. */
  readonly headerSize: number;
  /** The CRC stored in the header. */
  readonly headerCrc32: number;
  /** Bytes 20..23, must be zero. */
  readonly reserved: number;
  readonly myLba: number;
  readonly alternateLba: number;
  readonly firstUsableLba: number;
  /** Inclusive. */
  readonly lastUsableLba: number;
  /** Lower-case canonical GUID. */
  readonly diskGuid: string;
  readonly partitionEntryLba: number;
  readonly numberOfPartitionEntries: number;
  readonly sizeOfPartitionEntry: number;
  readonly partitionEntryArrayCrc32: number;
  /** Bytes 92..HeaderSize (empty for the usual 92-byte header), preserved on rewrite. */
  readonly extra: Uint8Array;
}

/**
 * Decodes header fields without judging them (validation does that, see validate.ts), so that a
 * damaged header can still be described. Needs at least 92 bytes.
 * @throws FormatError `TRUNCATED` (short input) or `GPT_HEADER_LBA_RANGE` (an LBA above 2^53 − 1).
 */
export function decodeGptHeader(bytes: Uint8Array): GptHeader {
  const r = new ByteReader(bytes, { structure: 'GPT header' });
  r.need(GPT_HEADER_MIN_SIZE, 'GPT header');
  const signature = String.fromCharCode(...r.bytesView(8));
  const revision = r.u32();
  const headerSize = r.u32();
  const headerCrc32 = r.u32();
  const reserved = r.u32();
  const lba = (what: string): number => {
    const at = r.pos;
    const v = r.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError('GPT_HEADER_LBA_RANGE', `${what} ${v} is beyond any disk`, {
        structure: 'GPT header',
        offset: at,
      });
    }
    return Number(v);
  };
  const myLba = lba('MyLBA');
  const alternateLba = lba('AlternateLBA');
  const firstUsableLba = lba('FirstUsableLBA');
  const lastUsableLba = lba('LastUsableLBA');
  const diskGuid = guidFromBytes(r.bytesView(16));
  const partitionEntryLba = lba('PartitionEntryLBA');
  const numberOfPartitionEntries = r.u32();
  const sizeOfPartitionEntry = r.u32();
  const partitionEntryArrayCrc32 = r.u32();
  const extra =
    headerSize > GPT_HEADER_MIN_SIZE && headerSize <= bytes.length
      ? bytes.slice(GPT_HEADER_MIN_SIZE, headerSize)
      : new Uint8Array(0);
  return {
    signature,
    revision,
    headerSize,
    headerCrc32,
    reserved,
    myLba,
    alternateLba,
    firstUsableLba,
    lastUsableLba,
    diskGuid,
    partitionEntryLba,
    numberOfPartitionEntries,
    sizeOfPartitionEntry,
    partitionEntryArrayCrc32,
    extra,
  };
}

/** True when the first 8 bytes are `EFI PART`. */
export function hasGptSignature(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE_BYTES[i]) return false;
  return true;
}

/**
 * HeaderCRC32 as §5.3.2 defines it: CRC-32 over HeaderSize bytes with the CRC field zeroed.
 * `undefined` when HeaderSize is not in [92, bytes.length] (the CRC cannot be computed).
 */
export function computeHeaderCrc(bytes: Uint8Array, headerSize: number): number | undefined {
  if (headerSize < GPT_HEADER_MIN_SIZE || headerSize > bytes.length) return undefined;
  const copy = bytes.slice(0, headerSize);
  copy.fill(0, 16, 20);
  return crc32(copy);
}

/**
 * Strict parse of one header sector: signature, HeaderSize within the sector, HeaderCRC32 and
 * entry size must all hold. For reports that list every problem use {@link decodeGptHeader} and
 * `validateGpt`.
 * @param bytes the whole logical sector holding the header (HeaderSize may not exceed it)
 */
export function parseGptHeader(bytes: Uint8Array): GptHeader {
  const h = decodeGptHeader(bytes);
  const s = { structure: 'GPT header' };
  if (!hasGptSignature(bytes))
    throw new FormatError('GPT_HEADER_SIGNATURE', 'not a GPT header: no "EFI PART"', s);
  if (h.headerSize < GPT_HEADER_MIN_SIZE || h.headerSize > bytes.length) {
    throw new FormatError('GPT_HEADER_SIZE', `HeaderSize ${h.headerSize} is outside [92, ${bytes.length}]`, {
      ...s,
      offset: 12,
    });
  }
  const crc = computeHeaderCrc(bytes, h.headerSize);
  if (crc !== h.headerCrc32) {
    throw new ChecksumError(
      'GPT_HEADER_CRC',
      `HeaderCRC32 is 0x${hex32(h.headerCrc32)} but the header hashes to 0x${hex32(crc ?? 0)}`,
      { ...s, offset: 16 },
    );
  }
  if (h.sizeOfPartitionEntry < 128 || h.sizeOfPartitionEntry % 128 !== 0) {
    throw new FormatError(
      'GPT_HEADER_ENTRY_SIZE',
      `SizeOfPartitionEntry ${h.sizeOfPartitionEntry} is not a non-zero multiple of 128`,
      { ...s, offset: 84 },
    );
  }
  return h;
}

/** Fields a caller provides to {@link serializeGptHeader}; the CRC is always recomputed. */
export type GptHeaderInit = Omit<GptHeader, 'signature' | 'headerCrc32' | 'headerSize' | 'reserved'> & {
  /** Defaults to 92 + extra.length. */
  headerSize?: number;
};

/**
 * Encodes a header into a zero-filled buffer of `sectorSize` bytes (the bytes after HeaderSize
 * are reserved and zero, §5.3.2), computing HeaderCRC32.
 */
export function serializeGptHeader(h: GptHeaderInit, sectorSize = 512): Uint8Array {
  const headerSize = h.headerSize ?? GPT_HEADER_MIN_SIZE + h.extra.length;
  if (headerSize !== GPT_HEADER_MIN_SIZE + h.extra.length || headerSize > sectorSize) {
    throw new UsageError(
      'GPT_HEADER_SIZE',
      `HeaderSize ${headerSize} must be 92 + extra bytes and fit a ${sectorSize}-byte sector`,
    );
  }
  const out = new Uint8Array(sectorSize);
  const w = new ByteWriter(out);
  w.bytes(SIGNATURE_BYTES)
    .u32(h.revision)
    .u32(headerSize)
    .u32(0) // CRC, filled below
    .u32(0)
    .u64(h.myLba)
    .u64(h.alternateLba)
    .u64(h.firstUsableLba)
    .u64(h.lastUsableLba)
    .bytes(guidToBytes(h.diskGuid))
    .u64(h.partitionEntryLba)
    .u32(h.numberOfPartitionEntries)
    .u32(h.sizeOfPartitionEntry)
    .u32(h.partitionEntryArrayCrc32)
    .bytes(h.extra);
  new DataView(out.buffer, out.byteOffset).setUint32(16, computeHeaderCrc(out, headerSize)!, true);
  return out;
}

/** Eight upper-case hex digits. */
export function hex32(v: number): string {
  return (v >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
