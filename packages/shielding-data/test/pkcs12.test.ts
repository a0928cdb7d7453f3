import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, LimitError, LsvmError, UnsupportedError } from '@lsvm/core';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import {
  type GuardianKeys,
  createPdk,
  exportGuardian,
  generateGuardian,
  guardianToPem,
  importGuardianPfx,
  openPdk,
  readPdk,
  readPfx,
} from '../src/index.js';
import { vectorGuardians } from './vectors.js';

/** Runs `f` and returns what it rejects with (fails the test if it resolves). */
async function rejected(f: () => Promise<unknown>): Promise<Error & { code?: string; kind?: string }> {
  try {
    await f();
  } catch (e) {
    return e as Error & { code?: string; kind?: string };
  }
  throw new Error('expected a rejection');
}

const PASSWORD = 'pfx-Passw0rd';

/**
 * PKCS#12 files made by `openssl pkcs12 -export` (OpenSSL 3 default: PBES2/PBKDF2-HMAC-SHA256/
 * AES-256-CBC, HMAC-SHA256 MAC; and -legacy), imported as guardians and used end to end.
 */
describeWithPeers(['openssl'], 'guardian import from PKCS#12 made by openssl', () => {
  const t = tempDir('lsvm-sd-pfx-');
  afterAll(() => t.cleanup());
  const p = (f: string) => join(t.path, f);
  const read = (f: string) => new Uint8Array(readFileSync(p(f)));
  writeFileSync(p('pw'), `${PASSWORD}\n`);

  /** Writes `key`+`cert` PEM and has openssl pack them; returns the .pfx file name. */
  function exportPfx(tag: string, keyPem: string, certPem: string, extra: string[] = []): string {
    writeFileSync(p(`${tag}.key`), keyPem, { mode: 0o600 });
    writeFileSync(p(`${tag}.crt`), certPem);
    const out = `${tag}.pfx`;
    runOk('openssl', [
      'pkcs12',
      '-export',
      '-inkey',
      p(`${tag}.key`),
      '-in',
      p(`${tag}.crt`),
      '-passout',
      `file:${p('pw')}`,
      '-out',
      p(out),
      ...extra,
    ]);
    return out;
  }

  function exportGuardianPfx(g: GuardianKeys, tag: string, extra: string[] = []): [string, string] {
    const pem = guardianToPem(g);
    return [
      exportPfx(`${tag}-s`, pem.signingKey, pem.signingCertificate, extra),
      exportPfx(`${tag}-e`, pem.encryptionKey, pem.encryptionCertificate, extra),
    ];
  }

  const { owner, fabric } = vectorGuardians();
  const p384 = generateGuardian('p384 fabric', { algorithm: 'p384' });

  test.each([
    ['RSA-2048', owner],
    ['P-256', fabric],
    ['P-384', p384],
  ] as const)('%s: a signing and an encryption .pfx import as the same guardian', async (tag, g) => {
    const [s, e] = exportGuardianPfx(g, tag);
    expect(runOk('openssl', ['pkcs12', '-in', p(s), '-info', '-noout', '-passin', `file:${p('pw')}`])).toBe(
      '',
    );
    const back = await importGuardianPfx(
      g.name,
      {
        pfx: read(s),
        password: PASSWORD,
      },
      { encryption: { pfx: read(e), password: new TextEncoder().encode(PASSWORD) } },
    );
    expect(back.signingCertificate).toEqual(g.signingCertificate);
    expect(back.encryptionCertificate).toEqual(g.encryptionCertificate);
    expect(back.signingKey.export({ format: 'jwk' })).toEqual(g.signingKey.export({ format: 'jwk' }));
    expect(back.encryptionKey.export({ format: 'jwk' })).toEqual(g.encryptionKey.export({ format: 'jwk' }));
  });

  test('imported guardians work end to end: owner and fabric of a PDK, opened with the imported keys', async () => {
    const [os, oe] = exportGuardianPfx(owner, 'e2e-owner');
    const [fs, fe] = exportGuardianPfx(p384, 'e2e-fabric');
    const o = await importGuardianPfx(
      'Owner from pfx',
      { pfx: read(os), password: PASSWORD },
      {
        encryption: { pfx: read(oe), password: PASSWORD },
      },
    );
    const f = await importGuardianPfx(
      'Fabric from pfx',
      { pfx: read(fs), password: PASSWORD },
      {
        encryption: { pfx: read(fe), password: PASSWORD },
      },
    );
    const pdk = createPdk({
      owner: o,
      guardians: [exportGuardian(f)],
      policy: 'Shielded',
      viqs: [],
      secrets: {
        answerFile: { name: 'user-data', data: new TextEncoder().encode('#cloud-config\n') },
        files: [],
        credentials: [],
        sshKeys: [],
      },
    });
    expect(readPdk(pdk).problem).toBeUndefined();
    expect(new TextDecoder().decode(openPdk(pdk, f).secrets.answerFile!.data)).toBe('#cloud-config\n');
    expect(openPdk(pdk, o).secrets.answerFile!.name).toBe('user-data');
  });

  test('one .pfx whose certificate allows signing and key agreement serves both roles', async () => {
    runOk('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      p('both.key'),
    ]);
    const cert = (usage: string, out: string) =>
      runOk('openssl', [
        'req',
        '-new',
        '-x509',
        '-key',
        p('both.key'),
        '-subj',
        '/CN=both/O=lsvm test',
        '-days',
        '30',
        '-addext',
        `keyUsage=critical,${usage}`,
        '-out',
        p(out),
      ]);
    cert('digitalSignature,keyAgreement', 'both.crt');
    const key = readFileSync(p('both.key'), 'utf8');
    const both = exportPfx('both', key, readFileSync(p('both.crt'), 'utf8'));
    const g = await importGuardianPfx('single', { pfx: read(both), password: PASSWORD });
    expect(g.signingCertificate).toEqual(g.encryptionCertificate);
    const pdk = createPdk({
      owner: fabric,
      guardians: [exportGuardian(g)],
      policy: 'EncryptionSupported',
      viqs: [],
      secrets: { files: [], credentials: [{ user: 'root', password: 'x' }], sshKeys: [] },
    });
    expect(openPdk(pdk, g).secrets.credentials[0]!.password).toBe('x');

    cert('digitalSignature', 'sign-only.crt');
    const signOnly = exportPfx('sign-only', key, readFileSync(p('sign-only.crt'), 'utf8'));
    const e = await rejected(() => importGuardianPfx('x', { pfx: read(signOnly), password: PASSWORD }));
    expect(e.code).toBe('GUARDIAN_KEY_USAGE');
  });

  test('an empty password (openssl -passout pass:) is the empty string, as OpenSSL reads it', async () => {
    const pem = guardianToPem(fabric);
    writeFileSync(p('empty.key'), pem.signingKey, { mode: 0o600 });
    writeFileSync(p('empty.crt'), pem.signingCertificate);
    runOk('openssl', [
      'pkcs12',
      '-export',
      '-inkey',
      p('empty.key'),
      '-in',
      p('empty.crt'),
      '-passout',
      'pass:',
      '-out',
      p('empty.pfx'),
    ]);
    const c = await readPfx(read('empty.pfx'), '');
    expect(c.certificates[0]!.der).toEqual(fabric.signingCertificate);
    expect((await rejected(() => readPfx(read('empty.pfx'), ' '))).code).toBe('PFX_MAC');
  });

  test('a wrong password is an AuthError (CLI exit 5), before any decryption', async () => {
    const [s] = exportGuardianPfx(fabric, 'wrong');
    const e = await rejected(() => readPfx(read(s), 'not the password'));
    expect(e).toBeInstanceOf(AuthError);
    expect(e.code).toBe('PFX_MAC');
    expect(e.message).not.toContain('not the password');
  });

  test('openssl -legacy (RC2-40 / 3DES, SHA-1 MAC) is refused naming the algorithm', async () => {
    const [s] = exportGuardianPfx(fabric, 'legacy', ['-legacy']);
    const e = await rejected(() => readPfx(read(s), PASSWORD));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.code).toBe('PFX_LEGACY_PBE');
    expect(e.message).toMatch(/RC2|TripleDES/);
    expect((await rejected(() => readPfx(read(s), 'wrong'))).code).toBe('PFX_MAC');
  });

  test('unencrypted bags under a MAC import; no MAC, no key or too many iterations are refused', async () => {
    const pem = guardianToPem(fabric);
    const clear = exportPfx('clear', pem.signingKey, pem.signingCertificate, [
      '-keypbe',
      'NONE',
      '-certpbe',
      'NONE',
    ]);
    const c = await readPfx(read(clear), PASSWORD);
    expect([c.keys.length, c.certificates.length]).toEqual([1, 1]);
    expect(c.keys[0]!.localKeyId).toBe(c.certificates[0]!.localKeyId);

    const nomac = exportPfx('nomac', pem.signingKey, pem.signingCertificate, ['-nomac']);
    expect((await rejected(() => readPfx(read(nomac), PASSWORD))).code).toBe('PFX_NO_MAC');

    writeFileSync(p('nokey.crt'), pem.signingCertificate);
    runOk('openssl', [
      'pkcs12',
      '-export',
      '-nokeys',
      '-in',
      p('nokey.crt'),
      '-passout',
      `file:${p('pw')}`,
      '-out',
      p('nokey.pfx'),
    ]);
    expect(
      (await rejected(() => importGuardianPfx('x', { pfx: read('nokey.pfx'), password: PASSWORD }))).code,
    ).toBe('PFX_NO_KEY');

    const slow = exportPfx('slow', pem.signingKey, pem.signingCertificate);
    const e = await rejected(() => readPfx(read(slow), PASSWORD, { maxPfxIterations: 1000 }));
    expect(e).toBeInstanceOf(LimitError);
    expect(e.code).toBe('PFX_ITERATIONS');
    expect((await rejected(() => readPfx(read(slow), PASSWORD, { maxPfxBytes: 100 }))).code).toBe('PFX_SIZE');
  });

  test('hostile files: every truncation and a flip in every 16th byte give typed errors only', async () => {
    const pem = guardianToPem(fabric);
    const bytes = read(
      exportPfx('hostile', pem.signingKey, pem.signingCertificate, ['-iter', '1', '-nomaciter']),
    );
    for (let n = 0; n < bytes.length; n += 7) {
      const e = await rejected(() => readPfx(bytes.subarray(0, n), PASSWORD));
      expect(e).toBeInstanceOf(LsvmError);
    }
    for (let i = 0; i < bytes.length; i += 16) {
      const b = bytes.slice();
      b[i]! ^= 0x20;
      try {
        await readPfx(b, PASSWORD);
      } catch (e) {
        expect(e).toBeInstanceOf(LsvmError);
      }
    }
  });
});
