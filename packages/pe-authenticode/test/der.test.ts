import fc from 'fast-check';
import {
  children,
  decodeOid,
  decodeTime,
  derInteger,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  integerBytes,
  parseDer,
} from '../src/der.js';
import { parseSbat, serializeSbat } from '../src/sbat.js';

describe('DER codec', () => {
  test('OID round trip (property)', () => {
    const oid = fc
      .tuple(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.nat(2 ** 32), { maxLength: 8 }),
      )
      .map(([a, b, rest]) => [a, b, ...rest].join('.'));
    fc.assert(
      fc.property(oid, (o) => {
        expect(decodeOid(parseDer(derOid(o)))).toBe(o);
      }),
    );
  });

  test('INTEGER, OCTET STRING, SEQUENCE, SET round trip (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }),
        (n, parts) => {
          const int = parseDer(derInteger(n));
          const stripped = n.subarray(
            n.findIndex((x) => x !== 0) < 0 ? n.length - 1 : n.findIndex((x) => x !== 0),
          );
          expect(Buffer.from(integerBytes(int))).toEqual(Buffer.from(stripped));
          const seq = parseDer(derSequence(...parts.map(derOctetString)));
          expect(children(seq).map((c) => Buffer.from(c.value))).toEqual(parts.map((p) => Buffer.from(p)));
          // SET OF is sorted: re-encoding the decoded members gives the same bytes.
          const set = derSet(...parts.map(derOctetString));
          expect(Buffer.from(derSet(...children(parseDer(set)).map((c) => c.raw)))).toEqual(Buffer.from(set));
        },
      ),
    );
  });

  test('times round trip through UTCTime and GeneralizedTime', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1951-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (d) => {
          const s = new Date(Math.floor(d.getTime() / 1000) * 1000);
          expect(decodeTime(parseDer(derTime(s))).getTime()).toBe(s.getTime());
        },
      ),
    );
  });

  test('times that are not calendar times are refused, not rolled over', () => {
    const t = (tag: number, s: string) =>
      parseDer(Uint8Array.of(tag, s.length, ...new TextEncoder().encode(s)));
    for (const bad of [
      '501301000000Z',
      '500132000000Z',
      '500230000000Z',
      '500101240000Z',
      '500101006000Z',
      '500101000060Z',
    ])
      expect(() => decodeTime(t(0x17, bad))).toThrow(expect.objectContaining({ code: 'DER_MALFORMED' }));
    expect(() => decodeTime(t(0x18, '20501301000000Z'))).toThrow(
      expect.objectContaining({ code: 'DER_MALFORMED' }),
    );
    expect(decodeTime(t(0x17, '240229120000Z')).toISOString()).toBe('2024-02-29T12:00:00.000Z');
    // Fractions are truncated to milliseconds: .9999 must not roll over into the next second.
    expect(decodeTime(t(0x18, '20501231235959.9999Z')).toISOString()).toBe('2050-12-31T23:59:59.999Z');
    expect(decodeTime(t(0x18, '20500101000000.5Z')).toISOString()).toBe('2050-01-01T00:00:00.500Z');
  });

  test('BER indefinite lengths are read; malformed lengths are typed errors', () => {
    const indef = Uint8Array.of(0x30, 0x80, 0x04, 0x01, 0xaa, 0x00, 0x00);
    const el = parseDer(indef);
    expect(children(el).map((c) => c.value[0])).toEqual([0xaa]);
    for (const bad of [
      Uint8Array.of(0x30, 0x85, 1, 2, 3, 4, 5),
      Uint8Array.of(0x04, 0x80, 0x00, 0x00),
      Uint8Array.of(0x30, 0x05, 0x04),
      Uint8Array.of(0x30, 0x80, 0x04, 0x01),
      Uint8Array.of(0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00),
    ]) {
      expect(() => parseDer(bad)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^DER_/) }));
    }
    // Deep nesting is bounded.
    const deep = new Uint8Array(200 * 2);
    for (let i = 0; i < 200; i++) {
      deep[2 * i] = 0x30;
      deep[2 * i + 1] = 0x80;
    }
    expect(() => parseDer(deep)).toThrow(expect.objectContaining({ code: 'DER_MALFORMED' }));
  });
});

test('SBAT CSV round trip (property)', () => {
  const field = fc.string({
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.-_:/ '.split('')),
    minLength: 1,
    maxLength: 20,
  });
  fc.assert(
    fc.property(
      fc.array(fc.array(field, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 10 }),
      (rows) => {
        const entries = parseSbat(
          new TextEncoder().encode(`${rows.map((r) => r.join(',')).join('\n')}\n\0\0\0`),
        );
        const nonBlank = rows.filter((r) => r.join(',').trim() !== '');
        expect(entries.map((e) => e.fields)).toEqual(nonBlank);
        expect(parseSbat(serializeSbat(entries))).toEqual(entries);
      },
    ),
  );
});
