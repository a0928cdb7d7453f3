import { generateKeyPairSync } from 'node:crypto';
import {
  type Certificate,
  createCertificate,
  imageSignatures,
  parsePe,
  signImage,
  verifyImage,
} from '../src/index.js';
import { makePe, pattern } from './helpers/make-pe.js';

/** Each verification failure has its own reason code; these build one image per cause. */

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const caKeys = rsa();
const ca = createCertificate({
  subject: [['CN', 'reasons CA']],
  publicKey: caKeys.publicKey,
  issuerKey: caKeys.privateKey,
  ca: true,
});
const leafKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const leaf = createCertificate({
  subject: [['CN', 'reasons leaf']],
  publicKey: leafKeys.publicKey,
  issuer: ca,
  issuerKey: caKeys.privateKey,
});
const image = makePe({
  sections: [
    { name: '.text', data: pattern(1500) },
    { name: '.data', data: pattern(300, 2) },
  ],
});
const signed = signImage(image, { certificate: leaf, key: leafKeys.privateKey });
const codes = (b: Uint8Array, trust: Certificate[] = [ca], maxChainLength?: number): string[] =>
  verifyImage(
    b,
    maxChainLength === undefined ? { trust } : { trust, maxChainLength },
  ).signatures[0]!.failures.map((f) => f.code);

/** Flips one byte of a view into `signed` (views share its buffer). */
function flipAt(view: Uint8Array, index: number): Uint8Array {
  const out = signed.slice();
  out[view.byteOffset - signed.byteOffset + index]! ^= 0x01;
  return out;
}
const sig = imageSignatures(parsePe(signed))[0]!.signature!;

test('intact', () => {
  expect(codes(signed)).toEqual([]);
});

test('a changed image: DIGEST_MISMATCH only', () => {
  const b = signed.slice();
  b[0x300]! ^= 1;
  expect(codes(b)).toEqual(['DIGEST_MISMATCH']);
});

test('a changed signed digest: DIGEST_MISMATCH and MESSAGE_DIGEST_MISMATCH', () => {
  expect(codes(flipAt(sig.spc.digest, 0))).toEqual(['DIGEST_MISMATCH', 'MESSAGE_DIGEST_MISMATCH']);
});

test('an unsupported image digest algorithm (sha256 OID patched to sha224)', () => {
  const oid = Uint8Array.of(0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01);
  const spcAt = Buffer.from(sig.spc.contentOctets).indexOf(Buffer.from(oid));
  expect(spcAt).toBeGreaterThanOrEqual(0);
  const r = codes(flipAt(sig.spc.contentOctets, spcAt + oid.length - 1));
  expect(r).toContain('UNSUPPORTED_ALGORITHM');
  expect(r).toContain('MESSAGE_DIGEST_MISMATCH');
});

test('a corrupted signature value: BAD_SIGNATURE', () => {
  expect(codes(flipAt(sig.signerInfo.signature, 20))).toEqual(['BAD_SIGNATURE']);
});

test('a signer identifier naming no certificate: SIGNER_NOT_FOUND', () => {
  const serial = sig.signerInfo.serialRaw!;
  expect(codes(flipAt(serial, serial.length - 1))).toEqual(['SIGNER_NOT_FOUND']);
});

test('a leaf whose issuer name matches the anchor but not its key: BAD_CERTIFICATE_SIGNATURE', () => {
  const forged = createCertificate({
    subject: [['CN', 'forged']],
    publicKey: leafKeys.publicKey,
    issuer: ca,
    issuerKey: rsa().privateKey,
  });
  const b = signImage(image, { certificate: forged, key: leafKeys.privateKey });
  expect(codes(b)).toEqual(['BAD_CERTIFICATE_SIGNATURE']);
});

test('a chain longer than the limit: CHAIN_TOO_LONG; within it: trusted through intermediates', () => {
  let issuer = ca;
  let issuerKey = caKeys.privateKey;
  const chain: Certificate[] = [];
  for (let i = 0; i < 4; i++) {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    issuer = createCertificate({
      subject: [['CN', `intermediate ${i}`]],
      publicKey: k.publicKey,
      issuer,
      issuerKey,
      ca: true,
    });
    issuerKey = k.privateKey;
    chain.unshift(issuer);
  }
  const deep = createCertificate({
    subject: [['CN', 'deep leaf']],
    publicKey: leafKeys.publicKey,
    issuer,
    issuerKey,
  });
  const b = signImage(image, { certificate: deep, key: leafKeys.privateKey, chain });
  expect(codes(b)).toEqual([]);
  expect(verifyImage(b, { trust: [ca] }).signatures[0]!.chain).toHaveLength(6);
  expect(codes(b, [ca], 3)).toEqual(['CHAIN_TOO_LONG']);
  // Trusting an intermediate is enough (firmware accepts a db entry anywhere in the chain).
  expect(codes(b, [chain[1]!])).toEqual([]);
});

test('a leaf that signs another leaf is not an intermediate: ISSUER_NOT_CA (an anchor needs no CA flag)', () => {
  // The code-signing leaf (no basicConstraints cA) issues a second leaf and ships as the chain.
  const k2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const byLeaf = createCertificate({
    subject: [['CN', 'issued by a leaf']],
    publicKey: k2.publicKey,
    issuer: leaf,
    issuerKey: leafKeys.privateKey,
  });
  expect(leaf.isCA).toBe(false);
  const b = signImage(image, { certificate: byLeaf, key: k2.privateKey, chain: [leaf] });
  expect(codes(b)).toEqual(['ISSUER_NOT_CA']);
  // OpenSSL agrees: `openssl verify -untrusted leaf.pem` fails with "invalid CA certificate".
  // Listed as a trust anchor itself (a db entry), the same leaf is accepted as the issuer.
  expect(codes(b, [leaf])).toEqual([]);
});
