import fc from 'fast-check';
import { crc32, crc32Portable, crc32c } from '../src/index.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// Bit-by-bit reference, the definition the tables are derived from.
function reference(poly: number, data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC-32 (IEEE) and CRC-32C (Castagnoli)', () => {
  test('standard check values', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  test('RFC 3720 CRC-32C vectors (32 zero bytes, 32 0xFF bytes)', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
  });

  test('matches the bit-by-bit reference on random data (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
        expect(crc32(data)).toBe(reference(0xedb88320, data));
        expect(crc32Portable(data)).toBe(reference(0xedb88320, data));
        expect(crc32c(data)).toBe(reference(0x82f63b78, data));
      }),
      { numRuns: 300 },
    );
  });

  test('chunked computation equals one-shot (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(400), (data, cut) => {
        const k = Math.min(cut, data.length);
        expect(crc32(data.subarray(k), crc32(data.subarray(0, k)))).toBe(crc32(data));
        expect(crc32Portable(data.subarray(k), crc32Portable(data.subarray(0, k)))).toBe(crc32(data));
        expect(crc32c(data.subarray(k), crc32c(data.subarray(0, k)))).toBe(crc32c(data));
      }),
    );
  });
});
