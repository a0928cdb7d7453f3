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

  test('linear time on hostile input (unterminated BEGIN lines)', () => {
    const text = `${'-----BEGIN CERTIFICATE-----\n'.repeat(40_000)}-----END CERTIFICATE-----`;
    const t = Date.now();
    expect(() => pemDecodeAll(text)).not.toThrow();
    // Generous bound: the quadratic scanner this replaced took tens of seconds on this input.
    expect(Date.now() - t).toBeLessThan(5000);
  });
});
