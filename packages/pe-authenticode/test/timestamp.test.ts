import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeWithPeers } from '@lsvm/testkit';
import {
  children,
  derExplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  parseDer,
  tlv,
} from './helpers/der.js';
import {
  type Certificate,
  OID,
  buildAuthenticodeSignature,
  createCertificate,
  loadPrivateKey,
  parseAuthenticodeSignature,
  parseCertificatePemOrDer,
  rawSign,
  verifySignature,
} from '../src/index.js';
import { toDer } from '../src/asn1.js';
import { type TestPki, makePki } from './helpers/fixtures.js';

/**
 * `p7` (a one-signer Authenticode SignedData) with a legacy PKCS#9 countersignature by `by` at
 * `time` added to its unsigned attributes; `tamper` breaks the imprint.
 */
function addCountersignature(
  p7: Uint8Array,
  by: Certificate,
  key: KeyObject,
  time: Date,
  tamper = false,
): Uint8Array {
  const ci = children(parseDer(p7));
  const sd = children(children(ci[1]!)[0]!);
  const si = children(children(sd[sd.length - 1]!)[0]!);
  const imprint = createHash('sha256')
    .update(si[si.length - 1]!.value)
    .digest();
  if (tamper) imprint[0]! ^= 1;
  const attrs = derSet(
    derSequence(derOid(OID.signingTime), derSet(derTime(time))),
    derSequence(derOid(OID.messageDigest), derSet(derOctetString(imprint))),
  );
  const sig = rawSign(key, 'sha256', attrs);
  const counter = derSequence(
    derInteger(1),
    derSequence(by.issuerRaw, by.serialRaw),
    derSequence(derOid(OID.sha256), derNull()),
    tlv(0xa0, ...children(parseDer(attrs)).map((c) => c.raw)),
    toDer(sig.algorithm.toSchema()),
    derOctetString(sig.value),
  );
  const unsigned = tlv(0xa1, derSequence(derOid(OID.counterSignature), derSet(counter)));
  const newSi = derSequence(...si.map((c) => c.raw), unsigned);
  const newSd = derSequence(...sd.slice(0, -1).map((c) => c.raw), derSet(newSi));
  return derSequence(derOid(OID.signedData), derExplicit(0, newSd));
}

/**
 * Legacy (PKCS#9) countersignatures: built here by hand, since no offline peer makes them — a
 * SignerInfo whose messageDigest covers the outer signature value, in the outer unsigned attributes.
 */
describeWithPeers(['openssl'], 'legacy countersignature', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki?.cleanup());

  function countersigned(tamper: boolean): Uint8Array {
    const cert = parseCertificatePemOrDer(readFileSync(pki.rsaCert));
    const key = loadPrivateKey(readFileSync(pki.rsaKey, 'utf8'));
    const p7 = buildAuthenticodeSignature({ certificate: cert, key }, new Uint8Array(32).fill(7));
    return addCountersignature(p7, cert, key, new Date('2025-06-01T12:00:00Z'), tamper);
  }

  test('a countersignature over the signature value verifies and gives the signing time', () => {
    const s = parseAuthenticodeSignature(countersigned(false));
    expect(s.timestamps).toHaveLength(1);
    expect(s.timestamps[0]).toMatchObject({ kind: 'countersignature', valid: true, failures: [] });
    expect(s.timestamps[0]!.time!.toISOString()).toBe('2025-06-01T12:00:00.000Z');
    expect(s.timestamps[0]!.signer!.subject).toBe('CN=lsvm rsa signer');
  });

  test('a wrong imprint is TIMESTAMP_IMPRINT_MISMATCH', () => {
    const s = parseAuthenticodeSignature(countersigned(true));
    expect(s.timestamps[0]!.valid).toBe(false);
    expect(s.timestamps[0]!.failures.map((f) => f.code)).toContain('TIMESTAMP_IMPRINT_MISMATCH');
  });
});

/**
 * `checkTime: true` moves the validity check to a timestamp's time only when the timestamp comes
 * from a time-stamping certificate (timeStamping EKU) that chains to the anchors: otherwise the
 * holder of an expired signing key could countersign a time inside its validity with that key.
 */
describe('which timestamps may move the validity check', () => {
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caKeys = ec();
  const ca = createCertificate({
    subject: [['CN', 'tsa test CA']],
    publicKey: caKeys.publicKey,
    issuerKey: caKeys.privateKey,
    ca: true,
    notBefore: new Date('2019-01-01T00:00:00Z'),
  });
  const signerKeys = ec();
  // Expired: valid through 2021 only.
  const signer = createCertificate({
    subject: [['CN', 'expired signer']],
    publicKey: signerKeys.publicKey,
    issuer: ca,
    issuerKey: caKeys.privateKey,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-12-31T00:00:00Z'),
  });
  const tsaKeys = ec();
  const tsa = createCertificate({
    subject: [['CN', 'test TSA']],
    publicKey: tsaKeys.publicKey,
    issuer: ca,
    issuerKey: caKeys.privateKey,
    extKeyUsage: [OID.ekuTimeStamping],
  });
  const digest = new Uint8Array(32).fill(7);

  /** The signature, countersigned at 2020-06-01 by `by` (its certificate shipped in the bag). */
  function countersignedBy(by: Certificate, key: KeyObject): Uint8Array {
    const p7 = buildAuthenticodeSignature(
      { certificate: signer, key: signerKeys.privateKey, chain: [tsa] },
      digest,
    );
    return addCountersignature(p7, by, key, new Date('2020-06-01T12:00:00Z'));
  }
  const failures = (p7: Uint8Array): string[] =>
    verifySignature(parseAuthenticodeSignature(p7), '0', () => digest, [ca], {
      checkTime: true,
    }).failures.map((f) => f.code);

  test("the signer's own countersignature is valid as a signature but does not move the time", () => {
    const p7 = countersignedBy(signer, signerKeys.privateKey);
    expect(parseAuthenticodeSignature(p7).timestamps[0]).toMatchObject({ valid: true });
    expect(failures(p7)).toEqual(['CERTIFICATE_EXPIRED']);
  });

  test('a TSA with the timeStamping EKU chaining to the anchor does: checked at 2020-06-01', () => {
    expect(failures(countersignedBy(tsa, tsaKeys.privateKey))).toEqual([]);
  });
});
