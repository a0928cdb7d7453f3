import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk } from '@lsvm/testkit';
import {
  extractSignature,
  imageSignatures,
  parseCertificatePemOrDer,
  parsePe,
  removeSignature,
  signImage,
  verifyImage,
  authenticodeDigest,
  parseAuthenticodeSignature,
} from '../src/index.js';
import { BINARIES, type TestPki, haveBinaries, makePki } from './helpers/fixtures.js';
import { makePe, pattern } from './helpers/make-pe.js';

describeWithPeers(['openssl', 'sbsign', 'sbverify', 'osslsigncode', 'pesign'], 'signing interop', () => {
  let pki: TestPki;
  let input: Uint8Array;
  beforeAll(() => {
    pki = makePki();
    // The unsigned shim when present (the padding case), else a synthetic image of odd length.
    input = haveBinaries(BINARIES.shim)
      ? new Uint8Array(readFileSync(BINARIES.shim))
      : makePe({ sections: [{ name: '.text', data: pattern(5000) }], trailingZeros: 3 });
  });
  afterAll(() => pki?.cleanup());
  const f = (n: string): string => join(pki.dir, n);
  const cert = (p: string) => parseCertificatePemOrDer(readFileSync(p));
  const sbverify = (file: string) => run('sbverify', ['--cert', pki.caPem, file]);
  const osslVerify = (file: string) => run('osslsigncode', ['verify', '-CAfile', pki.caPem, '-in', file]);

  test('an RSA signature we make verifies with sbverify, osslsigncode and pesign', () => {
    const out = signImage(input, { certificate: cert(pki.rsaCert), key: readFileSync(pki.rsaKey, 'utf8') });
    writeFileSync(f('ours-rsa.efi'), out);
    expect(out.length % 8).toBe(0);
    const pe = parsePe(out);
    expect(pe.checksum.matches).toBe(true);
    const e = pe.certificateTable!.entries[0]!;
    expect(e.length).toBe(8 + extractSignature(out).length); // dwLength left unpadded
    expect(sbverify(f('ours-rsa.efi')).stdout).toContain('Signature verification OK');
    const o = osslVerify(f('ours-rsa.efi'));
    expect(o.status).toBe(0);
    expect(o.stdout).toContain('Signature verification: ok');
    const p = run('pesign', ['-S', '-i', f('ours-rsa.efi')]);
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('common name is lsvm rsa signer');
    // The signature is what real signers build: version 1, SEQUENCE content, the four attributes.
    const sig = parseAuthenticodeSignature(extractSignature(out));
    expect(sig.signedData.version).toBe(1);
    expect(sig.signerInfo.signedAttrs!.map((a) => a.type).sort()).toEqual(
      [
        '1.2.840.113549.1.9.3',
        '1.2.840.113549.1.9.4',
        '1.3.6.1.4.1.311.2.1.11',
        '1.3.6.1.4.1.311.2.1.12',
      ].sort(),
    );
    expect(Buffer.from(sig.spc.digest).equals(authenticodeDigest(input))).toBe(true);
    expect(verifyImage(out, { trust: [cert(pki.caPem)] }).trusted).toBe(true);
    expect(verifyImage(out, { trust: [cert(pki.otherCaPem)] }).reason?.code).toBe('UNTRUSTED_CHAIN');
  });

  test('an ECDSA signature we make verifies with osslsigncode and with us', () => {
    const out = signImage(input, { certificate: cert(pki.ecCert), key: readFileSync(pki.ecKey) });
    writeFileSync(f('ours-ec.efi'), out);
    const o = osslVerify(f('ours-ec.efi'));
    expect(o.stdout).toContain('Signature verification: ok');
    expect(verifyImage(out, { trust: [cert(pki.caPem)] }).trusted).toBe(true);
  });

  test('SHA-384 and SHA-512 image digests', () => {
    for (const algorithm of ['sha384', 'sha512'] as const) {
      const out = signImage(input, {
        certificate: cert(pki.rsaCert),
        key: readFileSync(pki.rsaKey, 'utf8'),
        algorithm,
      });
      writeFileSync(f(`ours-${algorithm}.efi`), out);
      expect(osslVerify(f(`ours-${algorithm}.efi`)).stdout).toContain('Signature verification: ok');
      const v = verifyImage(out, { trust: [cert(pki.caPem)] });
      expect(v.trusted).toBe(true);
      expect(v.signatures[0]!.digestAlgorithm).toBe(algorithm);
    }
  });

  test('sbsign and osslsigncode signatures verify with us', () => {
    writeFileSync(f('in.efi'), input);
    runOk('sbsign', ['--key', pki.rsaKey, '--cert', pki.rsaCert, '--output', f('sb.efi'), f('in.efi')]);
    runOk('osslsigncode', [
      'sign',
      '-certs',
      pki.rsaCert,
      '-key',
      pki.rsaKey,
      '-h',
      'sha256',
      '-in',
      f('in.efi'),
      '-out',
      f('oss.efi'),
    ]);
    // osslsigncode's "Current message digest" of what it signed is our padded digest of the input.
    const ov = run('osslsigncode', ['verify', '-in', f('oss.efi')]);
    const cur = /Current message digest\s*:\s*([0-9A-F]+)/.exec(ov.stdout)![1]!.toLowerCase();
    expect(cur).toBe(Buffer.from(authenticodeDigest(input)).toString('hex'));
    for (const n of ['sb.efi', 'oss.efi']) {
      const b = new Uint8Array(readFileSync(f(n)));
      const v = verifyImage(b, { trust: [cert(pki.caPem)] });
      expect({ n, trusted: v.trusted, failures: v.signatures[0]?.failures }).toEqual({
        n,
        trusted: true,
        failures: [],
      });
    }
  });

  test('two signatures (ours, then sbsign) verify with both tools and with us; remove and extract', () => {
    const ours = signImage(input, { certificate: cert(pki.rsaCert), key: readFileSync(pki.rsaKey, 'utf8') });
    writeFileSync(f('one.efi'), ours);
    runOk('sbsign', ['--key', pki.ecKey, '--cert', pki.ecCert, '--output', f('two.efi'), f('one.efi')]);
    const two = new Uint8Array(readFileSync(f('two.efi')));
    const pe = parsePe(two);
    expect(pe.certificateTable!.entries).toHaveLength(2);
    expect(imageSignatures(pe).map((s) => s.signature?.signer?.subject)).toEqual([
      'CN=lsvm rsa signer',
      'CN=lsvm ec signer',
    ]);
    const v = verifyImage(two, { trust: [cert(pki.caPem)] });
    expect(v.signatures.map((s) => s.trusted)).toEqual([true, true]);
    expect(sbverify(f('two.efi')).stdout).toContain('Signature verification OK');
    // pesign lists both signers.
    const p = run('pesign', ['-S', '-i', f('two.efi')]);
    expect(p.stdout).toContain('lsvm rsa signer');
    expect(p.stdout).toContain('lsvm ec signer');
    // Appending a third signature with us keeps the others.
    const three = signImage(two, { certificate: cert(pki.ecCert), key: readFileSync(pki.ecKey) });
    expect(verifyImage(three, { trust: [cert(pki.caPem)] }).signatures.map((s) => s.trusted)).toEqual([
      true,
      true,
      true,
    ]);
    // Remove the first: the sbsign signature remains and still verifies with sbverify.
    const rest = removeSignature(two, 0);
    writeFileSync(f('rest.efi'), rest);
    expect(imageSignatures(parsePe(rest)).map((s) => s.signature?.signer?.subject)).toEqual([
      'CN=lsvm ec signer',
    ]);
    expect(sbverify(f('rest.efi')).stdout).toContain('Signature verification OK');
    // Remove all: the image is unsigned again, padded to 8, with a valid checksum.
    const none = removeSignature(two);
    const pn = parsePe(none);
    expect(pn.certificateTable).toBeUndefined();
    expect(pn.checksum.matches).toBe(true);
    expect(authenticodeDigest(none)).toEqual(authenticodeDigest(input));
    // Extract gives the DER SignedData sbverify would read.
    writeFileSync(f('sig1.p7'), extractSignature(two, 1));
    const asn = runOk('openssl', ['pkcs7', '-inform', 'DER', '-in', f('sig1.p7'), '-print_certs', '-noout']);
    expect(asn).toContain('lsvm ec signer');
  });

  test('page hashes (osslsigncode -ph) are parsed and ignored', () => {
    writeFileSync(f('in-ph.efi'), input);
    runOk('osslsigncode', [
      'sign',
      '-ph',
      '-certs',
      pki.rsaCert,
      '-key',
      pki.rsaKey,
      '-h',
      'sha256',
      '-in',
      f('in-ph.efi'),
      '-out',
      f('ph.efi'),
    ]);
    const b = new Uint8Array(readFileSync(f('ph.efi')));
    const sig = imageSignatures(parsePe(b))[0]!.signature!;
    expect(sig.spc.peImage?.pageHashes?.algorithm).toBe('sha256');
    expect(sig.spc.peImage!.pageHashes!.bytes).toBeGreaterThan(0);
    expect(verifyImage(b, { trust: [cert(pki.caPem)] }).trusted).toBe(true);
  });

  test('a signature osslsigncode nests inside ours (1.3.6.1.4.1.311.2.4.1) verifies with both', () => {
    const ours = signImage(input, { certificate: cert(pki.rsaCert), key: readFileSync(pki.rsaKey, 'utf8') });
    writeFileSync(f('outer.efi'), ours);
    runOk('osslsigncode', [
      'sign',
      '-nest',
      '-certs',
      pki.ecCert,
      '-key',
      pki.ecKey,
      '-h',
      'sha384',
      '-in',
      f('outer.efi'),
      '-out',
      f('nested.efi'),
    ]);
    const b = new Uint8Array(readFileSync(f('nested.efi')));
    const v = verifyImage(b, { trust: [cert(pki.caPem)] });
    expect(v.signatures.map((s) => [s.path, s.digestAlgorithm, s.trusted])).toEqual([
      ['0', 'sha256', true],
      ['0.0', 'sha384', true],
    ]);
    const o = osslVerify(f('nested.efi'));
    expect(o.status).toBe(0);
    expect(o.stdout).toContain('Number of verified signatures: 2');
  });

  test('a leaf whose EKU lacks code signing is refused with its own reason', () => {
    const out = signImage(input, {
      certificate: cert(pki.serverCert),
      key: readFileSync(pki.serverKey, 'utf8'),
    });
    const v = verifyImage(out, { trust: [cert(pki.caPem)] });
    expect(v.trusted).toBe(false);
    expect(v.signatures[0]!.failures.map((x) => x.code)).toEqual(['EKU_NOT_CODE_SIGNING']);
    expect(verifyImage(out, { trust: [cert(pki.caPem)], requireCodeSigningEku: false }).trusted).toBe(true);
  });
});
