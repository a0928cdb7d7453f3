import { join } from 'node:path';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/** `lsvm template make-sample / check / protect / verify`, exit codes and --json. */
describeWithPeers(['mke2fs', 'openssl'], 'lsvm template', () => {
  const t = tempDir('lsvm-template-cli-');
  const p = (f: string) => join(t.path, f);
  afterAll(() => t.cleanup());

  test('make-sample, check, protect, verify', async () => {
    const made = await lsvm(['template', 'make-sample', p('t.vhdx'), '--size', '128M', '--json']);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ format: 'vhdx', size: 128 * 1024 * 1024 });
    const human = await lsvm(['template', 'make-sample', p('t2.img'), '--size', '100M']);
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/SAMPLE_SIZE/);

    const checked = await lsvm(['template', 'check', p('t.vhdx'), '--json']);
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ clean: true, findings: [] });
    runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=cli signer',
      '-days',
      '2',
      '-keyout',
      p('k.pem'),
      '-out',
      p('c.pem'),
    ]);
    const untrusted = await lsvm(['template', 'check', p('t.vhdx'), '--trust', p('c.pem')]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/TEMPLATE_LOADER_UNTRUSTED/);

    const prot = await lsvm([
      'template',
      'protect',
      p('t.vhdx'),
      '--cert',
      p('c.pem'),
      '--key',
      p('k.pem'),
      '--name',
      'CLI Sample',
      '--template-version',
      '2.0.0.0',
      '--json',
    ]);
    expect(prot.stderr).toBe('');
    expect(prot.code).toBe(0);
    const thumb = JSON.parse(prot.stdout).signerThumbprint as string;
    expect(thumb).toMatch(/^[0-9a-f]{64}$/);
    const ok = await lsvm(['template', 'verify', p('t.vhdx'), '--trust', p('c.pem')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/valid — CLI Sample 2\.0\.0\.0 signed by CN=cli signer/);
    const wrong = await lsvm([
      'template',
      'verify',
      p('t.vhdx'),
      '--signer-thumbprint',
      '00'.repeat(32),
      '--json',
    ]);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).mismatches[0]).toMatch(/^catalog signature: /);
    expect((await lsvm(['template', 'verify', p('t.vhdx')])).code).toBe(2); // no trust given
    // A protected template still checks clean (the catalog is not a per-VM secret).
    expect((await lsvm(['template', 'check', p('t.vhdx')])).code).toBe(0);
    // --ca-cert/--ca-key: the generated loader is signed by that certificate.
    const own = await lsvm(
      ['template', 'make-sample', p('own.img'), '--size', '128M'].concat([
        '--ca-cert',
        p('c.pem'),
        '--ca-key',
        p('k.pem'),
      ]),
    );
    expect(own.code).toBe(0);
    expect(own.stdout).toMatch(/bootx64\.efi \(test-signed\)/);
    const trusted = await lsvm(['template', 'check', p('own.img'), '--trust', p('c.pem'), '--json']);
    expect(trusted.code).toBe(0);
    expect(JSON.parse(trusted.stdout).loader).toMatchObject({ trusted: true, signers: ['CN=cli signer'] });
    expect((await lsvm(['template', 'make-sample', p('x.img'), '--ca-cert', p('c.pem')])).code).toBe(2);
  });
});
