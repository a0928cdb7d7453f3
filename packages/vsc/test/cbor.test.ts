import { LsvmError } from '@lsvm/core';
import { decode as cborxDecode } from 'cbor-x';
import fc from 'fast-check';
import { type CborValue, decodeCanonical, encodeCanonical } from '../src/cbor.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const enc = (v: CborValue): string => Buffer.from(encodeCanonical(v)).toString('hex');

/** Arbitrary values of the catalog subset. */
const value: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.nat(),
    fc
      .bigInt({ min: 0n, max: (1n << 64n) - 1n })
      .map((b) => (b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b)),
    fc.string({ unit: 'grapheme', maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 30 }), tie('v'), { maxKeys: 5 }).map((d) => {
      const m = Object.create(null) as Record<string, CborValue>;
      for (const [k, v] of Object.entries(d)) m[k] = v;
      return m;
    }),
  ),
})).v;

/**
 * A comparable form: integers by value whatever their JS type — cbor-x returns a bigint for any
 * 8-byte head (2^32 included), where our decoder returns a number while it is safe.
 */
function normal(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return { int: v.toString() };
  if (Array.isArray(v)) return v.map(normal);
  if (v !== null && typeof v === 'object') {
    // Entries, not a fresh object: a "__proto__" key assigned into `{}` would set its prototype.
    return {
      map: Object.keys(v)
        .sort()
        .map((k) => [k, normal((v as Record<string, unknown>)[k])]),
    };
  }
  return v;
}

/** True when a map anywhere in `v` has the key "__proto__". */
function hasProtoKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasProtoKey);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false;
  return Object.keys(v).some((k) => k === '__proto__' || hasProtoKey((v as Record<string, unknown>)[k]));
}

describe('deterministic CBOR subset', () => {
  it('encodes integers in their shortest form, beyond 2^32 too', () => {
    expect(enc(0)).toBe('00');
    expect(enc(23)).toBe('17');
    expect(enc(24)).toBe('1818');
    expect(enc(255)).toBe('18ff');
    expect(enc(256)).toBe('190100');
    expect(enc(65536)).toBe('1a00010000');
    expect(enc(2 ** 32 - 1)).toBe('1affffffff');
    expect(enc(2 ** 32)).toBe('1b0000000100000000');
    expect(enc(Number.MAX_SAFE_INTEGER)).toBe('1b001fffffffffffff');
    expect(enc(5n)).toBe('05');
    expect(enc((1n << 64n) - 1n)).toBe('1bffffffffffffffff');
  });

  it('a "__proto__" key is an ordinary key: it round-trips and never touches a prototype', () => {
    const key = '__proto__';
    const m = Object.create(null) as Record<string, CborValue>;
    m[key] = 5;
    const back = decodeCanonical(encodeCanonical([m])) as Record<string, CborValue>[];
    expect(Object.keys(back[0]!)).toEqual([key]);
    expect(back[0]![key]).toBe(5);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('sorts map keys by encoded bytes: shorter first, then bytewise (RFC 8949 §4.2.1)', () => {
    expect(enc({ bb: 1, a: 2, c: 3, aa: 4 })).toBe('a4' + '616102' + '616303' + '62616104' + '62626201');
  });

  it('round-trips every value of the subset, and cbor-x reads what we write the same way', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeCanonical(v);
        expect(normal(decodeCanonical(bytes))).toEqual(normal(v));
        // A differential check: the general decoder agrees with the strict one — except on a
        // "__proto__" key, which cbor-x renames on purpose (a prototype-pollution guard).
        if (!hasProtoKey(v)) {
          const general = cborxDecode(Buffer.from(bytes));
          expect(normal(general instanceof Map ? Object.fromEntries(general) : general)).toEqual(normal(v));
        }
        // And re-encoding the decoded value gives the same bytes.
        expect(Buffer.from(encodeCanonical(decodeCanonical(bytes))).equals(bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['non-shortest 1-byte head', '1817', 'CBOR_NOT_SHORTEST'],
    ['non-shortest 2-byte head', '1900ff', 'CBOR_NOT_SHORTEST'],
    ['non-shortest 4-byte head', '1a0000ffff', 'CBOR_NOT_SHORTEST'],
    ['non-shortest 8-byte head', '1b00000000ffffffff', 'CBOR_NOT_SHORTEST'],
    ['indefinite array', '9f01ff', 'CBOR_INDEFINITE'],
    ['indefinite byte string', '5f4101ff', 'CBOR_INDEFINITE'],
    ['negative integer', '20', 'CBOR_UNSUPPORTED_TYPE'],
    ['float', 'f93c00', 'CBOR_UNSUPPORTED_TYPE'],
    ['true', 'f5', 'CBOR_UNSUPPORTED_TYPE'],
    ['a tag', 'c11a514b67b0', 'CBOR_UNSUPPORTED_TYPE'],
    ['reserved info', '1c', 'CBOR_RESERVED'],
    ['unsorted keys', 'a2616201616101', 'CBOR_KEY_ORDER'],
    ['longer key first', 'a262616101616202', 'CBOR_KEY_ORDER'],
    ['duplicate keys', 'a2616101616102', 'CBOR_DUPLICATE_KEY'],
    ['integer key', 'a10101', 'CBOR_KEY_TYPE'],
    ['invalid UTF-8', '62c328', 'CBOR_BAD_UTF8'],
    ['trailing bytes', '0000', 'CBOR_TRAILING'],
    ['truncated byte string', '4501', 'TRUNCATED'],
    ['huge declared byte string', '5bffffffffffffffff', 'TRUNCATED'],
    ['huge declared array', '9b0000000100000000', 'TRUNCATED'],
    ['huge declared map', 'ba7fffffff', 'TRUNCATED'],
    ['empty input', '', 'TRUNCATED'],
  ])('rejects %s', (_what, bytes, code) => {
    let err: unknown;
    try {
      decodeCanonical(hex(bytes));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LsvmError);
    expect((err as LsvmError).code).toBe(code);
  });

  it('bounds nesting depth', () => {
    const deep = new Uint8Array(10_000).fill(0x81);
    expect(() => decodeCanonical(deep)).toThrow(expect.objectContaining({ code: 'CBOR_TOO_DEEP' }));
  });

  it('requires the self-describe tag when asked', () => {
    expect(decodeCanonical(hex('d9d9f780'), { selfDescribe: true })).toEqual([]);
    expect(() => decodeCanonical(hex('80'), { selfDescribe: true })).toThrow(
      expect.objectContaining({ code: 'CBOR_NO_TAG' }),
    );
    expect(Buffer.from(encodeCanonical([], { selfDescribe: true })).toString('hex')).toBe('d9d9f780');
  });

  it('refuses to encode what the subset cannot hold', () => {
    expect(() => encodeCanonical(-1)).toThrow(LsvmError);
    expect(() => encodeCanonical(1.5)).toThrow(LsvmError);
    expect(() => encodeCanonical(1n << 64n)).toThrow(LsvmError);
  });
});
