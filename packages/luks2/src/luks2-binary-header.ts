import { createHash } from 'node:crypto';
import {
  ByteReader,
  ByteWriter,
  ChecksumError,
  FormatError,
  UnsupportedError,
  constantTimeEqual,
} from '@lsvm/core';

/**
 * The LUKS2 binary header (LUKS2 On-Disk Format Specification §2.1, "struct luks2_hdr_disk"):
 * 4096 big-endian bytes at the start of each of the two metadata copies, followed by the JSON area.
 *
 * ```
 *   0  magic[6]        "LUKS\xba\xbe" (primary) or "SKUL\xba\xbe" (secondary)
 *   6  version u16     2
 *   8  hdr_size u64    binary header + JSON area, one of {@link LUKS2_HDR_SIZES}
 *  16  seqid u64       incremented on every update; the higher valid copy wins
 *  24  label[48]       NUL-terminated
 *  72  checksum_alg[32] "sha256"
 * 104  salt[64]        unique per copy
 * 168  uuid[40]        NUL-terminated
 * 208  subsystem[48]   NUL-terminated
 * 256  hdr_offset u64  offset of this copy from the device start
 * 264  padding[184]
 * 448  csum[64]        hash of the whole hdr_size bytes with this field zeroed
 * 512  padding[3584]
 * ```
 */

/** Size of the binary part of a header copy. */
export const LUKS2_BINARY_HEADER_SIZE = 4096;
/** Magic of the primary copy. */
export const LUKS2_MAGIC_PRIMARY: Uint8Array = new Uint8Array([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
/** Magic of the secondary copy. */
export const LUKS2_MAGIC_SECONDARY: Uint8Array = new Uint8Array([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]);
/**
 * The header sizes (binary + JSON) the spec allows, 16 KiB … 4 MiB; they are also the offsets at
 * which a secondary header may sit, scanned when the primary is unreadable (spec §2.2).
 */
export const LUKS2_HDR_SIZES: readonly number[] = Object.freeze([
  0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
]);

const CSUM_OFFSET = 448;
const CSUM_LENGTH = 64;

/** Hash algorithms allowed in `checksum_alg`, with their digest lengths. */
const CSUM_ALGS: Record<string, number> = { sha256: 32, sha1: 20, sha512: 64 };

/** The decoded binary header of one copy. */
export interface Luks2BinaryHeader {
  /** `primary` for the "LUKS" magic, `secondary` for "SKUL". */
  kind: 'primary' | 'secondary';
  /** Binary header + JSON area size. */
  hdrSize: number;
  seqid: bigint;
  label: string;
  checksumAlgorithm: string;
  /** 64 bytes. */
  salt: Uint8Array;
  uuid: string;
  subsystem: string;
  /** Where this copy says it lives. */
  hdrOffset: number;
  /** The stored checksum (digest-length bytes, rest of the 64-byte field must be zero). */
  checksum: Uint8Array;
}

const STRUCT = 'LUKS2 binary header';

/** True when `bytes` starts with either LUKS2 magic and version 2. */
export function looksLikeLuks2(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const m = bytes.subarray(0, 6);
  return (
    (constantTimeEqual(m, LUKS2_MAGIC_PRIMARY) || constantTimeEqual(m, LUKS2_MAGIC_SECONDARY)) &&
    bytes[6] === 0 &&
    bytes[7] === 2
  );
}

/**
 * Decodes the 4096-byte binary header (no checksum verification: see {@link verifyLuks2Checksum}).
 * @param base the device offset of `bytes[0]`, for error offsets
 */
export function parseLuks2BinaryHeader(bytes: Uint8Array, base = 0): Luks2BinaryHeader {
  const r = new ByteReader(bytes, { endian: 'be', structure: STRUCT, base });
  r.need(LUKS2_BINARY_HEADER_SIZE, 'binary header');
  const magic = r.bytesView(6);
  let kind: 'primary' | 'secondary';
  if (constantTimeEqual(magic, LUKS2_MAGIC_PRIMARY)) kind = 'primary';
  else if (constantTimeEqual(magic, LUKS2_MAGIC_SECONDARY)) kind = 'secondary';
  else throw new FormatError('LUKS_BAD_MAGIC', 'no LUKS magic', { structure: STRUCT, offset: base });
  const version = r.u16();
  if (version !== 2)
    throw new FormatError('LUKS2_BAD_VERSION', `header version ${version}, expected 2`, {
      structure: STRUCT,
      offset: base + 6,
    });
  const hdrSizeBig = r.u64();
  if (!LUKS2_HDR_SIZES.some((s) => BigInt(s) === hdrSizeBig))
    throw new FormatError('LUKS2_BAD_HDR_SIZE', `hdr_size ${hdrSizeBig} is not an allowed header size`, {
      structure: STRUCT,
      offset: base + 8,
    });
  const seqid = r.u64();
  const label = cString(r.bytesView(48), 'label', base + 24);
  const checksumAlgorithm = cString(r.bytesView(32), 'checksum_alg', base + 72);
  const salt = r.bytesCopy(64);
  const uuid = cString(r.bytesView(40), 'uuid', base + 168);
  const subsystem = cString(r.bytesView(48), 'subsystem', base + 208);
  const hdrOffsetBig = r.u64();
  if (hdrOffsetBig > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FormatError('LUKS2_BAD_HDR_OFFSET', `hdr_offset ${hdrOffsetBig} is too large`, {
      structure: STRUCT,
      offset: base + 256,
    });
  const csumLen = CSUM_ALGS[checksumAlgorithm];
  if (csumLen === undefined)
    throw new UnsupportedError(
      'LUKS2_CHECKSUM_ALG',
      `header checksum algorithm ${JSON.stringify(checksumAlgorithm)} is not supported`,
      { structure: STRUCT, offset: base + 72 },
    );
  const checksum = bytes.slice(CSUM_OFFSET, CSUM_OFFSET + csumLen);
  return {
    kind,
    hdrSize: Number(hdrSizeBig),
    seqid,
    label,
    checksumAlgorithm,
    salt,
    uuid,
    subsystem,
    hdrOffset: Number(hdrOffsetBig),
    checksum,
  };
}

function cString(field: Uint8Array, name: string, offset: number): string {
  const nul = field.indexOf(0);
  if (nul < 0)
    throw new FormatError('LUKS2_UNTERMINATED_STRING', `${name} is not NUL-terminated`, {
      structure: STRUCT,
      offset,
    });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(field.subarray(0, nul));
  } catch (e) {
    throw new FormatError('LUKS2_BAD_STRING', `${name} is not valid UTF-8`, {
      structure: STRUCT,
      offset,
      cause: e,
    });
  }
}

/** Computes the checksum of a whole header copy (`hdrSize` bytes) with the csum field zeroed. */
export function computeLuks2Checksum(copy: Uint8Array, algorithm: string): Uint8Array {
  const h = createHash(algorithm);
  h.update(copy.subarray(0, CSUM_OFFSET));
  h.update(new Uint8Array(CSUM_LENGTH));
  h.update(copy.subarray(CSUM_OFFSET + CSUM_LENGTH));
  return new Uint8Array(h.digest());
}

/**
 * Verifies the checksum of a whole header copy (binary header + JSON area).
 * @throws ChecksumError `LUKS2_HEADER_CHECKSUM`
 */
export function verifyLuks2Checksum(copy: Uint8Array, header: Luks2BinaryHeader, base = 0): void {
  const expect = computeLuks2Checksum(copy.subarray(0, header.hdrSize), header.checksumAlgorithm);
  const stored = copy.subarray(CSUM_OFFSET, CSUM_OFFSET + CSUM_LENGTH);
  const tailZero = stored.subarray(expect.length).every((b) => b === 0);
  if (!constantTimeEqual(stored.subarray(0, expect.length), expect) || !tailZero)
    throw new ChecksumError('LUKS2_HEADER_CHECKSUM', `${header.kind} header checksum mismatch`, {
      structure: STRUCT,
      offset: base + CSUM_OFFSET,
    });
}

/** Fields needed to write a binary header; the checksum is computed over the whole copy. */
export interface Luks2BinaryHeaderInit {
  kind: 'primary' | 'secondary';
  hdrSize: number;
  seqid: bigint;
  label: string;
  subsystem: string;
  uuid: string;
  salt: Uint8Array;
  hdrOffset: number;
  checksumAlgorithm?: string;
}

/**
 * Builds one complete header copy: the binary header, `jsonText` NUL-padded to the JSON area, and
 * the checksum filled in.
 * @throws FormatError `LUKS2_JSON_TOO_LARGE` when the text does not fit with a terminating NUL.
 */
export function buildLuks2HeaderCopy(init: Luks2BinaryHeaderInit, jsonText: string): Uint8Array {
  const alg = init.checksumAlgorithm ?? 'sha256';
  const json = new TextEncoder().encode(jsonText);
  if (json.length >= init.hdrSize - LUKS2_BINARY_HEADER_SIZE)
    throw new FormatError(
      'LUKS2_JSON_TOO_LARGE',
      `JSON metadata of ${json.length} bytes does not fit the ${init.hdrSize - LUKS2_BINARY_HEADER_SIZE}-byte area`,
    );
  const w = new ByteWriter(init.hdrSize, { endian: 'be' });
  w.bytes(init.kind === 'primary' ? LUKS2_MAGIC_PRIMARY : LUKS2_MAGIC_SECONDARY);
  w.u16(2);
  w.u64(BigInt(init.hdrSize));
  w.u64(init.seqid);
  w.bytes(fixedString(init.label, 48, 'label'));
  w.bytes(fixedString(alg, 32, 'checksum_alg'));
  if (init.salt.length !== 64) throw new FormatError('LUKS2_BAD_SALT', 'header salt must be 64 bytes');
  w.bytes(init.salt);
  w.bytes(fixedString(init.uuid, 40, 'uuid'));
  w.bytes(fixedString(init.subsystem, 48, 'subsystem'));
  w.u64(BigInt(init.hdrOffset));
  w.zeros(LUKS2_BINARY_HEADER_SIZE - 264);
  w.bytes(json);
  w.zeros(init.hdrSize - LUKS2_BINARY_HEADER_SIZE - json.length);
  const out = w.finish();
  out.set(computeLuks2Checksum(out, alg), CSUM_OFFSET);
  return out;
}

/** A string into a fixed NUL-terminated field. Throws when it does not fit with its NUL. */
export function fixedString(s: string, size: number, name: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length >= size || b.includes(0))
    throw new FormatError('LUKS2_STRING_TOO_LONG', `${name} must be at most ${size - 1} bytes without NUL`);
  const out = new Uint8Array(size);
  out.set(b);
  return out;
}
