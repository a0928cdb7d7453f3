import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { isLsvmError } from '@lsvm/core';
import { OID, createCertificate, parseCertificate, signImage, verifyImage } from '../src/index.js';
import { type DerElement, children, derOctetString, parseDer, tlv } from './helpers/der.js';
import { makePe, pattern } from './helpers/make-pe.js';

const toPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

/** Re-encodes `el` with `edit` applied to each element (depth first); the editor returns new bytes or undefined. */
function rewrite(el: DerElement, edit: (e: DerElement) => Uint8Array | undefined): Uint8Array {
  const own = edit(el);
  if (own) return own;
  if (!el.constructed) return el.raw;
  return tlv(el.raw[0]!, ...children(el).map((c) => rewrite(c, edit)));
}

test('hostile extension values in a certificate are typed errors', () => {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = createCertificate({ subject: [['CN', 'x']], publicKey: k.publicKey, issuerKey: k.privateKey });
  const ekuOid = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x25]);
  for (const value of [
    tlv(0x18, new TextEncoder().encode('garbage')), // a GeneralizedTime asn1js throws on
    tlv(0x30), // an empty SEQUENCE of purposes
    Uint8Array.of(0x30, 0x05, 0x06), // truncated
  ]) {
    const hostile = rewrite(parseDer(cert.der), (e) => {
      if (e.tag !== 16 || !e.constructed) return undefined;
      const kids = children(e);
      if (kids.length < 2 || !Buffer.from(kids[0]!.raw).equals(ekuOid)) return undefined;
      return tlv(0x30, kids[0]!.raw, derOctetString(value));
    });
    let err: unknown;
    try {
      parseCertificate(hostile);
    } catch (e) {
      err = e;
    }
    if (err !== undefined) expect(isLsvmError(err)).toBe(true);
  }
});

describe('createCertificate', () => {
  test('a CA and RSA / EC leaves chain, carry the right extensions, and sign images we verify', () => {
    const caKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ca = createCertificate({
      subject: [
        ['O', 'lsvm'],
        ['CN', 'builder CA'],
      ],
      publicKey: caKeys.publicKey,
      issuerKey: caKeys.privateKey,
      ca: true,
    });
    expect(ca.isCA).toBe(true);
    expect(ca.subject).toBe('O=lsvm, CN=builder CA');
    expect(ca.x509.verify(ca.x509.publicKey)).toBe(true);
    for (const type of ['rsa', 'ec'] as const) {
      const k =
        type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const leaf = createCertificate({
        subject: [['CN', `builder ${type} leaf`]],
        publicKey: k.publicKey,
        issuer: ca,
        issuerKey: caKeys.privateKey,
      });
      expect(leaf.extKeyUsage).toEqual([OID.ekuCodeSigning]);
      expect(leaf.issuer).toBe(ca.subject);
      const img = signImage(makePe({ sections: [{ name: '.text', data: pattern(900) }] }), {
        certificate: leaf,
        key: k.privateKey,
      });
      expect(verifyImage(img, { trust: [ca] }).trusted).toBe(true);
    }
  });
});

describeWithPeers(['openssl', 'sbverify'], 'createCertificate interop', () => {
  test('openssl verifies the chain and sbverify accepts an image signed with it', () => {
    const tmp = tempDir('lsvm-pe-x509-');
    try {
      const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const ca = createCertificate({
        subject: [
          ['C', 'US'],
          ['CN', 'builder CA'],
        ],
        publicKey: caKeys.publicKey,
        issuerKey: caKeys.privateKey,
        ca: true,
        algorithm: 'sha384',
      });
      const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const leaf = createCertificate({
        subject: [['CN', 'builder leaf']],
        publicKey: k.publicKey,
        issuer: ca,
        issuerKey: caKeys.privateKey,
      });
      writeFileSync(join(tmp.path, 'ca.pem'), toPem(ca.der));
      writeFileSync(join(tmp.path, 'leaf.pem'), toPem(leaf.der));
      const v = run('openssl', ['verify', '-CAfile', join(tmp.path, 'ca.pem'), join(tmp.path, 'leaf.pem')]);
      expect(v.stdout).toContain('OK');
      const text = runOk('openssl', ['x509', '-in', join(tmp.path, 'leaf.pem'), '-noout', '-text']);
      expect(text).toContain('Code Signing');
      expect(text).toContain('Authority Key Identifier');
      // Key identifiers by RFC 5280 method 1 match what openssl computes for the same key.
      runOk('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(tmp.path, 'o.key'),
        '-out',
        join(tmp.path, 'o.pem'),
        '-subj',
        '/CN=o',
      ]);
      const oKey = createPrivateKey(readFileSync(join(tmp.path, 'o.key')));
      const mine = createCertificate({ subject: [['CN', 'o']], publicKey: oKey, issuerKey: oKey, ca: true });
      writeFileSync(join(tmp.path, 'mine.pem'), toPem(mine.der));
      const ski = (f: string): string =>
        runOk('openssl', ['x509', '-in', join(tmp.path, f), '-noout', '-ext', 'subjectKeyIdentifier'])
          .split('\n')[1]!
          .trim();
      expect(ski('mine.pem')).toBe(ski('o.pem'));
      const img = signImage(makePe({ sections: [{ name: '.text', data: pattern(900) }] }), {
        certificate: leaf,
        key: k.privateKey,
      });
      writeFileSync(join(tmp.path, 'img.efi'), img);
      expect(
        run('sbverify', ['--cert', join(tmp.path, 'ca.pem'), join(tmp.path, 'img.efi')]).stdout,
      ).toContain('Signature verification OK');
    } finally {
      tmp.cleanup();
    }
  });
});
