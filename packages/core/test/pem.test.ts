import fc from 'fast-check';
import { FormatError, pemDecodeAll, pemEncode, scanPem } from '../src/index.js';

describe('PEM (RFC 7468)', () => {
  test('encode/decode round trip, 64-column lines (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('CERTIFICATE', 'PRIVATE KEY', 'X509 CRL'),
        (der, label) => {
          const pem = pemEncode(label, der);
          expect(pem.split('\n').every((l) => l.length <= 64 || l.startsWith('-----'))).toBe(true);
          expect(pemDecodeAll(`junk before\n${pem}junk after`)).toEqual([{ label, der }]);
        },
      ),
    );
  });

  test('blocks of several labels in order; END of another label does not close a block', () => {
    const a = pemEncode('A', Uint8Array.of(1, 2, 3));
    const b = pemEncode('B', Uint8Array.of(4));
    expect(pemDecodeAll(a + b).map((x) => x.label)).toEqual(['A', 'B']);
    expect(scanPem('-----BEGIN A-----\nAQID\n-----END B-----\n')).toEqual([]);
  });

  test('a body that is not base64 is PEM_MALFORMED, not garbage', () => {
    expect(() => pemDecodeAll('-----BEGIN A-----\nno!se\n-----END A-----\n')).toThrow(FormatError);
  });

  test('linear work on hostile input (unterminated BEGIN lines): characters scanned grow with the size', () => {
    // Count the characters String#indexOf walks over instead of timing (tests never assert durations).
    const scanned = (text: string): number => {
      const orig = String.prototype.indexOf;
      let n = 0;
      String.prototype.indexOf = function (this: string, search: string, from?: number): number {
        const r = orig.call(this, search, from);
        n += (r < 0 ? this.length : r) - (from ?? 0);
        return r;
      };
      try {
        pemDecodeAll(text);
      } finally {
        String.prototype.indexOf = orig;
      }
      return n;
    };
    const hostile = (k: number): string =>
      `${'-----BEGIN CERTIFICATE-----\n'.repeat(k)}-----END CERTIFICATE-----`;
    const small = hostile(1000);
    const large = hostile(8000);
    // Linear: 8x the input, at most ~8x the scanning (a quadratic scanner would be ~64x).
    expect(scanned(large) / scanned(small)).toBeLessThan(10);
    expect(scanned(large)).toBeLessThan(large.length * 8);
  });
});
