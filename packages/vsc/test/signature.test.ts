import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@lsvm/core';
import fc from 'fast-check';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  type SignedCatalog,
  certificateThumbprint,
  createSignedCatalog,
  decodeSignedCatalog,
  encodeSignedCatalog,
  signCatalogBytes,
  verifyCatalogSignature,
} from '../src/index.js';
import { makeDisk } from './disk.js';
import { type Signer, type TestPki, makePki } from './pki.js';

let tmp: { path: string; cleanup: () => void };
let pki: TestPki;
let base: SignedCatalog;

async function build(
  signer: Signer,
  options: { padding?: 'pkcs1' | 'pss'; digest?: 'sha256' | 'sha384' | 'sha512'; chain?: Uint8Array[] } = {},
): Promise<SignedCatalog> {
  const d = makeDisk({ bootSectors: 64, rootSectors: 72 });
  return createSignedCatalog(
    {
      name: 'sig test',
      version: '1.0.0.0',
      disk: d.identity,
      volumes: [d.boot, d.root],
      created: new Date(),
    },
    { certificate: signer.cert, privateKey: signer.key, ...(options.chain ? { chain: options.chain } : {}) },
    {
      blockSize: 4096,
      workers: 0,
      ...(options.padding ? { padding: options.padding } : {}),
      ...(options.digest ? { digest: options.digest } : {}),
    },
  );
}

describeWithPeers(['openssl'], 'catalog signatures (openssl)', () => {
  beforeAll(async () => {
    tmp = tempDir('lsvm-vsc-sig-');
    pki = makePki(tmp.path);
    base = await build(pki.p256);
  });
  afterAll(() => tmp.cleanup());

  const opensslVerifies = (s: SignedCatalog): boolean => {
    writeFileSync(join(tmp.path, 'c.bin'), s.catalogBytes);
    writeFileSync(join(tmp.path, 's.der'), s.signature);
    const r = run('openssl', [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      join(tmp.path, 's.der'),
      '-content',
      join(tmp.path, 'c.bin'),
      '-CAfile',
      join(tmp.path, 'ca.pem'),
      '-purpose',
      'any',
      '-out',
      '/dev/null',
    ]);
    return r.status === 0 && /Verification successful/.test(r.stderr);
  };

  it.each<[string, keyof TestPki, 'pkcs1' | 'pss' | undefined, 'sha256' | 'sha384' | 'sha512' | undefined]>([
    ['RSA-2048 PKCS#1 v1.5', 'rsa', undefined, undefined],
    ['RSA-2048 PSS', 'rsa', 'pss', undefined],
    ['RSA-2048 PKCS#1 v1.5 SHA-512', 'rsa', 'pkcs1', 'sha512'],
    ['ECDSA P-256', 'p256', undefined, undefined],
    ['ECDSA P-384 (SHA-384)', 'p384', undefined, undefined],
  ])(
    '%s: openssl cms -verify accepts our detached signature, and so do we',
    async (_n, who, padding, digest) => {
      const s = await build(pki[who] as Signer, {
        ...(padding ? { padding } : {}),
        ...(digest ? { digest } : {}),
      });
      expect(opensslVerifies(s)).toBe(true);
      const v = verifyCatalogSignature(s.file, { trustAnchors: [pki.ca] });
      expect(v).toMatchObject({ valid: true, reason: 'ok' });
      expect(v.signer!.thumbprint).toBe(certificateThumbprint((pki[who] as Signer).cert));
      expect(v.chain!.map((c) => c.subject)).toEqual([v.signer!.subject, 'CN=lsvm test CA']);
    },
  );

  it('openssl rejects the signature once a catalog byte changes (the test can fail)', () => {
    const bad = { ...base, catalogBytes: base.catalogBytes.slice() };
    bad.catalogBytes[10]! ^= 1;
    expect(opensslVerifies(bad)).toBe(false);
  });

  it.each([
    ['RSA PKCS#1 v1.5', 'rsa', []],
    ['RSA PSS', 'rsa', ['-keyopt', 'rsa_padding_mode:pss']],
    ['ECDSA P-384', 'p384', []],
    ['without signed attributes', 'p256', ['-noattr']],
  ])('accepts a signature made by openssl cms -sign (%s)', (_n, who, extra) => {
    const s = pki[who as keyof TestPki] as Signer;
    writeFileSync(join(tmp.path, 'c.bin'), base.catalogBytes);
    runOk('openssl', [
      'cms',
      '-sign',
      '-binary',
      '-md',
      'sha256',
      '-in',
      join(tmp.path, 'c.bin'),
      '-signer',
      s.certPath,
      '-inkey',
      s.keyPath,
      '-outform',
      'DER',
      '-out',
      join(tmp.path, 'o.der'),
      ...(extra as string[]),
    ]);
    // The catalog names the P-256 signer; re-sign the catalog built for this signer instead.
    return build(s).then((own) => {
      writeFileSync(join(tmp.path, 'c.bin'), own.catalogBytes);
      runOk('openssl', [
        'cms',
        '-sign',
        '-binary',
        '-md',
        who === 'p384' ? 'sha384' : 'sha256',
        '-in',
        join(tmp.path, 'c.bin'),
        '-signer',
        s.certPath,
        '-inkey',
        s.keyPath,
        '-outform',
        'DER',
        '-out',
        join(tmp.path, 'o.der'),
        ...(extra as string[]),
      ]);
      const sig = new Uint8Array(require('node:fs').readFileSync(join(tmp.path, 'o.der')));
      const file = encodeSignedCatalog({ catalog: own.catalogBytes, signature: sig });
      expect(verifyCatalogSignature(file, { trustAnchors: [pki.ca] })).toMatchObject({
        valid: true,
        reason: 'ok',
      });
    });
  });

  it('flipping any byte of the catalog or the signature is a signature failure', () => {
    // Every byte would take minutes on a loaded machine; fast-check picks positions, half of them
    // in the signature (whose outer fields the signature does not cover), half anywhere.
    const file = base.file;
    const sigStart = file.length - decodeSignedCatalog(file).signature.length;
    const position = fc.oneof(fc.integer({ min: sigStart, max: file.length - 1 }), fc.nat(file.length - 1));
    fc.assert(
      fc.property(position, fc.integer({ min: 1, max: 255 }), (i, x) => {
        const m = file.slice();
        m[i]! ^= x;
        expect(verifyCatalogSignature(m, { trustAnchors: [pki.ca] }).valid).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('names an untrusted signer', async () => {
    const s = await build(pki.otherSigner);
    expect(verifyCatalogSignature(s.file, { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'untrusted',
    });
    expect(verifyCatalogSignature(s.file, { trustAnchors: [pki.otherCa] })).toMatchObject({ valid: true });
  });

  it('names an expired and a not-yet-valid signer', () => {
    const later = new Date(Date.now() + 20 * 365 * 86400_000);
    expect(verifyCatalogSignature(base.file, { trustAnchors: [pki.ca], time: later })).toMatchObject({
      valid: false,
      reason: 'expired',
    });
    const earlier = new Date(Date.now() - 2 * 86400_000);
    expect(verifyCatalogSignature(base.file, { trustAnchors: [pki.ca], time: earlier })).toMatchObject({
      valid: false,
      reason: 'not-yet-valid',
    });
  });

  it('names a certificate that does not allow digitalSignature, and refuses to sign with it', async () => {
    const s = pki.wrongUsage;
    await expect(build(s)).rejects.toMatchObject({ code: 'VSC_CERT_USAGE' });
    // openssl signs with it regardless; the verifier must catch it.
    const own = await buildUnchecked(s);
    expect(verifyCatalogSignature(own, { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'wrong-usage',
    });
  });

  it('names an issuer that is not a CA', async () => {
    const s = await build(pki.notCaSigner, { chain: [pki.notCa] });
    expect(verifyCatalogSignature(s.file, { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'wrong-usage',
    });
  });

  it('pins a signer by thumbprint, alone or with anchors', () => {
    const t = certificateThumbprint(pki.p256.cert);
    expect(verifyCatalogSignature(base.file, { signerThumbprint: t.toUpperCase() })).toMatchObject({
      valid: true,
    });
    expect(
      verifyCatalogSignature(base.file, { signerThumbprint: certificateThumbprint(pki.rsa.cert) }),
    ).toMatchObject({ valid: false, reason: 'thumbprint-mismatch' });
    expect(
      verifyCatalogSignature(base.file, { signerThumbprint: t, trustAnchors: [pki.otherCa] }),
    ).toMatchObject({ valid: false, reason: 'untrusted' });
    expect(() => verifyCatalogSignature(base.file, {})).toThrow(UsageError);
  });

  it('trusts a signer given directly as the anchor', () => {
    expect(verifyCatalogSignature(base.file, { trustAnchors: [pki.p256.cert] })).toMatchObject({
      valid: true,
      reason: 'ok',
    });
  });

  it('detects a signature moved onto another catalog signed by another key', async () => {
    const other = await build(pki.rsa);
    const swapped = encodeSignedCatalog({ catalog: other.catalogBytes, signature: base.signature });
    expect(verifyCatalogSignature(swapped, { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'bad-signature',
    });
    // A valid signature by A over a catalog that names B as its signer.
    const sig = signCatalogBytes(other.catalogBytes, {
      certificate: pki.p256.cert,
      privateKey: pki.p256.key,
    });
    const mismatch = encodeSignedCatalog({ catalog: other.catalogBytes, signature: sig });
    expect(verifyCatalogSignature(mismatch, { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'signer-mismatch',
    });
  });

  it('refuses a key that is not the certificate’s, and weak or unsupported keys', async () => {
    await expect(
      createSignedCatalog(
        { name: 'x', version: '1.0.0.0', disk: makeDisk().identity, volumes: [makeDisk().boot] },
        { certificate: pki.rsa.cert, privateKey: pki.p256.key },
      ),
    ).rejects.toMatchObject({ code: 'VSC_KEY_MISMATCH' });
    runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-keyout',
      join(tmp.path, 'weak.key'),
      '-out',
      join(tmp.path, 'weak.pem'),
      '-days',
      '30',
      '-subj',
      '/CN=weak',
    ]);
    const fs = require('node:fs');
    const weakPem = fs.readFileSync(join(tmp.path, 'weak.pem'), 'utf8');
    const weakDer = new Uint8Array(
      Buffer.from(
        /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END/.exec(weakPem)![1]!.replace(/\s+/g, ''),
        'base64',
      ),
    );
    expect(() =>
      signCatalogBytes(base.catalogBytes, {
        certificate: weakDer,
        privateKey: fs.readFileSync(join(tmp.path, 'weak.key')),
      }),
    ).toThrow(expect.objectContaining({ code: 'VSC_WEAK_KEY' }));
  });

  it('reports a garbage file or signature as malformed', () => {
    expect(verifyCatalogSignature(new Uint8Array([1, 2, 3]), { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'malformed',
    });
    const parts = decodeSignedCatalog(base.file);
    const junk = encodeSignedCatalog({
      catalog: parts.catalog,
      signature: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
    });
    expect(verifyCatalogSignature(junk, { trustAnchors: [pki.ca] })).toMatchObject({
      valid: false,
      reason: 'malformed',
    });
  });
});

/** A catalog signed by openssl with a certificate our signer refuses (wrong key usage). */
async function buildUnchecked(s: Signer): Promise<Uint8Array> {
  const d = makeDisk({ bootSectors: 64, rootSectors: 72 });
  const { buildCatalog, encodeCatalog } = await import('../src/index.js');
  const c = await buildCatalog(
    { name: 'x', version: '1.0.0.0', disk: d.identity, volumes: [d.boot], certificates: [s.cert] },
    { blockSize: 4096, workers: 0 },
  );
  const bytes = encodeCatalog(c);
  writeFileSync(join(tmp.path, 'u.bin'), bytes);
  runOk('openssl', [
    'cms',
    '-sign',
    '-binary',
    '-md',
    'sha256',
    '-in',
    join(tmp.path, 'u.bin'),
    '-signer',
    s.certPath,
    '-inkey',
    s.keyPath,
    '-outform',
    'DER',
    '-out',
    join(tmp.path, 'u.der'),
  ]);
  const sig = new Uint8Array(require('node:fs').readFileSync(join(tmp.path, 'u.der')));
  return encodeSignedCatalog({ catalog: bytes, signature: sig });
}
