import { type RSAPSSKeyPairKeyObjectOptions, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { contentOctets } from '../src/spc.js';
import { parseRsaPssParameters } from '../src/rsa-pss.js';
import {
  type Certificate,
  OID,
  align8,
  authenticodeDigest,
  createCertificate,
  encodeSpcIndirectData,
  encodeWinCertificate,
  extractSignature,
  parseAuthenticodeSignature,
  parseCertificatePemOrDer,
  parsePe,
  signImage,
  updatePeChecksum,
  verifyImage,
} from '../src/index.js';
import { children, derExplicit, derSequence, parseDer } from './helpers/der.js';
import { makePe, pattern } from './helpers/make-pe.js';

/** MGF1 with SHA-256: the OID 1.2.840.113549.1.1.8 and its hash AlgorithmIdentifier's OID. */
const MGF1_SHA256_OID = [
  0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
  0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];

/** Puts a PKCS#7 blob into `image` as its only WIN_CERTIFICATE (image padded to 8, checksum set). */
function embedSignature(image: Uint8Array, pkcs7: Uint8Array): Uint8Array {
  const pe = parsePe(image);
  const bodyLength = align8(image.length);
  const entry = encodeWinCertificate(pkcs7);
  const out = new Uint8Array(bodyLength + entry.length);
  out.set(image);
  out.set(entry, bodyLength);
  const v = new DataView(out.buffer);
  v.setUint32(pe.optional.dataDirectoryOffset + 32, bodyLength, true);
  v.setUint32(pe.optional.dataDirectoryOffset + 36, entry.length, true);
  updatePeChecksum(out, pe.optional.checksumOffset);
  return out;
}

/** Replaces the encapContentInfo (field 2) of a ContentInfo-wrapped SignedData. */
function withEncapContent(p7: Uint8Array, eci: Uint8Array): Uint8Array {
  const ci = children(parseDer(p7, 'test', true));
  const sd = children(children(ci[1]!)[0]!);
  return derSequence(ci[0]!.raw, derExplicit(0, derSequence(...sd.map((c, i) => (i === 2 ? eci : c.raw)))));
}

const image = makePe({ sections: [{ name: '.text', data: pattern(4000) }], trailingZeros: 3 });

describe('RSASSA-PSS without peers', () => {
  const caKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const leafKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ca = createCertificate({
    subject: [['CN', 'pss CA']],
    publicKey: caKeys.publicKey,
    issuerKey: caKeys.privateKey,
    ca: true,
    pss: true,
  });
  const leaf = createCertificate({
    subject: [['CN', 'pss leaf']],
    publicKey: leafKeys.publicKey,
    issuer: ca,
    issuerKey: caKeys.privateKey,
    pss: true,
  });
  const signed = signImage(image, { certificate: leaf, key: leafKeys.privateKey, pss: true });
  const codes = (b: Uint8Array): string[] =>
    verifyImage(b, { trust: [ca] }).signatures[0]!.failures.map((f) => f.code);

  test('signs with rsassaPss (SHA-256, MGF1-SHA-256, salt 32, trailer 1) and verifies, chain included', () => {
    const sig = parseAuthenticodeSignature(extractSignature(signed));
    expect(sig.signerInfo.signatureAlgorithm).toBe(OID.rsaPss);
    expect(parseRsaPssParameters(sig.signerInfo.signatureParameters)).toEqual({
      hash: 'sha256',
      mgf1Hash: 'sha256',
      saltLength: 32,
      trailerField: 1,
    });
    expect(leaf.signatureAlgorithm).toBe(OID.rsaPss);
    expect(codes(signed)).toEqual([]);
    expect(verifyImage(signed, { trust: [ca] }).trusted).toBe(true);
  });

  test('a PKCS#1 signer chaining through PSS-signed certificates verifies', () => {
    const out = signImage(image, { certificate: leaf, key: leafKeys.privateKey });
    expect(parseAuthenticodeSignature(extractSignature(out)).signerInfo.signatureAlgorithm).toBe(
      OID.rsaEncryption,
    );
    expect(codes(out)).toEqual([]);
  });

  // Same-length patches of the RSASSA-PSS-params in the SignerInfo.
  const SALT_32 = [0xa2, 0x03, 0x02, 0x01, 0x20];
  const MGF1_SHA256 = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
    0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
  ];
  const sigAt = (b: Uint8Array): number => Buffer.from(b).lastIndexOf(Buffer.from(SALT_32)); // the SignerInfo's parameters come after the certificates'

  test('a wrong salt length is BAD_SIGNATURE', () => {
    const b = signed.slice();
    b[sigAt(b) + 4] = 31;
    expect(codes(b)).toEqual(['BAD_SIGNATURE']);
  });

  test('a changed MGF1 hash is BAD_SIGNATURE, an unknown one UNSUPPORTED_ALGORITHM; malformed parameters are SIGNATURE_MALFORMED', () => {
    const at = Buffer.from(signed).lastIndexOf(Buffer.from(MGF1_SHA256));
    const mgf = signed.slice();
    mgf[at + MGF1_SHA256.length - 1] = 0x03; // MGF1-SHA-512: honoured, so the signature no longer verifies
    expect(codes(mgf)).toEqual(['BAD_SIGNATURE']);
    const unknown = signed.slice();
    unknown[at + MGF1_SHA256.length - 1] = 0x04; // SHA-224
    expect(codes(unknown)).toEqual(['UNSUPPORTED_ALGORITHM']);
    const bad = signed.slice();
    bad[sigAt(bad) + 2] = 0x04; // saltLength as an OCTET STRING
    expect(codes(bad)).toEqual(['SIGNATURE_MALFORMED']);
  });

  test('parameters: defaults, trailer field, unknown hash', () => {
    expect(parseRsaPssParameters(undefined)).toEqual({
      hash: 'sha1',
      mgf1Hash: 'sha1',
      saltLength: 20,
      trailerField: 1,
    });
    const params = (p: ConstructorParameters<typeof pkijs.RSASSAPSSParams>[0]) =>
      new pkijs.RSASSAPSSParams(p).toSchema();
    expect(() => parseRsaPssParameters(params({ trailerField: 2 }))).toThrow(
      expect.objectContaining({ code: 'PSS_UNSUPPORTED', message: expect.stringMatching(/trailer field 2/) }),
    );
    expect(() =>
      parseRsaPssParameters(
        params({ hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.4' }) }),
      ),
    ).toThrow(expect.objectContaining({ code: 'PSS_UNSUPPORTED' }));
    expect(() => parseRsaPssParameters(new asn1js.Integer({ value: 1 }))).toThrow(
      expect.objectContaining({ code: 'PSS_MALFORMED' }),
    );
  });

  test('an rsa-pss key (id-RSASSA-PSS SubjectPublicKeyInfo with restrictions) signs PSS and verifies', () => {
    // @types/node declares saltLength as a string; node wants a number.
    const restricted = generateKeyPairSync('rsa-pss', {
      modulusLength: 2048,
      hashAlgorithm: 'sha256',
      mgf1HashAlgorithm: 'sha256',
      saltLength: 32,
    } as unknown as RSAPSSKeyPairKeyObjectOptions);
    const pssLeaf = createCertificate({
      subject: [['CN', 'rsa-pss key']],
      publicKey: restricted.publicKey,
      issuer: ca,
      issuerKey: caKeys.privateKey,
    });
    const out = signImage(image, { certificate: pssLeaf, key: restricted.privateKey });
    expect(parseAuthenticodeSignature(extractSignature(out)).signerInfo.signatureAlgorithm).toBe(OID.rsaPss);
    expect(codes(out)).toEqual([]);
    // Parameters outside the key's own restrictions (a shorter salt) are refused (RFC 4055 §3.3).
    const b = out.slice();
    b[sigAt(b) + 4] = 20;
    expect(codes(b)).toEqual(['BAD_SIGNATURE']);
  });

  test('an EC key with pss: true keeps ECDSA; a PSS signature does not verify with an EC certificate', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecLeaf = createCertificate({
      subject: [['CN', 'ec']],
      publicKey: ec.publicKey,
      issuer: ca,
      issuerKey: caKeys.privateKey,
    });
    const out = signImage(image, { certificate: ecLeaf, key: ec.privateKey, pss: true });
    expect(parseAuthenticodeSignature(extractSignature(out)).signerInfo.signatureAlgorithm).toBe(
      OID.ecdsaWithSha256,
    );
    expect(codes(out)).toEqual([]);
    // The PSS signer's SignerInfo naming the EC certificate: the PSS check refuses a non-RSA key.
    const mixed = signImage(image, { certificate: ecLeaf, key: leafKeys.privateKey, pss: true });
    expect(codes(mixed)).toEqual(['BAD_SIGNATURE']);
  });
});

describeWithPeers(['openssl', 'osslsigncode'], 'RSASSA-PSS with peers', () => {
  let dir: string;
  let cleanup: () => void;
  let ca: Certificate;
  const f = (n: string): string => join(dir, n);
  beforeAll(() => {
    ({ path: dir, cleanup } = tempDir('lsvm-pe-pss-'));
    // A CA and a code-signing leaf whose certificate signatures are RSASSA-PSS, made by openssl.
    const pss = ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'];
    runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.pem'),
      '-subj',
      '/CN=lsvm pss CA',
      '-days',
      '30',
      '-sha256',
      ...pss,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    runOk('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f('leaf.key'),
      '-out',
      f('leaf.csr'),
      '-subj',
      '/CN=lsvm pss leaf',
    ]);
    writeFileSync(
      f('leaf.ext'),
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n',
    );
    runOk('openssl', [
      'x509',
      '-req',
      '-in',
      f('leaf.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('leaf.pem'),
      '-days',
      '30',
      '-sha256',
      ...pss,
      '-extfile',
      f('leaf.ext'),
    ]);
    ca = parseCertificatePemOrDer(readFileSync(f('ca.pem')));
  });
  afterAll(() => cleanup?.());
  const leaf = (): Certificate => parseCertificatePemOrDer(readFileSync(f('leaf.pem')));

  test('openssl-made PSS certificate chains verify; osslsigncode agrees for a PKCS#1 signer', () => {
    expect(leaf().signatureAlgorithm).toBe(OID.rsaPss);
    const out = signImage(image, { certificate: leaf(), key: readFileSync(f('leaf.key'), 'utf8') });
    writeFileSync(f('pkcs1.efi'), out);
    expect(verifyImage(out, { trust: [ca] }).trusted).toBe(true);
    const o = run('osslsigncode', ['verify', '-CAfile', f('ca.pem'), '-in', f('pkcs1.efi')]);
    expect(o.stdout).toContain('Signature verification: ok');
  });

  test('our PSS signature verifies with openssl cms (detached over the SpcIndirectDataContent octets)', () => {
    const out = signImage(image, {
      certificate: leaf(),
      key: readFileSync(f('leaf.key'), 'utf8'),
      pss: true,
    });
    expect(verifyImage(out, { trust: [ca] }).trusted).toBe(true);
    // osslsigncode 2.x checks signer signatures with OpenSSL's PKCS7 code, which only knows PKCS#1
    // v1.5; OpenSSL's CMS code knows PSS but wants an OCTET STRING eContent. So the same SignerInfo
    // is checked by `openssl cms` with the content detached: it recomputes messageDigest over the
    // content octets (Authenticode's rule) and verifies the PSS signature and the PSS chain.
    const p7 = extractSignature(out);
    const sig = parseAuthenticodeSignature(p7);
    writeFileSync(f('content.bin'), sig.spc.contentOctets);
    const eci = children(children(children(parseDer(p7, 'test', true))[1]!)[0]!)[2]!;
    writeFileSync(f('detached.p7'), withEncapContent(p7, derSequence(children(eci)[0]!.raw)));
    runOk('openssl', [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      f('detached.p7'),
      '-content',
      f('content.bin'),
      '-CAfile',
      f('ca.pem'),
      '-purpose',
      'any',
      '-out',
      f('verified.bin'),
    ]);
    // A wrong content is refused by openssl too (messageDigest over the content octets).
    const other = sig.spc.contentOctets.slice();
    other[other.length - 1]! ^= 1;
    writeFileSync(f('content-bad.bin'), other);
    const bad = run('openssl', [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      f('detached.p7'),
      '-content',
      f('content-bad.bin'),
      '-CAfile',
      f('ca.pem'),
      '-purpose',
      'any',
      '-out',
      f('verified.bin'),
    ]);
    expect(bad.status).not.toBe(0);
  });

  test('a PSS signature with MGF1-SHA-512 over SHA-256 (made by openssl dgst) verifies with us and openssl cms', () => {
    const key = readFileSync(f('leaf.key'), 'utf8');
    const ours = extractSignature(signImage(image, { certificate: leaf(), key, pss: true }));
    const si = parseAuthenticodeSignature(ours).signerInfo;
    writeFileSync(f('attrs.der'), si.signedAttrsDer!);
    runOk('openssl', [
      'dgst',
      '-sha256',
      '-sigopt',
      'rsa_padding_mode:pss',
      '-sigopt',
      'rsa_pss_saltlen:32',
      '-sigopt',
      'rsa_mgf1_md:sha512',
      '-sign',
      f('leaf.key'),
      '-out',
      f('attrs.sig'),
      f('attrs.der'),
    ]);
    const p7 = ours.slice();
    p7.set(readFileSync(f('attrs.sig')), si.signature.byteOffset - ours.byteOffset);
    const mgfAt = Buffer.from(p7).lastIndexOf(Buffer.from(MGF1_SHA256_OID));
    p7[mgfAt + MGF1_SHA256_OID.length - 1] = 0x03; // the MGF1 hash parameter: SHA-512
    const s = parseAuthenticodeSignature(p7);
    expect(parseRsaPssParameters(s.signerInfo.signatureParameters)).toMatchObject({
      hash: 'sha256',
      mgf1Hash: 'sha512',
    });
    const v = verifyImage(embedSignature(image, p7), { trust: [ca] });
    expect(v.signatures[0]!.failures).toEqual([]);
    // openssl cms agrees on the same SignerInfo (content detached, as above).
    const eci = children(children(children(parseDer(p7, 'test', true))[1]!)[0]!)[2]!;
    writeFileSync(f('mgf.p7'), withEncapContent(p7, derSequence(children(eci)[0]!.raw)));
    writeFileSync(f('mgf-content.bin'), s.spc.contentOctets);
    runOk('openssl', [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      f('mgf.p7'),
      '-content',
      f('mgf-content.bin'),
      '-CAfile',
      f('ca.pem'),
      '-purpose',
      'any',
      '-out',
      f('verified.bin'),
    ]);
  });

  test.each(['32', 'max'])(
    'an Authenticode PSS signer made by openssl cms (salt %s) verifies with us',
    (salt) => {
      const spc = encodeSpcIndirectData('sha256', authenticodeDigest(image));
      writeFileSync(f('spc.bin'), contentOctets(spc));
      runOk('openssl', [
        'cms',
        '-sign',
        '-binary',
        '-in',
        f('spc.bin'),
        '-signer',
        f('leaf.pem'),
        '-inkey',
        f('leaf.key'),
        '-md',
        'sha256',
        '-keyopt',
        'rsa_padding_mode:pss',
        '-keyopt',
        `rsa_pss_saltlen:${salt}`,
        '-econtent_type',
        OID.spcIndirectData,
        '-nosmimecap',
        '-outform',
        'DER',
        '-out',
        f('ossl.p7'),
      ]);
      // openssl signs detached; the SpcIndirectDataContent goes back in as Authenticode's [0] SEQUENCE.
      const p7 = new Uint8Array(readFileSync(f('ossl.p7')));
      const eci = children(children(children(parseDer(p7))[1]!)[0]!)[2]!;
      const signed = embedSignature(
        image,
        withEncapContent(p7, derSequence(children(eci)[0]!.raw, derExplicit(0, spc))),
      );
      const v = verifyImage(signed, { trust: [ca] });
      expect(v.signatures[0]!.failures).toEqual([]);
      expect(v.trusted).toBe(true);
      const s = parseAuthenticodeSignature(extractSignature(signed));
      expect(s.signerInfo.signatureAlgorithm).toBe(OID.rsaPss);
      if (salt === '32') expect(parseRsaPssParameters(s.signerInfo.signatureParameters).saltLength).toBe(32);
      // Tampering the image now shows as a digest mismatch only.
      const t = signed.slice();
      t[0x200]! ^= 1;
      expect(verifyImage(t, { trust: [ca] }).signatures[0]!.failures.map((x) => x.code)).toEqual([
        'DIGEST_MISMATCH',
      ]);
    },
  );
});
