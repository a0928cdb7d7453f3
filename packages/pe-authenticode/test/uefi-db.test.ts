import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describeWithPeers, runOk, sharedVectors } from '@lsvm/testkit';
import { pemOrDer } from '../src/x509.js';
import {
  EFI_GLOBAL_VARIABLE_GUID,
  EFI_IMAGE_SECURITY_DATABASE_GUID,
  EFI_CERT_TYPES,
  authenticodeDigest,
  buildAuthVariable,
  buildSignatureList,
  buildSignatureLists,
  parseAuthVariable,
  parseCertificatePemOrDer,
  parseSignatureLists,
  signImage,
  signatureDatabase,
  verifyAuthVariable,
  verifyImage,
} from '../src/index.js';
import { type TestPki, makePki } from './helpers/fixtures.js';
import { makePe, pattern } from './helpers/make-pe.js';
import { createHash } from 'node:crypto';

const OWNER = '77fa9abd-0359-4d32-bd60-28f4e78f784b';

test('dbxupdate.bin (a real authenticated dbx update) parses completely and verifies with its KEK as an append', () => {
  const b = new Uint8Array(readFileSync(join(sharedVectors, 'lsvmtools/dbxupdate.bin')));
  const v = parseAuthVariable(b);
  expect(v.timestamp).toMatchObject({ year: 2010, month: 3, day: 6, hour: 19, minute: 17, second: 21 });
  expect(v.certType).toBe('4aafd29d-68df-49ee-8aa9-347d375665a7');
  expect(v.lists).toHaveLength(1);
  expect(v.lists![0]!.typeName).toBe('sha256');
  expect(v.lists![0]!.signatures).toHaveLength(77);
  expect(new Set(v.lists![0]!.signatures.map((s) => s.owner))).toEqual(new Set([OWNER]));
  const kek = v.signedData.certificates.filter((c) => c.subject.includes('Key Exchange Key'));
  // dbx updates are applied with APPEND_WRITE: attributes 0x67.
  const ok = verifyAuthVariable(
    v,
    { name: 'dbx', vendorGuid: EFI_IMAGE_SECURITY_DATABASE_GUID, attributes: 0x67 },
    kek,
  );
  expect(ok.trusted).toBe(true);
  const wrong = verifyAuthVariable(
    v,
    { name: 'db', vendorGuid: EFI_IMAGE_SECURITY_DATABASE_GUID, attributes: 0x67 },
    kek,
  );
  expect(wrong.failures.map((f) => f.code)).toEqual(['BAD_SIGNATURE']);
  // Rebuilding the list byte for byte.
  const rebuilt = buildSignatureList({ type: 'sha256', signatures: v.lists![0]!.signatures });
  expect(Buffer.from(rebuilt).equals(Buffer.from(v.data))).toBe(true);
});

test('ESL round trip (property)', () => {
  const types = ['sha256', 'sha1', 'sha384', 'sha512', 'x509Sha256', 'rsa2048'] as const;
  const guid = fc.uuid({ version: 4 });
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          type: fc.constantFrom(...types),
          n: fc.integer({ min: 1, max: 4 }),
          owner: guid,
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      (specs) => {
        const inputs = specs.map((s) => ({
          type: s.type,
          signatures: Array.from({ length: s.n }, (_, i) => ({
            owner: s.owner,
            data: pattern(EFI_CERT_TYPES[s.type].dataSize, s.seed + i),
          })),
        }));
        const bytes = buildSignatureLists(inputs);
        const parsed = parseSignatureLists(bytes);
        expect(parsed.map((l) => [l.typeName, l.signatures.length])).toEqual(
          inputs.map((i) => [i.type, i.signatures.length]),
        );
        const again = buildSignatureLists(parsed.map((l) => ({ type: l.type, signatures: l.signatures })));
        expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      },
    ),
    { numRuns: 100 },
  );
});

test('hostile ESLs give typed errors', () => {
  const good = buildSignatureList({ type: 'sha256', signatures: [{ owner: OWNER, data: pattern(32) }] });
  const cases: [string, (b: Uint8Array) => void][] = [
    ['ESL_BAD_SIZE', (b) => new DataView(b.buffer).setUint32(16, 0xffffff, true)],
    ['ESL_BAD_SIGNATURE_SIZE', (b) => new DataView(b.buffer).setUint32(24, 47, true)],
    ['ESL_BAD_HEADER_SIZE', (b) => new DataView(b.buffer).setUint32(20, 1000, true)],
  ];
  for (const [code, mutate] of cases) {
    const b = good.slice();
    mutate(b);
    expect(() => parseSignatureLists(b)).toThrow(expect.objectContaining({ code }));
  }
  expect(() => parseSignatureLists(good.subarray(0, 20))).toThrow(
    expect.objectContaining({ code: 'ESL_TRUNCATED' }),
  );
});

describeWithPeers(
  ['openssl', 'cert-to-efi-sig-list', 'hash-to-efi-sig-list', 'sign-efi-sig-list'],
  'efitools interop',
  () => {
    let pki: TestPki;
    let image: Uint8Array;
    beforeAll(() => {
      pki = makePki();
      image = makePe({
        sections: [
          { name: '.text', data: pattern(3000) },
          { name: '.data', data: pattern(700, 9) },
        ],
      });
      writeFileSync(join(pki.dir, 'image.efi'), image);
    });
    afterAll(() => pki?.cleanup());
    const f = (n: string): string => join(pki.dir, n);

    test('cert-to-efi-sig-list and hash-to-efi-sig-list output parses and equals what we build', () => {
      runOk('cert-to-efi-sig-list', ['-g', OWNER, pki.caPem, f('ca.esl')]);
      const esl = new Uint8Array(readFileSync(f('ca.esl')));
      const lists = parseSignatureLists(esl);
      expect(lists).toHaveLength(1);
      expect(lists[0]!.typeName).toBe('x509');
      expect(lists[0]!.signatures[0]!.owner).toBe(OWNER);
      const der = pemOrDer(new Uint8Array(readFileSync(pki.caPem)), 'CERTIFICATE');
      expect(Buffer.from(lists[0]!.signatures[0]!.data).equals(Buffer.from(der))).toBe(true);
      expect(
        Buffer.from(buildSignatureList({ type: 'x509', signatures: [{ owner: OWNER, data: der }] })).equals(
          Buffer.from(esl),
        ),
      ).toBe(true);

      runOk('hash-to-efi-sig-list', [f('image.efi'), f('hash.esl')]);
      const h = parseSignatureLists(new Uint8Array(readFileSync(f('hash.esl'))));
      expect(h[0]!.typeName).toBe('sha256');
      expect(Buffer.from(h[0]!.signatures[0]!.data).equals(Buffer.from(authenticodeDigest(image)))).toBe(
        true,
      );
    });

    test('sign-efi-sig-list output verifies with us, and ours has the same shape', () => {
      runOk('cert-to-efi-sig-list', ['-g', OWNER, pki.caPem, f('ca2.esl')]);
      for (const [name, guid] of [
        ['db', EFI_IMAGE_SECURITY_DATABASE_GUID],
        ['KEK', EFI_GLOBAL_VARIABLE_GUID],
      ] as const) {
        runOk('sign-efi-sig-list', [
          '-k',
          pki.rsaKey,
          '-c',
          pki.rsaCert,
          name,
          f('ca2.esl'),
          f(`${name}.auth`),
        ]);
        const v = parseAuthVariable(new Uint8Array(readFileSync(f(`${name}.auth`))));
        const trust = [parseCertificatePemOrDer(readFileSync(pki.caPem))];
        expect(verifyAuthVariable(v, { name, vendorGuid: guid }, trust).trusted).toBe(true);
        expect(verifyAuthVariable(v, { name: 'dbx', vendorGuid: guid }, trust).trusted).toBe(false);
        expect(
          verifyAuthVariable(v, { name, vendorGuid: guid }, [
            parseCertificatePemOrDer(readFileSync(pki.otherCaPem)),
          ]).failures.map((x) => x.code),
        ).toEqual(['UNTRUSTED_CHAIN']);
      }
      const data = new Uint8Array(readFileSync(f('ca2.esl')));
      const ours = buildAuthVariable({
        name: 'db',
        vendorGuid: EFI_IMAGE_SECURITY_DATABASE_GUID,
        data,
        signer: {
          certificate: parseCertificatePemOrDer(readFileSync(pki.ecCert)),
          key: readFileSync(pki.ecKey),
        },
      });
      const pv = parseAuthVariable(ours);
      expect(Buffer.from(pv.data).equals(Buffer.from(data))).toBe(true);
      expect(
        verifyAuthVariable(pv, { name: 'db', vendorGuid: EFI_IMAGE_SECURITY_DATABASE_GUID }, [
          parseCertificatePemOrDer(readFileSync(pki.caPem)),
        ]).trusted,
      ).toBe(true);
      // openssl reads our CertData as a PKCS#7 SignedData structure.
      writeFileSync(f('ours.p7'), pv.pkcs7);
      expect(() => runOk('openssl', ['asn1parse', '-inform', 'DER', '-in', f('ours.p7')])).not.toThrow();
    });

    test('db/dbx decision: by certificate, by hash, by TBS hash', () => {
      const ca = parseCertificatePemOrDer(readFileSync(pki.caPem));
      const leaf = parseCertificatePemOrDer(readFileSync(pki.rsaCert));
      const signed = signImage(image, { certificate: leaf, key: readFileSync(pki.rsaKey, 'utf8') });
      const db = (lists: Parameters<typeof buildSignatureList>[0][]) =>
        signatureDatabase(parseSignatureLists(buildSignatureLists(lists)));
      const dbCa = db([{ type: 'x509', signatures: [{ owner: OWNER, data: ca.der }] }]);
      expect(verifyImage(signed, { db: dbCa }).trusted).toBe(true);
      // Not signed, but its hash is in db.
      const dbHash = db([
        { type: 'sha256', signatures: [{ owner: OWNER, data: authenticodeDigest(image) }] },
      ]);
      const byHash = verifyImage(image, { db: dbHash });
      expect([byHash.trusted, byHash.allowedByHash]).toEqual([true, 'sha256']);
      expect(verifyImage(image, { db: dbCa }).reason?.code).toBe('NOT_SIGNED');
      // dbx wins over db, whichever way it names the image.
      const dbxHash = db([
        { type: 'sha256', signatures: [{ owner: OWNER, data: authenticodeDigest(signed) }] },
      ]);
      const dbxCert = db([{ type: 'x509', signatures: [{ owner: OWNER, data: leaf.der }] }]);
      const tbs = createHash('sha256').update(leaf.tbs).digest();
      const dbxTbs = db([
        {
          type: 'x509Sha256',
          signatures: [{ owner: OWNER, data: new Uint8Array([...tbs, ...new Uint8Array(16)]) }],
        },
      ]);
      for (const [dbx, by] of [
        [dbxHash, 'image-hash'],
        [dbxCert, 'certificate'],
        [dbxTbs, 'tbs-hash'],
      ] as const) {
        const v = verifyImage(signed, { db: dbCa, dbx });
        expect([v.trusted, v.reason?.code, v.forbidden?.by]).toEqual([false, 'FORBIDDEN_BY_DBX', by]);
      }
    });
  },
);
