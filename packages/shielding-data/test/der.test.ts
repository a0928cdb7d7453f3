import { FormatError, fromHex, toHex } from '@lsvm/core';
import { parseCertificate } from '../src/index.js';
import { compareDerOrder, decodeBer, decodeDer } from '../src/der.js';
import { thrown } from './helpers.js';
import { vectorGuardians } from './vectors.js';

/**
 * The strict-DER gate (der.ts): every BER-only or non-canonical form it claims to refuse is a
 * typed FormatError `DER_NOT_CANONICAL`, the canonical form of the same value decodes, and the
 * schema-dependent rules (DEFAULT omitted, named bit lists) are not: see certificate.ts.
 */

const notDer = (hex: string): string => {
  const e = thrown(() => decodeDer(fromHex(hex.replace(/ /g, '')), 'test'));
  expect(e).toBeInstanceOf(FormatError);
  expect(e.code).toBe('DER_NOT_CANONICAL');
  return e.message;
};
const der = (hex: string) => decodeDer(fromHex(hex.replace(/ /g, '')), 'test');

describe('decodeDer refuses what X.690 DER forbids', () => {
  test.each([
    // [why, non-DER encoding, canonical encoding of the same value]
    ['long-form length below 128 (§10.1)', '30 81 03 02 01 01', '30 03 02 01 01'],
    ['length with a leading zero octet (§8.1.3.5)', '30 82 00 03 02 01 01', '30 03 02 01 01'],
    ['indefinite length (§10.1)', '30 80 02 01 01 00 00', '30 03 02 01 01'],
    ['high-tag-number form for a low tag (§8.1.2)', '1f 02 01 01', '02 01 01'],
    ['high tag number with a leading 0x80 octet (§8.1.2.4.2)', 'bf 80 1f 00', 'bf 1f 00'],
    ['INTEGER with a leading 00 (§8.3.2)', '02 02 00 01', '02 01 01'],
    ['INTEGER with a leading FF (§8.3.2)', '02 02 ff 80', '02 01 80'],
    ['ENUMERATED with a leading 00 (§8.4)', '0a 02 00 05', '0a 01 05'],
    ['BOOLEAN TRUE not FF (§11.1)', '01 01 01', '01 01 ff'],
    ['NULL with contents (§8.8.2)', '05 01 00', '05 00'],
    ['empty BIT STRING with unused bits (§8.6.2.3)', '03 01 03', '03 01 00'],
    ['BIT STRING unused bits not zero (§11.2.1)', '03 02 04 f1', '03 02 04 f0'],
    ['constructed BIT STRING (§10.2)', '23 04 03 02 00 ff', '03 02 00 ff'],
    ['constructed OCTET STRING (§10.2)', '24 04 04 02 ab cd', '04 02 ab cd'],
    ['OID arc with a 0x80 padding octet (§8.19.2)', '06 03 2a 80 01', '06 02 2a 01'],
    ['SET OF not in ascending order (§11.6)', '31 06 02 01 02 02 01 01', '31 06 02 01 01 02 01 02'],
    ['SET not in tag order (§10.3)', '31 05 04 00 02 01 01', '31 05 02 01 01 04 00'],
    [
      'UTCTime without seconds (§11.8)',
      '17 0b 32 36 31 31 32 37 30 30 30 30 5a',
      '17 0d 32 36 31 31 32 37 30 30 30 30 30 30 5a',
    ],
    [
      'UTCTime with an offset (§11.8)',
      '17 11 32 36 31 31 32 37 30 30 30 30 30 30 2b 30 31 30 30',
      '17 0d 32 36 31 31 32 37 30 30 30 30 30 30 5a',
    ],
    [
      'GeneralizedTime fraction ending in zero (§11.7)',
      '18 12 32 30 35 30 30 31 30 31 30 30 30 30 30 30 2e 35 30 5a',
      '18 11 32 30 35 30 30 31 30 31 30 30 30 30 30 30 2e 35 5a',
    ],
    [
      'GeneralizedTime without Z (§11.7)',
      '18 0e 32 30 35 30 30 31 30 31 30 30 30 30 30 30',
      '18 0f 32 30 35 30 30 31 30 31 30 30 30 30 30 30 5a',
    ],
  ])('%s', (_why, bad, good) => {
    expect(notDer(bad)).toMatch(/^not DER: /);
    expect(toHex(der(good).valueBeforeDecodeView)).toBe(good.replace(/ /g, ''));
  });

  test('a form that is not even BER is refused by asn1js itself: DER_MALFORMED', () => {
    for (const bad of ['03 02 08 00']) {
      const e = thrown(() => decodeDer(fromHex(bad.replace(/ /g, '')), 'test'));
      expect(e).toBeInstanceOf(FormatError);
      expect(e.code).toBe('DER_MALFORMED');
    }
  });

  test('equal SET OF members and zero-padded order are DER (§11.6)', () => {
    expect(() => der('31 06 02 01 01 02 01 01')).not.toThrow();
    expect(compareDerOrder(fromHex('0102'), fromHex('010200'))).toBe(0);
    expect(compareDerOrder(fromHex('0102'), fromHex('0103'))).toBeLessThan(0);
    expect(compareDerOrder(fromHex('02'), fromHex('0101'))).toBeGreaterThan(0);
  });

  test('violations deep inside a structure are found', () => {
    expect(notDer('30 07 30 05 31 03 01 01 01')).toMatch(/BOOLEAN/);
  });

  test('decodeBer (PKCS#12 containers from Windows and Java) still accepts BER', () => {
    for (const ber of [
      '30 81 03 02 01 01',
      '30 80 02 01 01 00 00',
      '24 04 04 02 ab cd',
      '31 06 02 01 02 02 01 01',
    ])
      expect(() => decodeBer(fromHex(ber.replace(/ /g, '')), 'test')).not.toThrow();
  });
});

describe('schema-dependent DER rules on certificates', () => {
  const cert = vectorGuardians().owner.signingCertificate;
  const hex = toHex(cert);
  /** The certificate with one same-length edit (search → replace, exactly once). */
  const edited = (search: string, replace: string): Uint8Array => {
    const at = hex.indexOf(search);
    expect(at).toBeGreaterThan(0);
    expect(hex.indexOf(search, at + 1)).toBe(-1);
    return fromHex(hex.slice(0, at) + replace + hex.slice(at + search.length));
  };
  const refused = (bytes: Uint8Array): string => {
    const e = thrown(() => parseCertificate(bytes));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.code).toBe('CERT_MALFORMED');
    return e.message;
  };

  test('the unedited certificate parses', () => {
    expect(parseCertificate(cert).keyUsage).toEqual(['digitalSignature', 'keyCertSign']);
  });

  test('DEFAULTs written out and untrimmed KeyUsage bits are accepted, as OpenSSL and Go accept them', () => {
    // Real tools emit these; the certificate is still exactly its stored bytes (thumbprint, key).
    for (const [search, replace] of [
      ['a003020102', 'a003020100'], // explicit version v1
      ['0603551d0f0101ff', '0603551d0f010100'], // explicit critical FALSE
      ['040403020284', '040403020184'], // KeyUsage with a trailing zero bit
    ] as const) {
      expect(parseCertificate(edited(search, replace)).keyUsage).toContain('digitalSignature');
    }
  });

  test('KeyUsage padding bits never grant a usage, set or not (X.690 §8.6.2.2)', () => {
    // 03 02 03 85: three unused bits, 10000|101 — only digitalSignature is used; keyCertSign (bit 5)
    // and encipherOnly (bit 7) sit in the padding.
    expect(parseCertificate(edited('040403020284', '040403020385')).keyUsage).toEqual(['digitalSignature']);
  });

  test('a BOOLEAN that is not 00/FF inside the certificate', () => {
    expect(refused(edited('0603551d0f0101ff', '0603551d0f010101'))).toMatch(/BOOLEAN/);
  });
});
