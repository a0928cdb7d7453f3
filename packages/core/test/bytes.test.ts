import fc from 'fast-check';
import {
  ByteReader,
  ByteWriter,
  FormatError,
  UsageError,
  decodeUtf16le,
  encodeUtf16le,
  fromHex,
  parseSize,
  toHex,
  constantTimeEqual,
} from '../src/index.js';

describe('ByteReader / ByteWriter', () => {
  test('little- and big-endian fields', () => {
    const w = new ByteWriter(4);
    w.u8(1).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d0e0fn);
    const le = w.finish();
    expect(toHex(le)).toBe('010302070605040f0e0d0c0b0a0908');
    const r = new ByteReader(le);
    expect([r.u8(), r.u16(), r.u32(), r.u64()]).toEqual([1, 0x0203, 0x04050607, 0x08090a0b0c0d0e0fn]);
    const wb = new ByteWriter(4, { endian: 'be' });
    wb.u16(0x0102).u32(0x03040506);
    expect(toHex(wb.finish())).toBe('010203040506');
    const rb = new ByteReader(wb.finish(), { endian: 'be' });
    expect(rb.u16()).toBe(0x0102);
  });

  test('reads past the end throw FormatError TRUNCATED with structure and offset', () => {
    const r = new ByteReader(new Uint8Array(3), { structure: 'test header', base: 100 });
    r.u16();
    try {
      r.u32();
      throw new Error('unreachable');
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      expect((e as FormatError).code).toBe('TRUNCATED');
      expect((e as FormatError).structure).toBe('test header');
      expect((e as FormatError).offset).toBe(102);
    }
    expect(() => new ByteReader(new Uint8Array(4)).seek(5)).toThrow(FormatError);
    expect(() => new ByteReader(new Uint8Array(4)).bytesView(-1)).toThrow(FormatError);
  });

  test('u64Number checks the safe-integer edge once', () => {
    const w = new ByteWriter(16);
    w.u64(BigInt(Number.MAX_SAFE_INTEGER)).u64(BigInt(Number.MAX_SAFE_INTEGER) + 1n);
    const r = new ByteReader(w.finish());
    expect(r.u64Number()).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => r.u64Number()).toThrow(FormatError);
  });

  test('writer rejects out-of-range values and overflow of a fixed buffer', () => {
    expect(() => new ByteWriter().u8(256)).toThrow(UsageError);
    expect(() => new ByteWriter().u32(-1)).toThrow(UsageError);
    expect(() => new ByteWriter(new Uint8Array(2)).u32(1)).toThrow(UsageError);
  });

  test('round trip of u32/u64 sequences in both byte orders (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }))),
        fc.boolean(),
        (items, le) => {
          const endian = le ? 'le' : 'be';
          const w = new ByteWriter(8, { endian });
          for (const [a, b] of items) w.u32(a).u64(b);
          const r = new ByteReader(w.finish(), { endian });
          for (const [a, b] of items) {
            expect(r.u32()).toBe(a);
            expect(r.u64()).toBe(b);
          }
          expect(r.remaining).toBe(0);
        },
      ),
    );
  });
});

describe('strings, hex, sizes, secrets', () => {
  test('UTF-16LE with surrogate pairs, NUL-terminated decode', () => {
    const s = 'EFI system 🔒';
    const b = encodeUtf16le(s);
    expect(b.length).toBe(s.length * 2);
    const padded = new Uint8Array(72);
    padded.set(b);
    expect(decodeUtf16le(padded)).toBe(s);
    expect(() => decodeUtf16le(new Uint8Array(3))).toThrow(FormatError);
  });

  test('hex', () => {
    expect(toHex(fromHex('0xDE:ad be EF'))).toBe('deadbeef');
    expect(() => fromHex('abc')).toThrow(FormatError);
  });

  test('sizes with binary suffixes', () => {
    expect(parseSize('64M')).toBe(64 * 2 ** 20);
    expect(parseSize('2G')).toBe(2 * 2 ** 30);
    expect(parseSize('4KiB')).toBe(4096);
    expect(parseSize('1.5K')).toBe(1536);
    expect(parseSize('512')).toBe(512);
    expect(() => parseSize('12X')).toThrow(UsageError);
    expect(() => parseSize('0.3')).toThrow(UsageError);
  });

  test('constant-time equality', () => {
    expect(constantTimeEqual(fromHex('0102'), fromHex('0102'))).toBe(true);
    expect(constantTimeEqual(fromHex('0102'), fromHex('0103'))).toBe(false);
    expect(constantTimeEqual(fromHex('01'), fromHex('0102'))).toBe(false);
  });
});
