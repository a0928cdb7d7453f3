/**
 * Fuzz target: SECURE_SPECIALIZATION_HEADER_V1, the decryption path (with the published vector
 * key, so corpus files get past the HMAC and mode-1 files reach the clear-data parser with
 * garbage plaintext) and SPECIALIZATION_CLEAR_DATA parsed directly from the input bytes.
 */
import { isLsvmError } from '@lsvm/core';
import {
  decodeClearData,
  encodeClearData,
  parseSpecializationHeader,
  unpackSpecialization,
} from '../src/index.js';

const KEY = new Uint8Array(32).map((_, i) => i); // test-vectors/shielding-data volume key 00..1f

export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  try {
    parseSpecializationHeader(bytes);
    unpackSpecialization(bytes, KEY);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
  try {
    const c = decodeClearData(bytes);
    // Entries we wrote ourselves re-encode to the same bytes when the input was canonical.
    const again = decodeClearData(encodeClearData(c.files));
    if (again.files.length !== c.files.length) throw new Error('clear data round trip lost files');
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
