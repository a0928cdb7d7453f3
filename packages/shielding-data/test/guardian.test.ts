import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LsvmError } from '@lsvm/core';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  encodeGuardianMetadata,
  exportGuardian,
  generateGuardian,
  guardianToPem,
  importGuardianPem,
  inspectGuardian,
  parseGuardianMetadata,
  readGuardianDir,
  readGuardianPublic,
  writeGuardianDir,
} from '../src/index.js';
import { thrown } from './helpers.js';
import { vectorGuardians } from './vectors.js';

describe('guardians', () => {
  const { owner, fabric } = vectorGuardians();

  test('generated guardians carry the requested keys and names', () => {
    for (const alg of ['p256', 'p384'] as const) {
      const g = generateGuardian('g', { algorithm: alg });
      const i = inspectGuardian(g);
      expect(i.signing.curve).toBe(alg === 'p256' ? 'P-256' : 'P-384');
      expect(i.encryption.curve).toBe(i.signing.curve);
      expect(i.signing.subject).toBe('CN=g signing');
      expect(i.encryption.issuer).toBe('CN=g signing');
      expect(i.id).toMatch(/^[0-9a-f]{64}$/);
    }
    const i = inspectGuardian(owner);
    expect([i.signing.keyType, i.signing.keyBits, i.encryption.keyBits]).toEqual(['rsa', 2048, 2048]);
  });

  test('PEM export/import round trip keeps keys and certificates', () => {
    const pem = guardianToPem(fabric);
    const back = importGuardianPem(pem);
    expect(back.signingCertificate).toEqual(fabric.signingCertificate);
    expect(back.encryptionKey.export({ format: 'jwk' })).toEqual(
      fabric.encryptionKey.export({ format: 'jwk' }),
    );
  });

  test('a private key that does not match its certificate is refused', () => {
    const pem = guardianToPem(fabric);
    const other = guardianToPem(generateGuardian('x', { algorithm: 'p256' }));
    expect(thrown(() => importGuardianPem({ ...pem, encryptionKey: other.encryptionKey })).code).toBe(
      'GUARDIAN_KEY_MISMATCH',
    );
  });

  test('metadata JSON round trip and hostile metadata', () => {
    const json = encodeGuardianMetadata(exportGuardian(owner));
    expect(json).not.toMatch(/PRIVATE/);
    const back = parseGuardianMetadata(json);
    expect(back).toEqual(exportGuardian(owner));
    for (const bad of [
      '',
      '{}',
      'null',
      '[1]',
      json.replace('lsvm-guardian', 'x'),
      json.replace(/"signingCertificate": "MII/, '"signingCertificate": "AAA'),
    ])
      expect(thrown(() => parseGuardianMetadata(bad))).toBeInstanceOf(LsvmError);
  });

  test('small RSA and other curves are unsupported', () => {
    const { generateKeyPairSync } = require('node:crypto') as typeof import('node:crypto');
    const k = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    const pem = guardianToPem(fabric);
    const e = thrown(() =>
      importGuardianPem({ ...pem, signingKey: k.export({ type: 'pkcs8', format: 'pem' }).toString() }),
    );
    expect(e).toBeInstanceOf(LsvmError);
  });

  test('guardian directories: write, read, refuse to overwrite', () => {
    const t = tempDir();
    try {
      const dir = join(t.path, 'g');
      writeGuardianDir(dir, fabric);
      expect(readGuardianDir(dir).name).toBe(fabric.name);
      expect(readGuardianPublic(dir)).toEqual(exportGuardian(fabric));
      writeFileSync(join(t.path, 'g.json'), encodeGuardianMetadata(fabric));
      expect(readGuardianPublic(join(t.path, 'g.json'))).toEqual(exportGuardian(fabric));
      expect(thrown(() => writeGuardianDir(dir, fabric)).code).toBe('GUARDIAN_DIR_EXISTS');
      expect(thrown(() => readGuardianDir(join(t.path, 'missing'))).code).toBe('GUARDIAN_DIR_READ');
    } finally {
      t.cleanup();
    }
  });
});

describeWithPeers(['openssl'], 'guardian certificates with openssl', () => {
  test.each(['p256', 'p384', 'rsa2048'] as const)(
    '%s: openssl parses both certificates and verifies the chain',
    (alg) => {
      const t = tempDir();
      try {
        const g =
          alg === 'rsa2048' ? vectorGuardians().owner : generateGuardian(`og-${alg}`, { algorithm: alg });
        const pem = guardianToPem(g);
        const sig = join(t.path, 's.pem');
        const encp = join(t.path, 'e.pem');
        writeFileSync(sig, pem.signingCertificate);
        writeFileSync(encp, pem.encryptionCertificate);
        expect(runOk('openssl', ['verify', '-CAfile', sig, sig])).toContain('OK');
        expect(runOk('openssl', ['verify', '-CAfile', sig, encp])).toContain('OK');
        const text = runOk('openssl', ['x509', '-in', encp, '-noout', '-text']);
        expect(text).toContain(alg === 'rsa2048' ? 'Key Encipherment' : 'Key Agreement');
        // openssl's own key matches the certificate openssl reads
        const k = join(t.path, 'k.pem');
        writeFileSync(k, pem.signingKey!);
        const a = runOk('openssl', ['pkey', '-in', k, '-pubout']);
        const b = runOk('openssl', ['x509', '-in', sig, '-noout', '-pubkey']);
        expect(a).toBe(b);
      } finally {
        t.cleanup();
      }
    },
  );

  test('certificates made by openssl import as a guardian', () => {
    const t = tempDir();
    try {
      const key = (n: string) => {
        runOk('openssl', [
          'genpkey',
          '-algorithm',
          'EC',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-out',
          join(t.path, `${n}.key`),
        ]);
        runOk('openssl', [
          'req',
          '-new',
          '-x509',
          '-key',
          join(t.path, `${n}.key`),
          '-subj',
          `/CN=${n}`,
          '-days',
          '30',
          '-out',
          join(t.path, `${n}.crt`),
        ]);
      };
      key('s');
      key('e');
      const fs = require('node:fs') as typeof import('node:fs');
      const r = (f: string) => fs.readFileSync(join(t.path, f), 'utf8');
      const g = importGuardianPem({
        name: 'openssl-made',
        signingCertificate: r('s.crt'),
        encryptionCertificate: r('e.crt'),
        signingKey: r('s.key'),
        encryptionKey: r('e.key'),
      });
      expect(inspectGuardian(g).signing.subject).toBe('CN=s');
      expect(run('openssl', ['version']).status).toBe(0);
    } finally {
      t.cleanup();
    }
  });
});
