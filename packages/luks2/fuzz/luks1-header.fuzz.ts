/**
 * Fuzz target: the LUKS1 header and cryptsetup's keyslot and device-size checks; a header that
 * parses must serialise back to the same 592 bytes (apart from non-canonical active words).
 */
import { isLsvmError } from '@lsvm/core';
import { checkLuks1DeviceSize, parseLuks1Header, serializeLuks1Header } from '../src/index.js';

export function fuzz(data: Buffer): void {
  try {
    const h = parseLuks1Header(new Uint8Array(data));
    checkLuks1DeviceSize(h, data.length);
    const again = parseLuks1Header(serializeLuks1Header(h));
    if (again.uuid !== h.uuid || again.payloadOffset !== h.payloadOffset)
      throw new Error('LUKS1 round trip changed the header');
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
