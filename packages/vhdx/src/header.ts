import {
  ByteReader,
  ChecksumError,
  crc32c,
  FormatError,
  guidFromBytes,
  guidToBytes,
  NIL_GUID,
  UnsupportedError,
} from '@lsvm/core';
import { HEADER_OFFSETS, HEADER_SECTION_SIZE, MiB, SECTOR4K } from './constants.js';
import { expectSignature, writeSignature } from './signature.js';

/** One of the two VHDX headers ([MS-VHDX] §2.2.2). */
export interface VhdxHeader {
  /** Higher wins between the two copies ([MS-VHDX] §2.2.2.1). */
  sequenceNumber: bigint;
  /** Changed the first time the file is opened for writing in a session. */
  fileWriteGuid: string;
  /** Changed before the first change of user-visible data; children link to it. */
  dataWriteGuid: string;
  /** Non-nil while the log may hold entries to replay ([MS-VHDX] §2.3). */
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

const STRUCTURE = 'VHDX header';

/**
 * Parses and validates a 4 KiB header: signature, CRC-32C over the whole 4 KiB with the checksum
 * field zeroed, version 1, log version 0, log placement 1 MiB aligned past the header section.
 * @param base file offset of `bytes[0]`, for error messages
 */
export function parseHeader(bytes: Uint8Array, base = 0): VhdxHeader {
  if (bytes.length < SECTOR4K) {
    throw new FormatError('VHDX_TRUNCATED', 'header needs 4096 bytes', {
      structure: STRUCTURE,
      offset: base,
    });
  }
  const sector = bytes.subarray(0, SECTOR4K);
  expectSignature(sector, 0, 'head', 'VHDX_BAD_SIGNATURE', STRUCTURE, base);
  const r = new ByteReader(sector, { structure: STRUCTURE, base });
  const stored = r.u32At(4);
  if (checksum4k(sector) !== stored) {
    throw new ChecksumError('VHDX_HEADER_CHECKSUM', 'header CRC-32C does not match', {
      structure: STRUCTURE,
      offset: base + 4,
    });
  }
  r.seek(8);
  const sequenceNumber = r.u64();
  const fileWriteGuid = guidFromBytes(r.bytesView(16));
  const dataWriteGuid = guidFromBytes(r.bytesView(16));
  const logGuid = guidFromBytes(r.bytesView(16));
  const logVersion = r.u16();
  const version = r.u16();
  const logLength = r.u32();
  const logOffset = r.u64Number('log offset');
  if (version !== 1) {
    throw new UnsupportedError('VHDX_VERSION', `header version ${version} is not 1`, {
      structure: STRUCTURE,
      offset: base + 66,
    });
  }
  if (logVersion !== 0) {
    throw new UnsupportedError('VHDX_LOG_VERSION', `log version ${logVersion} is not 0`, {
      structure: STRUCTURE,
      offset: base + 64,
    });
  }
  if (logLength % MiB !== 0 || logOffset % MiB !== 0 || (logLength > 0 && logOffset < HEADER_SECTION_SIZE)) {
    throw new FormatError(
      'VHDX_LOG_PLACEMENT',
      `log at ${logOffset} of ${logLength} bytes is not 1 MiB aligned past the header section`,
      { structure: STRUCTURE, offset: base + 68 },
    );
  }
  return { sequenceNumber, fileWriteGuid, dataWriteGuid, logGuid, logVersion, version, logLength, logOffset };
}

/** Serializes a header to its canonical 4 KiB form, checksum included. */
export function serializeHeader(h: VhdxHeader): Uint8Array {
  const out = new Uint8Array(SECTOR4K);
  const v = new DataView(out.buffer);
  writeSignature(out, 0, 'head');
  v.setBigUint64(8, h.sequenceNumber, true);
  guidToBytes(h.fileWriteGuid, out, 16);
  guidToBytes(h.dataWriteGuid, out, 32);
  guidToBytes(h.logGuid, out, 48);
  v.setUint16(64, h.logVersion, true);
  v.setUint16(66, h.version, true);
  v.setUint32(68, h.logLength, true);
  v.setBigUint64(72, BigInt(h.logOffset), true);
  v.setUint32(4, checksum4k(out), true);
  return out;
}

/** CRC-32C of a structure with its checksum field (bytes 4..8) taken as zero. */
export function checksum4k(bytes: Uint8Array): number {
  let c = crc32c(bytes.subarray(0, 4));
  c = crc32c(new Uint8Array(4), c);
  return crc32c(bytes.subarray(8), c);
}

/** Result of choosing the current header among the two copies. */
export interface CurrentHeader {
  header: VhdxHeader;
  /** Which slot (0 = 64 KiB, 1 = 128 KiB) holds it. */
  slot: 0 | 1;
  /** Per-slot parse outcome, for `check`. */
  copies: [VhdxHeader | Error, VhdxHeader | Error];
}

/**
 * Picks the current header ([MS-VHDX] §2.2.2.1): the valid copy with the greater sequence number.
 * A torn copy (bad CRC) loses whatever its sequence number says; equal numbers are tolerated and
 * the first copy is taken. Non-LsvmErrors are not caught.
 */
export function selectHeader(bytes1: Uint8Array, bytes2: Uint8Array): CurrentHeader {
  const copies: [VhdxHeader | Error, VhdxHeader | Error] = [
    tryParse(bytes1, HEADER_OFFSETS[0]),
    tryParse(bytes2, HEADER_OFFSETS[1]),
  ];
  const [a, b] = copies;
  const va = a instanceof Error ? undefined : a;
  const vb = b instanceof Error ? undefined : b;
  if (va && vb) {
    return vb.sequenceNumber > va.sequenceNumber
      ? { header: vb, slot: 1, copies }
      : { header: va, slot: 0, copies };
  }
  if (va) return { header: va, slot: 0, copies };
  if (vb) return { header: vb, slot: 1, copies };
  // Both copies are bad: report the first copy's problem (an unsupported version outranks a CRC).
  const e1 = a as Error;
  const e2 = b as Error;
  if (e2 instanceof UnsupportedError && !(e1 instanceof UnsupportedError)) throw e2;
  throw e1;
}

function tryParse(bytes: Uint8Array, base: number): VhdxHeader | Error {
  try {
    return parseHeader(bytes, base);
  } catch (e) {
    if (e instanceof FormatError || e instanceof ChecksumError || e instanceof UnsupportedError) return e;
    throw e;
  }
}

/** True when the header says the log may hold entries to replay. */
export function logInUse(h: VhdxHeader): boolean {
  return h.logGuid !== NIL_GUID;
}
