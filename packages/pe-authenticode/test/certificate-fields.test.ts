import { generateKeyPairSync } from 'node:crypto';
import { FormatError, toHex } from '@lsvm/core';
import {
  OID,
  buildAuthenticodeSignature,
  createCertificate,
  parseAuthenticodeSignature,
  parseCertificate,
} from '../src/index.js';
import {
  children,
  derExplicit,
  derInteger,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  parseDer,
  tlv,
} from './helpers/der.js';

/**
 * The fields read straight from the decoded tree (x509.ts, timestamp.ts) instead of through a
 * second pkijs schema pass: well-formed values read back, malformed ones are typed errors.
 */

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ca = createCertificate({
  subject: [['CN', 'fields CA']],
  publicKey: privateKey,
  issuerKey: privateKey,
  ca: true,
});
const leaf = createCertificate({
  subject: [['CN', 'fields leaf']],
  publicKey: privateKey,
  issuer: ca,
  issuerKey: privateKey,
});

/** `der` with one same-length edit (exactly one occurrence of `search`). */
function edited(der: Uint8Array, search: string, replace: string): Uint8Array {
  const hex = toHex(der);
  const at = hex.indexOf(search);
  expect(at).toBeGreaterThan(0);
  expect(hex.indexOf(search, at + 1)).toBe(-1);
  return Uint8Array.from(Buffer.from(hex.slice(0, at) + replace + hex.slice(at + search.length), 'hex'));
}

function malformed(der: Uint8Array): FormatError {
  try {
    parseCertificate(der);
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    expect((e as FormatError).code).toBe('X509_MALFORMED');
    return e as FormatError;
  }
  throw new Error('expected X509_MALFORMED');
}

describe('certificate fields from the tree', () => {
  test('names, serial, extensions and algorithm read back', () => {
    const c = parseCertificate(leaf.der);
    expect(c.subject).toBe('CN=fields leaf');
    expect(c.issuer).toBe('CN=fields CA');
    expect(c.extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.3']); // id-kp-codeSigning
    expect(c.isCA).toBe(false);
    expect(c.subjectKeyIdentifier?.length).toBe(20);
    expect(c.signatureAlgorithm).toBe('1.2.840.10045.4.3.2');
    expect(c.serial).toBe(leaf.serial);
    expect(parseCertificate(ca.der).isCA).toBe(true);
    expect(parseCertificate(ca.der).extKeyUsage).toBeUndefined();
  });

  test('a malformed extendedKeyUsage, basicConstraints or subjectKeyIdentifier is X509_MALFORMED', () => {
    // EKU value: SEQUENCE OF OID → SET OF OID.
    malformed(edited(leaf.der, '300a06082b06010505070303', '310a06082b06010505070303'));
    // basicConstraints value: SEQUENCE { BOOLEAN TRUE } → SEQUENCE { OCTET STRING }.
    malformed(edited(ca.der, '30030101ff', '30030401ff'));
    // subjectKeyIdentifier value: OCTET STRING → constructed [UNIVERSAL 4].
    const ski = toHex(parseCertificate(leaf.der).subjectKeyIdentifier!);
    malformed(edited(leaf.der, `0414${ski}`, `2414${ski}`));
  });

  test('a malformed frame around the fields is X509_MALFORMED too, its message not doubled', () => {
    // The validity SEQUENCE retagged as a SET: the tree reader's DER_UNEXPECTED, reported under
    // the documented code.
    const hex = toHex(leaf.der);
    const validity = hex.indexOf('301e170d');
    expect(validity).toBeGreaterThan(0);
    const bad = Uint8Array.from(
      Buffer.from(`${hex.slice(0, validity)}311e170d${hex.slice(validity + 8)}`, 'hex'),
    );
    const e = malformed(bad);
    expect(e.message.split('(X.509 certificate').length).toBeLessThanOrEqual(2);
  });
});

describe('RFC 3161 TSTInfo from the tree', () => {
  /** An Authenticode signature carrying one unsigned RFC 3161 token around `tst` (no TSA signer). */
  function withToken(tst: Uint8Array): Uint8Array {
    const p7 = buildAuthenticodeSignature({ certificate: leaf, key: privateKey }, new Uint8Array(32).fill(7));
    const ci = children(parseDer(p7));
    const sd = children(children(ci[1]!)[0]!);
    const si = children(children(sd[sd.length - 1]!)[0]!);
    const token = derSequence(
      derOid(OID.signedData),
      derExplicit(
        0,
        derSequence(
          derInteger(3),
          derSet(derSequence(derOid(OID.sha256), derNull())),
          derSequence(derOid(OID.tstInfo), derExplicit(0, derOctetString(tst))),
          derSet(),
        ),
      ),
    );
    const unsigned = tlv(0xa1, derSequence(derOid(OID.spcRfc3161Timestamp), derSet(token)));
    const newSi = derSequence(...si.map((c) => c.raw), unsigned);
    const newSd = derSequence(...sd.slice(0, -1).map((c) => c.raw), derSet(newSi));
    return derSequence(derOid(OID.signedData), derExplicit(0, newSd));
  }
  const genTime = (s: string) => tlv(0x18, new TextEncoder().encode(s));
  const tstInfo = (version: number, time: Uint8Array, imprint = derOctetString(new Uint8Array(32))) =>
    derSequence(
      derInteger(version),
      derOid('1.2.3.4'),
      derSequence(derSequence(derOid(OID.sha256), derNull()), imprint),
      derInteger(42),
      time,
    );
  const failure = (tst: Uint8Array): string => {
    const [t] = parseAuthenticodeSignature(withToken(tst)).timestamps;
    expect(t?.valid).toBe(false);
    return t!.failures.map((f) => `${f.code}: ${f.message}`).join('; ');
  };

  test('a well-formed TSTInfo gives genTime; the token then fails only for its missing signer', () => {
    const [t] = parseAuthenticodeSignature(withToken(tstInfo(1, genTime('20250601120000Z')))).timestamps;
    expect(t?.time?.toISOString()).toBe('2025-06-01T12:00:00.000Z');
    expect(t?.failures.map((f) => f.code)).toEqual(['TIMESTAMP_IMPRINT_MISMATCH', 'TIMESTAMP_INVALID']);
    expect(t?.failures[1]?.message).toMatch(/no signer/);
  });

  test('version, genTime type and calendar, and imprint shape are checked', () => {
    expect(failure(tstInfo(2, genTime('20250601120000Z')))).toMatch(/TIMESTAMP_INVALID: TSTInfo version/);
    expect(failure(tstInfo(1, tlv(0x17, new TextEncoder().encode('250601120000Z'))))).toMatch(
      /TIMESTAMP_INVALID: .*GeneralizedTime/,
    );
    expect(failure(tstInfo(1, genTime('20251301120000Z')))).toMatch(/not a calendar time/);
    expect(failure(tstInfo(1, genTime('20250601120000Z'), derInteger(5)))).toMatch(/OctetString/);
    expect(failure(derSequence(derInteger(1)))).toMatch(/TIMESTAMP_INVALID/);
  });

  test('the optional fields after genTime must be what RFC 3161 allows, in order', () => {
    const withTail = (...tail: Uint8Array[]) => {
      const base = tstInfo(1, genTime('20250601120000Z'));
      const kids = children(parseDer(base)).map((c) => c.raw);
      return derSequence(...kids, ...tail);
    };
    const ok = (tst: Uint8Array) =>
      parseAuthenticodeSignature(withToken(tst)).timestamps[0]!.failures.map((f) => f.code);
    // accuracy, ordering, nonce, [0] tsa, [1] extensions: accepted (the token fails for its signer only).
    expect(
      ok(
        withTail(
          derSequence(derInteger(1)),
          tlv(0x01, Uint8Array.of(0)),
          derInteger(99),
          tlv(0xa0, derNull()),
          tlv(0xa1, derSequence()),
        ),
      ),
    ).toEqual(['TIMESTAMP_IMPRINT_MISMATCH', 'TIMESTAMP_INVALID']);
    expect(failure(withTail(derOctetString(Uint8Array.of(1)), derInteger(5)))).toMatch(
      /not its optional fields/,
    );
    expect(failure(withTail(derInteger(5), derSequence()))).toMatch(/not its optional fields/);
    expect(failure(withTail(tlv(0x80, Uint8Array.of(0))))).toMatch(/not its optional fields/);
  });
});
