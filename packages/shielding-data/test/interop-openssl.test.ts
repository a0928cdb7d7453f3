import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@lsvm/core';
import { describeWithPeers, runBytes, runOk, tempDir } from '@lsvm/testkit';
import {
  type CborValue,
  createFsk,
  createPdk,
  decodeCanonical,
  encodeCanonical,
  exportGuardian,
  generateGuardian,
  guardianToPem,
  encodeKeyProtector,
  keyProtectorToCbor,
  parseFsk,
  parseKeyProtector,
  parsePdk,
  signData,
  unwrapTransportKey,
} from '../src/index.js';
import { vectorDir, vectorGuardians } from './vectors.js';

/**
 * The openssl command line re-does each cryptographic step of the formats from the format
 * document alone: OAEP unwrap, ECDH-ES + HKDF + AES key unwrap, owner signatures (RSA and ECDSA).
 */
describeWithPeers(['openssl'], 'shielding-data crypto re-done with openssl(1)', () => {
  const t = tempDir('lsvm-sd-openssl-');
  afterAll(() => t.cleanup());
  const p = (f: string) => join(t.path, f);
  const pdkBytes = new Uint8Array(readFileSync(join(vectorDir, 'vector.pdk')));
  const pdk = parsePdk(pdkBytes);
  const tk = '5fa949b41a0b3fe2cb93e97c3ee87bf5e83cb26613ed0b3d42c4d2940ec66ac8';

  test('openssl pkeyutl OAEP-SHA256 unwraps the owner wrapping to the transport key', () => {
    writeFileSync(p('w0.bin'), pdk.keyProtector.wrappings[0]!.wrappedKey);
    const out = runBytes('openssl', [
      'pkeyutl',
      '-decrypt',
      '-inkey',
      join(vectorDir, 'owner/encryption.key.pem'),
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      'rsa_oaep_md:sha256',
      '-pkeyopt',
      'rsa_mgf1_md:sha256',
      '-in',
      p('w0.bin'),
    ]);
    expect(toHex(new Uint8Array(out))).toBe(tk);
  });

  test('openssl ECDH derive + HKDF + id-aes256-wrap unwraps the fabric wrapping', () => {
    const w = pdk.keyProtector.wrappings[1]!;
    writeFileSync(p('epk.der'), w.ephemeralKey!);
    writeFileSync(p('kw.bin'), w.wrappedKey);
    runOk('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', p('epk.der'), '-out', p('epk.pem')]);
    const z = runBytes('openssl', [
      'pkeyutl',
      '-derive',
      '-inkey',
      join(vectorDir, 'fabric/encryption.key.pem'),
      '-peerkey',
      p('epk.pem'),
    ]);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const info =
      toHex(new TextEncoder().encode('lsvm key-protector ecdh-es+a256kw v1')) +
      sha(w.ephemeralKey!) +
      sha(w.guardian.encryptionCertificate);
    const kek = runOk('openssl', [
      'kdf',
      '-keylen',
      '32',
      '-kdfopt',
      'digest:SHA256',
      '-kdfopt',
      `hexkey:${toHex(new Uint8Array(z))}`,
      '-kdfopt',
      'salt:',
      '-kdfopt',
      `hexinfo:${info}`,
      'HKDF',
    ])
      .trim()
      .replace(/:/g, '');
    const out = runBytes('openssl', [
      'enc',
      '-d',
      '-id-aes256-wrap',
      '-K',
      kek,
      '-iv',
      'A6A6A6A6A6A6A6A6',
      '-in',
      p('kw.bin'),
    ]);
    expect(toHex(new Uint8Array(out))).toBe(tk);
  });

  test('openssl dgst verifies the RSA owner signature of the vector PDK', () => {
    const m = decodeCanonical(pdkBytes, 'PDK', 1 << 26) as Record<string, CborValue>;
    const { ownerSignature, ...rest } = m;
    writeFileSync(p('tbs.bin'), encodeCanonical(['lsvm pdk v1', rest]));
    writeFileSync(p('sig.bin'), ownerSignature as Uint8Array);
    runOk('openssl', [
      'x509',
      '-in',
      join(vectorDir, 'owner/signing.crt.pem'),
      '-pubkey',
      '-noout',
      '-out',
      p('owner.pub'),
    ]);
    expect(
      runOk('openssl', [
        'dgst',
        '-sha256',
        '-verify',
        p('owner.pub'),
        '-signature',
        p('sig.bin'),
        p('tbs.bin'),
      ]),
    ).toContain('Verified OK');
  });

  test.each(['p256', 'p384'] as const)(
    'openssl dgst verifies an ECDSA %s owner signature (r‖s → DER)',
    (alg) => {
      const owner = generateGuardian(`ec-${alg}`, { algorithm: alg });
      const bytes = createPdk({
        owner,
        guardians: [exportGuardian(vectorGuardians().fabric)],
        viqs: [],
        secrets: { files: [], credentials: [], sshKeys: [] },
      });
      const m = decodeCanonical(bytes, 'PDK', 1 << 26) as Record<string, CborValue>;
      const { ownerSignature, ...rest } = m;
      const sig = ownerSignature as Uint8Array;
      const half = sig.length / 2;
      const int = (b: Uint8Array) => {
        let i = 0;
        while (i < b.length - 1 && b[i] === 0) i++;
        const v = b.subarray(i);
        return Buffer.concat([
          Buffer.from([0x02, v.length + (v[0]! & 0x80 ? 1 : 0)]),
          v[0]! & 0x80 ? Buffer.from([0]) : Buffer.alloc(0),
          v,
        ]);
      };
      const body = Buffer.concat([int(sig.subarray(0, half)), int(sig.subarray(half))]);
      const der = Buffer.concat([
        Buffer.from(body.length < 128 ? [0x30, body.length] : [0x30, 0x81, body.length]),
        body,
      ]);
      writeFileSync(p(`tbs-${alg}.bin`), encodeCanonical(['lsvm pdk v1', rest]));
      writeFileSync(p(`sig-${alg}.der`), der);
      writeFileSync(p(`cert-${alg}.pem`), guardianToPem(owner).signingCertificate);
      runOk('openssl', [
        'x509',
        '-in',
        p(`cert-${alg}.pem`),
        '-pubkey',
        '-noout',
        '-out',
        p(`pub-${alg}.pem`),
      ]);
      const md = alg === 'p256' ? '-sha256' : '-sha384';
      expect(
        runOk('openssl', [
          'dgst',
          md,
          '-verify',
          p(`pub-${alg}.pem`),
          '-signature',
          p(`sig-${alg}.der`),
          p(`tbs-${alg}.bin`),
        ]),
      ).toContain('Verified OK');
    },
  );

  test('wrappings made by openssl (OAEP encrypt; ECDH + HKDF + AES key wrap) unwrap with our reader', () => {
    const { owner, fabric } = vectorGuardians();
    const kp = pdk.keyProtector;
    // Owner wrapping: OAEP-SHA256 ciphertext from openssl pkeyutl.
    writeFileSync(p('tk.bin'), Buffer.from(tk, 'hex'));
    runOk('openssl', [
      'x509',
      '-in',
      join(vectorDir, 'owner/encryption.crt.pem'),
      '-pubkey',
      '-noout',
      '-out',
      p('oenc.pub'),
    ]);
    const w0 = runBytes('openssl', [
      'pkeyutl',
      '-encrypt',
      '-pubin',
      '-inkey',
      p('oenc.pub'),
      '-pkeyopt',
      'rsa_padding_mode:oaep',
      '-pkeyopt',
      'rsa_oaep_md:sha256',
      '-pkeyopt',
      'rsa_mgf1_md:sha256',
      '-in',
      p('tk.bin'),
    ]);
    // Fabric wrapping: openssl's own ephemeral key, shared secret, HKDF and key wrap.
    runOk('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      p('eph.pem'),
    ]);
    const epk = runBytes('openssl', ['pkey', '-in', p('eph.pem'), '-pubout', '-outform', 'DER']);
    runOk('openssl', [
      'x509',
      '-in',
      join(vectorDir, 'fabric/encryption.crt.pem'),
      '-pubkey',
      '-noout',
      '-out',
      p('fenc.pub'),
    ]);
    const z = runBytes('openssl', ['pkeyutl', '-derive', '-inkey', p('eph.pem'), '-peerkey', p('fenc.pub')]);
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const info =
      toHex(new TextEncoder().encode('lsvm key-protector ecdh-es+a256kw v1')) +
      sha(epk) +
      sha(fabric.encryptionCertificate);
    const kek = runOk('openssl', [
      'kdf',
      '-keylen',
      '32',
      '-kdfopt',
      'digest:SHA256',
      '-kdfopt',
      `hexkey:${toHex(new Uint8Array(z))}`,
      '-kdfopt',
      'salt:',
      '-kdfopt',
      `hexinfo:${info}`,
      'HKDF',
    ])
      .trim()
      .replace(/:/g, '');
    const w1 = runBytes('openssl', [
      'enc',
      '-id-aes256-wrap',
      '-K',
      kek,
      '-iv',
      'A6A6A6A6A6A6A6A6',
      '-in',
      p('tk.bin'),
    ]);
    const wrappings = [
      { ...kp.wrappings[0]!, wrappedKey: new Uint8Array(w0) },
      { ...kp.wrappings[1]!, ephemeralKey: new Uint8Array(epk), wrappedKey: new Uint8Array(w1) },
    ];
    // MAC and owner signature exactly as the format document defines them.
    const wcbor = (keyProtectorToCbor({ ...kp, wrappings }) as { wrappings: CborValue }).wrappings;
    const macKey = runOk('openssl', [
      'kdf',
      '-keylen',
      '32',
      '-kdfopt',
      'digest:SHA256',
      '-kdfopt',
      `hexkey:${tk}`,
      '-kdfopt',
      'salt:',
      '-kdfopt',
      'info:lsvm key-protector wrapping-mac v1',
      'HKDF',
    ])
      .trim()
      .replace(/:/g, '');
    writeFileSync(p('mac.in'), encodeCanonical(['lsvm key-protector wrappings v1', wcbor]));
    const mac = new Uint8Array(
      runBytes('openssl', [
        'dgst',
        '-sha256',
        '-mac',
        'HMAC',
        '-macopt',
        `hexkey:${macKey}`,
        '-binary',
        p('mac.in'),
      ]),
    );
    const ownerSignature = signData(
      owner.signingKey,
      encodeCanonical(['lsvm key-protector v1', 1, wcbor, mac]),
    );
    const rebuilt = parseKeyProtector(
      encodeKeyProtector({ version: 1, wrappings, wrappingMac: mac, ownerSignature }),
    );
    expect(toHex(unwrapTransportKey(rebuilt, fabric))).toBe(tk);
    expect(toHex(unwrapTransportKey(rebuilt, owner))).toBe(tk);
  });

  test('openssl dgst verifies the FSK vector signature', () => {
    const fsk = parseFsk(new Uint8Array(readFileSync(join(vectorDir, 'vector.fsk'))));
    writeFileSync(
      p('fsk.tbs'),
      encodeCanonical(['lsvm fsk v1', fsk.pairs.map((x) => [x.name, x.value]), fsk.signature!.certificate]),
    );
    writeFileSync(p('fsk.sig'), fsk.signature!.value);
    runOk('openssl', [
      'x509',
      '-in',
      join(vectorDir, 'owner/signing.crt.pem'),
      '-pubkey',
      '-noout',
      '-out',
      p('o.pub'),
    ]);
    expect(
      runOk('openssl', ['dgst', '-sha256', '-verify', p('o.pub'), '-signature', p('fsk.sig'), p('fsk.tbs')]),
    ).toContain('Verified OK');
    expect(createFsk(fsk.pairs, { signer: vectorGuardians().owner })).toEqual(
      new Uint8Array(readFileSync(join(vectorDir, 'vector.fsk'))),
    );
  });
});
