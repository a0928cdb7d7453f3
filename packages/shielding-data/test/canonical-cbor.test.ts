import { FormatError, fromHex, toHex } from '@lsvm/core';
import fc from 'fast-check';
import { type CborValue, decodeCanonical, encodeCanonical } from '../src/index.js';
import { thrown } from './helpers.js';

const value: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 }),
  ),
})).v;

describe('canonical CBOR', () => {
  test('decode(encode(x)) = x and encode is stable (property)', () => {
    fc.assert(
      fc.property(value, (v) => {
        const b = encodeCanonical(v);
        const back = decodeCanonical(b, 'test', 1 << 20);
        expect(encodeCanonical(back)).toEqual(b);
        expect(back).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  test('keys sort length-first then bytewise (RFC 8949 §4.2.1)', () => {
    expect(toHex(encodeCanonical({ bb: 1, a: 2, c: 3 }))).toBe('a3616102616303626262' + '01');
  });

  test.each([
    ['non-minimal integer', '1800'],
    ['unsorted keys', 'a2616201616102'],
    ['duplicate keys', 'a2616101616102'],
    ['indefinite array', '9f01ff'],
    ['float', 'f93c00'],
    ['negative integer', '20'],
    ['tag', 'c11a5f000000'],
    ['null', 'f6'],
    ['integer map key', 'a10101'],
    ['trailing bytes', '0101'],
    ['truncated', '62616'],
  ])('rejects %s', (_, hex) => {
    const b = hex.length % 2 === 0 ? fromHex(hex) : fromHex(`${hex}0`).subarray(0, (hex.length - 1) / 2);
    expect(thrown(() => decodeCanonical(b, 't', 100))).toBeInstanceOf(FormatError);
  });

  test('deep nesting and huge lengths are format errors, not crashes', () => {
    expect(thrown(() => decodeCanonical(new Uint8Array(100_000).fill(0x81), 't', 1 << 20))).toBeInstanceOf(
      FormatError,
    );
    expect(thrown(() => decodeCanonical(fromHex('5bffffffffffffffff'), 't', 100))).toBeInstanceOf(
      FormatError,
    );
    expect(thrown(() => decodeCanonical(new Uint8Array(101), 't', 100)).code).toBe('CBOR_TOO_LARGE');
  });

  test('a __proto__ key cannot change the prototype', () => {
    const b = encodeCanonical({ __proto__x: 1 });
    expect(decodeCanonical(b, 't', 100)).toEqual({ __proto__x: 1 });
    const evil = fromHex('a1695f5f70726f746f5f5fa161610101'.slice(0, 30));
    expect(() => decodeCanonical(evil, 't', 100)).toThrow(FormatError);
  });
});
