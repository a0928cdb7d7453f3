import { readFileSync } from 'node:fs';
import { describeWithPeers } from '@lsvm/testkit';
import fc from 'fast-check';
import {
  align8,
  authenticodeDigest,
  extractSignature,
  parseAuthenticodeSignature,
  parseCertificatePemOrDer,
  parsePe,
  removeSignature,
  signImage,
  verifyImage,
} from '../src/index.js';
import { type TestPki, makePki } from './helpers/fixtures.js';
import { makePe, pattern } from './helpers/make-pe.js';

describeWithPeers(['openssl'], 'sign / parse / remove round trip', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki?.cleanup());

  test('signing any image, then removing the signature, gives the image back (property)', () => {
    const rsa = {
      certificate: parseCertificatePemOrDer(readFileSync(pki.rsaCert)),
      key: readFileSync(pki.rsaKey, 'utf8'),
    };
    const ec = {
      certificate: parseCertificatePemOrDer(readFileSync(pki.ecCert)),
      key: readFileSync(pki.ecKey),
    };
    const ca = parseCertificatePemOrDer(readFileSync(pki.caPem));
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2500 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 300 }),
        fc.boolean(),
        fc.constantFrom('sha256', 'sha384', 'sha512', 'sha1') as fc.Arbitrary<
          'sha256' | 'sha384' | 'sha512' | 'sha1'
        >,
        (sizes, overlay, pe32, algorithm) => {
          const img = makePe({
            pe32,
            sections: sizes.map((n, i) => ({ name: `.s${i}`, data: pattern(n, i + 3) })),
            overlay: pattern(overlay, 7),
          });
          const one = signImage(img, { ...rsa, algorithm });
          const two = signImage(one, ec);
          const pe = parsePe(two);
          expect(pe.findings.filter((f) => f.severity === 'error')).toEqual([]);
          expect(pe.checksum.matches).toBe(true);
          expect(pe.certificateTable!.entries).toHaveLength(2);
          const v = verifyImage(two, { trust: [ca] });
          expect(v.signatures.map((s) => s.trusted)).toEqual([true, true]);
          // The signature carries the padded digest of the original image.
          const sig = parseAuthenticodeSignature(extractSignature(two, 0));
          expect(sig.spc.digest).toEqual(authenticodeDigest(img, { algorithm }));
          // Removing both restores the original bytes (padded to 8), checksum aside.
          const back = removeSignature(removeSignature(two, 1), 0);
          expect(back.length).toBe(align8(img.length));
          const ck = pe.optional.checksumOffset;
          const a = back.slice();
          const b = new Uint8Array(back.length);
          b.set(img);
          a.fill(0, ck, ck + 4);
          b.fill(0, ck, ck + 4);
          expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });
});
