import { isLsvmError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import fc from 'fast-check';
import {
  asnTime,
  childrenOf,
  contentOctets,
  MAX_ASN1_NODES,
  decodeBer,
  derSetOf,
  octetsOf,
  oidOf,
  storedBytes,
  timeValue,
  toDer,
} from '../src/asn1.js';
import { parseSbat, serializeSbat } from '../src/sbat.js';
import { derOctetString, derOid, derSequence, derSet, derTime } from './helpers/der.js';

/**
 * The asn1js glue (src/asn1.ts) against the independent TLV codec of the tests: what one encodes,
 * the other decodes the same, and every malformed input is a typed error.
 */
describe('ASN.1 glue over asn1js', () => {
  test('OIDs encoded independently decode to the same dotted form (property)', () => {
    const oid = fc
      .tuple(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.nat(2 ** 32), { maxLength: 8 }),
      )
      .map(([a, b, rest]) => [a, b, ...rest].join('.'));
    fc.assert(
      fc.property(oid, (o) => {
        expect(oidOf(decodeBer(derOid(o)))).toBe(o);
      }),
    );
  });

  test('stored bytes and content octets are views of the input, for definite and indefinite lengths', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (parts) => {
        const seq = derSequence(...parts.map(derOctetString));
        const el = decodeBer(seq);
        expect(storedBytes(el).buffer).toBe(seq.buffer);
        expect(Buffer.from(storedBytes(el))).toEqual(Buffer.from(seq));
        expect(childrenOf(el, 'test').map((c) => Buffer.from(octetsOf(c, 'test')))).toEqual(
          parts.map((p) => Buffer.from(p)),
        );
        const body = parts.map(derOctetString).reduce((n, p) => n + p.length, 0);
        expect(contentOctets(el).length).toBe(body);
      }),
    );
    const indef = Uint8Array.of(0x30, 0x80, 0x04, 0x01, 0xaa, 0x00, 0x00);
    const el = decodeBer(indef);
    expect([...contentOctets(el)]).toEqual([0x04, 0x01, 0xaa]);
    expect(storedBytes(el).length).toBe(7);
  });

  test('SET OF is written in DER order whatever order it is given (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), (parts) => {
        const ours = toDer(derSetOf(parts.map((p) => new asn1js.OctetString({ valueHex: p }))));
        expect(Buffer.from(ours)).toEqual(Buffer.from(derSet(...parts.map(derOctetString))));
      }),
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
          expect(asnTime(decodeBer(derTime(s))).getTime()).toBe(s.getTime());
          expect(Buffer.from(toDer(timeValue(s)))).toEqual(Buffer.from(derTime(s)));
        },
      ),
    );
  });

  test('times that are not calendar times are refused, not rolled over', () => {
    const t = (tag: number, s: string) => Uint8Array.of(tag, s.length, ...new TextEncoder().encode(s));
    const refused = (b: Uint8Array) => {
      let err: unknown;
      try {
        asnTime(decodeBer(b));
      } catch (e) {
        err = e;
      }
      expect(isLsvmError(err)).toBe(true);
      expect(err).toEqual(expect.objectContaining({ code: 'DER_MALFORMED' }));
    };
    for (const bad of [
      '501301000000Z',
      '500132000000Z',
      '500230000000Z',
      '500101240000Z',
      '500101006000Z',
      '500101000060Z',
      'garbage',
    ])
      refused(t(0x17, bad));
    refused(t(0x18, '20501301000000Z'));
    refused(t(0x18, '2050123123595Z'));
    // Local times and offsets: not UTC, whatever the machine's time zone.
    refused(t(0x18, '20250101000000'));
    refused(t(0x18, '20250601120000+0900'));
    refused(t(0x17, '2501010000+0100'));
    expect(asnTime(decodeBer(t(0x17, '240229120000Z'))).toISOString()).toBe('2024-02-29T12:00:00.000Z');
    // Fractions are truncated to milliseconds: .9999 must not roll over into the next second.
    expect(asnTime(decodeBer(t(0x18, '20501231235959.9999Z'))).toISOString()).toBe(
      '2050-12-31T23:59:59.999Z',
    );
    expect(asnTime(decodeBer(t(0x18, '20500101000000.5Z'))).toISOString()).toBe('2050-01-01T00:00:00.500Z');
  });

  test('malformed lengths, odd BMPStrings, trailing bytes and deep nesting are typed errors', () => {
    for (const bad of [
      Uint8Array.of(0x30, 0x85, 1, 2, 3, 4, 5),
      Uint8Array.of(0x04, 0x80, 0x00, 0x00),
      Uint8Array.of(0x30, 0x05, 0x04),
      Uint8Array.of(0x30, 0x80, 0x04, 0x01),
      Uint8Array.of(0x1e, 0x03, 0x41, 0x42, 0x43),
      Uint8Array.of(0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00),
      Uint8Array.of(0x05, 0x00, 0x01),
      new Uint8Array(0),
    ]) {
      expect(() => decodeBer(bad)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^DER_/) }));
    }
    // Trailing zeros (WIN_CERTIFICATE padding) are fine.
    expect(storedBytes(decodeBer(Uint8Array.of(0x05, 0x00, 0x00, 0x00))).length).toBe(2);
    const deep = new Uint8Array(200 * 2);
    for (let i = 0; i < 200; i++) {
      deep[2 * i] = 0x30;
      deep[2 * i + 1] = 0x80;
    }
    expect(() => decodeBer(deep)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^DER_/) }));
  });

  test('a blob with more elements than the node limit is DER_TOO_MANY', () => {
    const n = MAX_ASN1_NODES + 1;
    const b = new Uint8Array(5 + 2 * n);
    b.set([0x30, 0x83, ((2 * n) >> 16) & 0xff, ((2 * n) >> 8) & 0xff, (2 * n) & 0xff]);
    for (let i = 0; i < n; i++) b[5 + 2 * i] = 0x05; // NULL
    expect(() => decodeBer(b)).toThrow(expect.objectContaining({ code: 'DER_TOO_MANY' }));
    // Below the limit, a thousand elements decode.
    const ok = new Uint8Array(4 + 2000);
    ok.set([0x30, 0x82, 0x07, 0xd0]);
    for (let i = 0; i < 1000; i++) ok[4 + 2 * i] = 0x05;
    expect(childrenOf(decodeBer(ok), 'test')).toHaveLength(1000);
  });

  test('any byte string decodes or fails with an LsvmError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          const el = decodeBer(b, 'fuzz', true);
          if (el.idBlock.isConstructed) childrenOf(el, 'fuzz');
        } catch (e) {
          expect(isLsvmError(e)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
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
