import { decodeUtf16le, encodeUtf16le, FormatError } from '@lsvm/core';
import { KiB64 } from './constants.js';
import { expectSignature, writeSignature } from './signature.js';

/** The file type identifier at offset 0 ([MS-VHDX] §2.2.1). */
export interface FileIdentifier {
  /** Free-form name of the program that created the file (UTF-16LE, up to 256 characters). */
  creator: string;
}

const STRUCTURE = 'VHDX file identifier';
const CREATOR_BYTES = 512;

/** Parses the first 64 KiB (or at least 520 bytes) of a VHDX file. */
export function parseFileIdentifier(bytes: Uint8Array): FileIdentifier {
  if (bytes.length < 8 + CREATOR_BYTES) {
    throw new FormatError('VHDX_TRUNCATED', 'file is too short for a VHDX file identifier', {
      structure: STRUCTURE,
      offset: 0,
    });
  }
  expectSignature(bytes, 0, 'vhdxfile', 'VHDX_BAD_SIGNATURE', STRUCTURE);
  return { creator: decodeUtf16le(bytes.subarray(8, 8 + CREATOR_BYTES)) };
}

/** Serializes a file type identifier into a 64 KiB structure. */
export function serializeFileIdentifier(id: FileIdentifier): Uint8Array {
  const out = new Uint8Array(KiB64);
  writeSignature(out, 0, 'vhdxfile');
  // The creator field holds 256 UTF-16 code units; longer names are cut, as the field is free-form.
  const name = encodeUtf16le(id.creator.slice(0, 255));
  out.set(name, 8);
  return out;
}
