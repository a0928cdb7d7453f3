import { generateKeyPairSync } from 'node:crypto';
import { LsvmError, toHex } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import {
  type GuardianKeys,
  certificateThumbprint,
  generateGuardian,
  parseCertificate,
} from '../src/index.js';
import { issueCertificate } from '../src/certificate-builder.js';
import { decodeDer } from '../src/der.js';
import { thrown } from './helpers.js';
import { vectorGuardians } from './vectors.js';

/** The parts of a committed certificate that issueCertificate takes as input. */
function templateOf(der: Uint8Array) {
  const c = new pkijs.Certificate({ schema: asn1js.fromBER(der).result });
  const cn = (n: pkijs.RelativeDistinguishedNames) =>
    (n.typesAndValues[0]!.value as asn1js.Utf8String).valueBlock.value;
  return {
    subject: cn(c.subject),
    issuer: cn(c.issuer),
    serial: c.serialNumber.valueBlock.valueHexView.slice(),
    notBefore: c.notBefore.value,
    notAfter: c.notAfter.value,
    tbs: new Uint8Array(c.tbsView),
  };
}

function reissue(g: GuardianKeys, role: 'signing' | 'encryption'): Uint8Array {
  const der = role === 'signing' ? g.signingCertificate : g.encryptionCertificate;
  const t = templateOf(der);
  const key = role === 'signing' ? g.signingKey : g.encryptionKey;
  return issueCertificate({
    ...t,
    subjectKey: key,
    issuerKey: g.signingKey,
    ca: role === 'signing',
    keyUsage:
      role === 'signing'
        ? ['digitalSignature', 'keyCertSign']
        : [key.asymmetricKeyType === 'rsa' ? 'keyEncipherment' : 'keyAgreement'],
  });
}

describe('certificates through pkijs', () => {
  const { owner, fabric } = vectorGuardians();

  test('re-issuing the RSA vector certificates gives the committed bytes (PKCS#1 v1.5 is deterministic)', () => {
    for (const role of ['signing', 'encryption'] as const)
      expect(toHex(reissue(owner, role))).toBe(
        toHex(role === 'signing' ? owner.signingCertificate : owner.encryptionCertificate),
      );
  });

  test('re-issuing the ECDSA vector certificates gives the committed TBSCertificate bytes', () => {
    for (const role of ['signing', 'encryption'] as const) {
      const committed = role === 'signing' ? fabric.signingCertificate : fabric.encryptionCertificate;
      const again = reissue(fabric, role);
      expect(toHex(templateOf(again).tbs)).toBe(toHex(templateOf(committed).tbs));
    }
  });

  test('parsed fields: names, ISO validity, key usage, key type', () => {
    const s = parseCertificate(owner.signingCertificate);
    expect(s.subject).toBe('CN=Vector Owner signing');
    expect(s.issuer).toBe('CN=Vector Owner signing');
    expect(s.notBefore).toBe('2026-01-01T00:00:00Z');
    expect(s.keyUsage).toEqual(['digitalSignature', 'keyCertSign']);
    expect(parseCertificate(owner.encryptionCertificate).keyUsage).toEqual(['keyEncipherment']);
    expect(parseCertificate(fabric.encryptionCertificate).keyUsage).toEqual(['keyAgreement']);
    expect(s.thumbprint).toBe(certificateThumbprint(owner.signingCertificate));
  });

  test('validity from 2050 is a GeneralizedTime with whole seconds', () => {
    const g = generateGuardian('late', {
      algorithm: 'p256',
      notBefore: new Date('2049-12-31T00:00:00.750Z'),
      validityDays: 2,
    });
    const c = parseCertificate(g.signingCertificate);
    expect([c.notBefore, c.notAfter]).toEqual(['2049-12-31T00:00:00Z', '2050-01-02T00:00:00Z']);
    const hex = toHex(g.signingCertificate);
    expect(hex).toContain(toHex(new TextEncoder().encode('491231000000Z')));
    expect(hex).toContain(`180f${toHex(new TextEncoder().encode('20500102000000Z'))}`);
  });

  test('hostile names are escaped, never printed raw', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const der = issueCertificate({
      subject: 'evil\u001b[2J, O=forged',
      issuer: 'x',
      subjectKey: key,
      issuerKey: key,
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      serial: new Uint8Array(16).fill(7),
      ca: false,
      keyUsage: ['digitalSignature'],
    });
    expect(parseCertificate(der).subject).toBe('CN=evil\\1b[2J\\, O=forged');
  });
});

describe('the strict-DER gate', () => {
  const ok = (hex: string) => decodeDer(Buffer.from(hex, 'hex'), 't');
  const code = (hex: string) => thrown(() => ok(hex)).code;

  test('accepts DER', () => {
    expect(ok('3006020101010100').idBlock.tagNumber).toBe(16);
    expect(ok('300602017f0101ff').idBlock.tagNumber).toBe(16);
  });

  test.each([
    ['trailing bytes', '3000' + '00', 'DER_TRAILING'],
    ['indefinite length', '30800000', 'DER_NOT_CANONICAL'],
    ['long-form short length', '3081030201 01'.replace(/ /g, ''), 'DER_NOT_CANONICAL'],
    ['non-minimal INTEGER', '300402020001', 'DER_NOT_CANONICAL'],
    ['negative non-minimal INTEGER', '30040202ff80', 'DER_NOT_CANONICAL'],
    ['empty INTEGER', '30020200', 'DER_NOT_CANONICAL'],
    ['BOOLEAN 01', '3003010101', 'DER_NOT_CANONICAL'],
    ['constructed OCTET STRING', '2403040101', 'DER_NOT_CANONICAL'],
    ['padded OID arc', '0603808101', 'DER_NOT_CANONICAL'],
    ['truncated', '3005020101', 'DER_MALFORMED'],
    ['empty input', '', 'DER_MALFORMED'],
  ])('%s is refused', (_what, hex, c) => {
    expect(code(hex)).toBe(c);
  });

  test('deep nesting is a FormatError, not a stack overflow', () => {
    const depth = 20000;
    const b = new Uint8Array(depth * 2);
    for (let i = 0; i < depth; i++) {
      b[i * 2] = 0x30;
      b[i * 2 + 1] = 0x80;
    }
    expect(thrown(() => decodeDer(b, 't'))).toBeInstanceOf(LsvmError);
    const wrap = (inner: Uint8Array): Uint8Array =>
      new Uint8Array([0x30, ...(inner.length < 128 ? [inner.length] : [0x81, inner.length]), ...inner]);
    let deep: Uint8Array = new Uint8Array([0x05, 0x00]);
    for (let i = 0; i < 60; i++) deep = wrap(deep);
    expect(decodeDer(deep, 't').idBlock.tagNumber).toBe(16);
    for (let i = 0; i < 10; i++) deep = wrap(deep);
    expect(thrown(() => decodeDer(deep, 't')).code).toBe('DER_DEPTH');
  });
});
