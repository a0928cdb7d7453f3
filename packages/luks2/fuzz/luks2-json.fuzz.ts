/**
 * Fuzz target: the strict JSON reader and the LUKS2 metadata validator on arbitrary text, plus
 * the serialiser round trip (parse → stringify → parse gives the same text).
 */
import { isLsvmError } from '@lsvm/core';
import { parseJson, stringifyJson, validateLuks2Metadata } from '../src/index.js';

export function fuzz(data: Buffer): void {
  try {
    const v = parseJson(new Uint8Array(data));
    const text = stringifyJson(v);
    if (stringifyJson(parseJson(new TextEncoder().encode(text))) !== text)
      throw new Error('JSON round trip changed the text');
    validateLuks2Metadata(v, 16384);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
