import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lsvm/testkit';
import fc from 'fast-check';
import { parseTrustInput, pemCertificates, pemOrDer } from '../src/index.js';
import { scanPem } from '../src/pem.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const block = (label: string, der: Uint8Array): string => {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
};

describe('PEM scanning', () => {
  it('finds blocks of every label in order, with text around them', () => {
    const text = `Bag Attributes\n${block('CERTIFICATE', Uint8Array.of(1, 2))}junk\n${block('RSA PRIVATE KEY', Uint8Array.of(3))}${block('X509-CRL', Uint8Array.of(4))}${block('CERTIFICATE', Uint8Array.of(5, 6, 7))}`;
    expect(scanPem(text).map((b) => b.label)).toEqual([
      'CERTIFICATE',
      'RSA PRIVATE KEY',
      'X509-CRL',
      'CERTIFICATE',
    ]);
    expect(pemCertificates(enc(text)).map((d) => [...d])).toEqual([
      [1, 2],
      [5, 6, 7],
    ]);
  });

  it('abandons an unterminated block and keeps the complete one after it', () => {
    const text = `-----BEGIN CERTIFICATE-----\nAAAA\n${block('CERTIFICATE', Uint8Array.of(9))}`;
    expect(pemCertificates(enc(text)).map((d) => [...d])).toEqual([[9]]);
  });

  it('does not close a block with the END of another label', () => {
    const text = `-----BEGIN CERTIFICATE-----\nAQ==\n-----END PRIVATE KEY-----\n${block('CERTIFICATE', Uint8Array.of(8))}`;
    expect(pemCertificates(enc(text)).map((d) => [...d])).toEqual([[8]]);
  });

  it('pemOrDer returns DER input unchanged and the first block of PEM input', () => {
    const der = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01);
    expect(pemOrDer(der, 'CERTIFICATE')).toBe(der);
    expect([
      ...pemOrDer(enc(block('CERTIFICATE', der) + block('CERTIFICATE', Uint8Array.of(1))), 'CERTIFICATE'),
    ]).toEqual([...der]);
  });

  it('reads a real PEM certificate file the same way OpenSSL wrote it', () => {
    const pem = readFileSync(join(repoRoot, 'test-vectors', 'shielding-data', 'owner', 'signing.crt.pem'));
    const ders = pemCertificates(new Uint8Array(pem));
    expect(ders.length).toBe(1);
    expect(ders[0]![0]).toBe(0x30);
  });

  // Regression: the lazy regular expression this replaced took 40 s on 0.4 MB of BEGIN lines
  // (time quadratic in the size of a --trust file).
  it('stays linear on hostile input: 1 MiB of BEGIN lines without END', () => {
    const hostile = [
      '-----BEGIN CERTIFICATE-----'.repeat(40_000),
      `${'-----BEGIN CERTIFICATE-----\n'.repeat(40_000)}-----END CERTIFICATE-----`,
      '-----BEGIN A-----'.repeat(60_000) + '-----END B-----'.repeat(10),
      '-----BEGIN '.repeat(100_000),
    ];
    for (const text of hostile) {
      expect(() => parseTrustInput(enc(text))).toThrow();
      scanPem(text);
    }
  });

  it('agrees with a reference reading on random concatenations of blocks and noise', () => {
    const piece = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 20 }).map((d) => ({ cert: d, text: block('CERTIFICATE', d) })),
      fc
        .constantFrom(
          'noise\n',
          '-----BEGIN CERTIFICATE-----\n',
          '-----END CERTIFICATE-----\n',
          block('KEY', Uint8Array.of(1)),
        )
        .map((text) => ({ cert: undefined, text })),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        // Reference for inputs without stray markers: every complete CERTIFICATE block, in order.
        const clean = pieces.every((p) => p.cert !== undefined || !p.text.startsWith('-----'));
        const text = pieces.map((p) => p.text).join('');
        let got: number[][];
        try {
          got = pemCertificates(enc(text)).map((d) => [...d]);
        } catch (e) {
          // A stray BEGIN…END pair around noise is a block whose body is not base64: a typed
          // error, never garbage bytes (the PEM decoder in @lsvm/core is strict).
          expect(clean).toBe(false);
          expect(e).toMatchObject({ code: 'PEM_MALFORMED' });
          return;
        }
        if (clean) expect(got).toEqual(pieces.filter((p) => p.cert).map((p) => [...p.cert!]));
        // With stray markers a stray BEGIN…END pair is a block too; never more blocks than BEGINs.
        expect(got.length).toBeLessThanOrEqual(text.split('-----BEGIN ').length - 1);
      }),
      { numRuns: 300, seed: 0x9e4 },
    );
  });
});
