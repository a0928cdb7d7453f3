import { createHash } from 'node:crypto';
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
  OID,
  buildAuthenticodeSignature,
  loadPrivateKey,
  parseAuthenticodeSignature,
  parseCertificatePemOrDer,
  rawSign,
} from '../src/index.js';
import { toDer } from '../src/asn1.js';
import { type TestPki, makePki } from './helpers/fixtures.js';

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
    const key = readFileSync(pki.rsaKey, 'utf8');
    const p7 = buildAuthenticodeSignature({ certificate: cert, key }, new Uint8Array(32).fill(7));
    const ci = children(parseDer(p7));
    const sd = children(children(ci[1]!)[0]!);
    const si = children(children(sd[sd.length - 1]!)[0]!);
    const outerSig = si[si.length - 1]!.value;
    const imprint = createHash('sha256').update(outerSig).digest();
    if (tamper) imprint[0]! ^= 1;
    const attrs = derSet(
      derSequence(derOid(OID.signingTime), derSet(derTime(new Date('2025-06-01T12:00:00Z')))),
      derSequence(derOid(OID.messageDigest), derSet(derOctetString(imprint))),
    );
    const sig = rawSign(loadPrivateKey(key), 'sha256', attrs);
    const counter = derSequence(
      derInteger(1),
      derSequence(cert.issuerRaw, cert.serialRaw),
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
