import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/** `lsvm guardian import` with PKCS#12 files made by `openssl pkcs12 -export`. */
describeWithPeers(['openssl'], 'lsvm guardian import (PKCS#12)', () => {
  const t = tempDir('lsvm-guardian-cli-');
  const p = (f: string) => join(t.path, f);
  afterAll(() => t.cleanup());

  beforeAll(async () => {
    expect((await lsvm(['guardian', 'new', '--name', 'src', '--out', p('src'), '--alg', 'p256'])).code).toBe(
      0,
    );
    writeFileSync(p('pw'), 'Pfx-pass\n');
    writeFileSync(p('pw2'), 'other-pass\r\n');
    const pack = (role: string, pw: string, extra: string[] = []) =>
      runOk('openssl', [
        'pkcs12',
        '-export',
        '-inkey',
        p(`src/${role}.key.pem`),
        '-in',
        p(`src/${role}.crt.pem`),
        '-passout',
        `file:${p(pw)}`,
        '-out',
        p(`${role}${extra.length > 0 ? '-legacy' : ''}.pfx`),
        ...extra,
      ]);
    pack('signing', 'pw');
    pack('encryption', 'pw2');
    pack('signing', 'pw', ['-legacy']);
  });

  test('two files, two passwords: the guardian directory matches the source, and opens a PDK', async () => {
    const r = await lsvm([
      'guardian',
      'import',
      '--name',
      'imported',
      '--pfx',
      p('signing.pfx'),
      '--password-file',
      p('pw'),
      '--encryption-pfx',
      p('encryption.pfx'),
      '--encryption-password-file',
      p('pw2'),
      '--out',
      p('imported'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.sharedCertificate).toBe(false);
    expect(j.signing.keyUsage).toEqual(['digitalSignature', 'keyCertSign']);
    expect(r.stdout).not.toMatch(/PRIVATE|Pfx-pass/);
    for (const f of ['signing.crt.pem', 'encryption.crt.pem'])
      expect(readFileSync(p(`imported/${f}`), 'utf8')).toBe(readFileSync(p(`src/${f}`), 'utf8'));
    const shown = JSON.parse((await lsvm(['guardian', 'show', p('imported'), '--json'])).stdout);
    expect(shown.privateKeys).toBe(true);
    expect(shown.id).toBe(j.id);

    expect((await lsvm(['guardian', 'export', p('imported'), '--out', p('imported.json')])).code).toBe(0);
    expect(
      (await lsvm(['guardian', 'new', '--name', 'owner', '--out', p('owner'), '--alg', 'p256'])).code,
    ).toBe(0);
    writeFileSync(p('user-data'), '#cloud-config\n');
    const created = await lsvm([
      'pdk',
      'create',
      '--owner',
      p('owner'),
      '--guardian',
      p('imported.json'),
      '--viq',
      `name=Ubuntu*,version=1.0,rule=GreaterThanOrEquals,signer=${j.signing.thumbprint}`,
      '--answer-file',
      p('user-data'),
      '--out',
      p('vm.pdk'),
    ]);
    expect(created.code).toBe(0);
    const open = await lsvm(['pdk', 'open', p('vm.pdk'), '--guardian-key', p('imported'), '--out', p('sec')]);
    expect(open.code).toBe(0);
  });

  test('one file for both roles, password on stdin', async () => {
    const r = await lsvm(
      [
        'guardian',
        'import',
        '--name',
        'one',
        '--pfx',
        p('signing.pfx'),
        '--password-file',
        '-',
        '--out',
        p('one'),
      ],
      { stdin: new TextEncoder().encode('Pfx-pass\n') },
    );
    // The signing certificate's KeyUsage (digitalSignature, keyCertSign) does not allow key
    // agreement, so it cannot serve as the encryption certificate too.
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('GUARDIAN_KEY_USAGE');
  });

  test('exit codes: wrong password 5, legacy encryption 4, usage 2', async () => {
    const base = ['guardian', 'import', '--name', 'x', '--out', p('x')];
    const wrong = await lsvm([...base, '--pfx', p('signing.pfx'), '--password-file', p('pw2')]);
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toContain('PFX_MAC');
    expect(wrong.stderr).not.toContain('other-pass');
    const legacy = await lsvm([...base, '--pfx', p('signing-legacy.pfx'), '--password-file', p('pw')]);
    expect(legacy.code).toBe(4);
    expect(legacy.stderr).toMatch(/PFX_LEGACY_PBE.*RC2/);
    const usage = await lsvm([...base, '--pfx', p('signing.pfx'), '--encryption-password-file', p('pw')]);
    expect(usage.code).toBe(2);
  });
});
