import { type BlockDevice, FormatError, type LsvmError, isLsvmError } from '@lsvm/core';
import {
  LUKS2_BINARY_HEADER_SIZE,
  LUKS2_HDR_SIZES,
  type Luks2BinaryHeader,
  parseLuks2BinaryHeader,
  verifyLuks2Checksum,
} from './luks2-binary-header.js';
import { type JsonObject, isJsonObject, parseJson } from './luks2-json.js';
import type { Luks2Metadata } from './luks2-metadata.js';
import { validateLuks2Metadata } from './metadata-validate.js';

/**
 * One complete LUKS2 header copy (binary header + JSON area), checked and validated
 * (spec §2: "both copies … the one with the higher seqid is used").
 */
export interface Luks2HeaderCopy {
  binary: Luks2BinaryHeader;
  /** The JSON metadata tree, the source of truth for rewriting. */
  json: JsonObject;
  metadata: Luks2Metadata;
}

/** How one of the two copies looked when read. */
export interface Luks2CopyStatus {
  /** Device offset where the copy was read (or looked for). */
  offset: number;
  valid: boolean;
  seqid?: bigint;
  /** Why the copy is unusable, or `stale` when valid but older than the other. */
  problem?: { code: string; message: string };
}

/**
 * Parses and validates one header copy from `bytes` (at least its `hdr_size` bytes).
 * @param offset device offset of `bytes[0]`; the copy's hdr_offset must match it.
 * @throws FormatError, ChecksumError, LimitError, UnsupportedError
 */
export function parseLuks2HeaderCopy(bytes: Uint8Array, offset = 0): Luks2HeaderCopy {
  const binary = parseLuks2BinaryHeader(bytes, offset);
  if (binary.hdrOffset !== offset)
    throw new FormatError(
      'LUKS2_BAD_HDR_OFFSET',
      `${binary.kind} header says it lives at ${binary.hdrOffset}, found at ${offset}`,
      { structure: 'LUKS2 binary header', offset: offset + 256 },
    );
  if (bytes.length < binary.hdrSize)
    throw new FormatError('TRUNCATED', `header copy needs ${binary.hdrSize} bytes, have ${bytes.length}`, {
      structure: 'LUKS2 header',
      offset,
    });
  verifyLuks2Checksum(bytes, binary, offset);
  const area = bytes.subarray(LUKS2_BINARY_HEADER_SIZE, binary.hdrSize);
  const end = area.indexOf(0);
  if (end < 0)
    throw new FormatError('LUKS2_JSON_UNTERMINATED', 'JSON area has no terminating NUL', {
      structure: 'LUKS2 JSON area',
      offset: offset + LUKS2_BINARY_HEADER_SIZE,
    });
  for (let i = end; i < area.length; i++)
    if (area[i] !== 0)
      throw new FormatError('LUKS2_JSON_PADDING', 'bytes after the JSON text are not all zero', {
        structure: 'LUKS2 JSON area',
        offset: offset + LUKS2_BINARY_HEADER_SIZE + i,
      });
  const json = parseJson(area.subarray(0, end));
  if (!isJsonObject(json))
    throw new FormatError('LUKS2_METADATA', 'JSON metadata is not an object', {
      structure: 'LUKS2 JSON area',
    });
  return { binary, json, metadata: validateLuks2Metadata(json, binary.hdrSize) };
}

/** Result of reading both LUKS2 copies from a device. */
export interface Luks2Headers {
  /** The copy in force: the valid one with the higher seqid. */
  active: Luks2HeaderCopy;
  primary: Luks2CopyStatus;
  secondary: Luks2CopyStatus;
}

function problemOf(e: unknown): { code: string; message: string } {
  if (isLsvmError(e)) return { code: (e as LsvmError).code, message: (e as LsvmError).message };
  throw e;
}

async function readCopy(device: BlockDevice, offset: number): Promise<Luks2HeaderCopy> {
  if (offset + LUKS2_BINARY_HEADER_SIZE > device.size)
    throw new FormatError('TRUNCATED', 'device too small for a header copy', { offset });
  const head = await device.read(offset, LUKS2_BINARY_HEADER_SIZE);
  const bin = parseLuks2BinaryHeader(head, offset);
  if (offset + bin.hdrSize > device.size)
    throw new FormatError('TRUNCATED', `header copy of ${bin.hdrSize} bytes runs past the device end`, {
      offset,
    });
  return parseLuks2HeaderCopy(await device.read(offset, bin.hdrSize), offset);
}

/**
 * Reads both LUKS2 header copies: the primary at 0, the secondary at the primary's hdr_size — or,
 * when the primary is unreadable, at the first of the nine allowed offsets holding a valid
 * secondary (spec §2.2). The valid copy with the higher seqid wins; a damaged or stale copy is
 * reported in `primary`/`secondary` and left alone (it is rewritten by the next explicit update).
 * @throws the primary's error when no copy is valid.
 */
export async function readLuks2Headers(device: BlockDevice): Promise<Luks2Headers> {
  let primary: Luks2HeaderCopy | undefined;
  let primaryErr: unknown;
  try {
    primary = await readCopy(device, 0);
    if (primary.binary.kind !== 'primary')
      throw new FormatError('LUKS2_WRONG_MAGIC', 'secondary magic at offset 0', { offset: 0 });
  } catch (e) {
    problemOf(e);
    primary = undefined;
    primaryErr = e;
  }
  const candidates = primary ? [primary.binary.hdrSize] : [...LUKS2_HDR_SIZES];
  let secondary: Luks2HeaderCopy | undefined;
  let secondaryErr: unknown;
  let secondaryOffset = candidates[0]!;
  for (const off of candidates) {
    try {
      const c = await readCopy(device, off);
      if (c.binary.kind !== 'secondary')
        throw new FormatError('LUKS2_WRONG_MAGIC', `primary magic at secondary offset ${off}`, {
          offset: off,
        });
      secondary = c;
      secondaryOffset = off;
      break;
    } catch (e) {
      problemOf(e);
      if (secondaryErr === undefined) secondaryErr = e;
    }
  }
  if (!primary && !secondary) throw primaryErr;
  let active = (primary ?? secondary)!;
  const pStatus: Luks2CopyStatus = primary
    ? { offset: 0, valid: true, seqid: primary.binary.seqid }
    : { offset: 0, valid: false, problem: problemOf(primaryErr) };
  const sStatus: Luks2CopyStatus = secondary
    ? { offset: secondaryOffset, valid: true, seqid: secondary.binary.seqid }
    : { offset: secondaryOffset, valid: false, problem: problemOf(secondaryErr) };
  if (primary && secondary) {
    if (primary.binary.uuid !== secondary.binary.uuid) {
      sStatus.valid = false;
      sStatus.problem = {
        code: 'LUKS2_UUID_MISMATCH',
        message: 'secondary header belongs to another volume',
      };
    } else if (secondary.binary.seqid > primary.binary.seqid) {
      active = secondary;
      pStatus.problem = { code: 'LUKS2_STALE_COPY', message: 'primary header is older than the secondary' };
    } else if (secondary.binary.seqid < primary.binary.seqid) {
      sStatus.problem = { code: 'LUKS2_STALE_COPY', message: 'secondary header is older than the primary' };
    }
  }
  return { active, primary: pStatus, secondary: sStatus };
}
