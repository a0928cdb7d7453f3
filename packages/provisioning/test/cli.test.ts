import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, repoRoot, runOk, tempDir } from '@lsvm/testkit';
import { type SwtpmInstance, startSwtpm } from '@lsvm/tpm2-marshal';

/**
 * `lsvm template …` and `lsvm provision` end to end, in-process from the CLI's sources. The CLI
 * is loaded by path (outside this package's TypeScript project): @lsvm/vsc pulls in ESM-only
 * pkijs/asn1js, which this package's jest config compiles and the CLI package's does not (yet).
 */
type RunCli = (argv: string[], io: unknown) => Promise<number>;
let runCli: RunCli;

beforeAll(async () => {
  const cli = join(repoRoot, 'packages', 'cli', 'src');
  const { groups } = (await import(join(cli, 'groups', 'index.ts'))) as { groups: { name: string }[] };
  for (const [file, name] of [
    ['template.ts', 'templateGroup'],
    ['provision.ts', 'provisionGroup'],
  ] as const) {
    const mod = (await import(join(cli, 'groups', file))) as Record<string, { name: string }>;
    const g = mod[name]!;
    if (!groups.some((x) => x.name === g.name)) groups.splice(Math.max(0, groups.length - 1), 0, g);
  }
  ({ runCli } = (await import(join(cli, 'index.ts'))) as { runCli: RunCli });
});

async function lsvm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: {
      write: (s: string | Uint8Array) => (stdout += typeof s === 'string' ? s : Buffer.from(s).toString()),
    },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => new Uint8Array(0),
    env: {},
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describeWithPeers(['mke2fs', 'openssl', 'swtpm'], 'lsvm template / lsvm provision', () => {
  const t = tempDir('lsvm-prov-cli-');
  const p = (f: string) => join(t.path, f);
  let sw: SwtpmInstance;
  beforeAll(async () => {
    sw = await startSwtpm();
  });
  afterAll(async () => {
    await sw?.stop();
    t.cleanup();
  });

  test('make-sample, check, protect, verify, provision; exit codes and --json', async () => {
    const made = await lsvm(['template', 'make-sample', p('t.vhdx'), '--size', '128M', '--json']);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ format: 'vhdx', size: 128 * 1024 * 1024 });

    const checked = await lsvm(['template', 'check', p('t.vhdx'), '--json']);
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ clean: true, findings: [] });
    runOk(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=cli signer', '-days', '2'].concat([
        '-keyout',
        p('k.pem'),
        '-out',
        p('c.pem'),
      ]),
    );
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
    expect(await lsvm(['template', 'verify', p('t.vhdx'), '--trust', p('c.pem')])).toMatchObject({ code: 0 });
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

    // Shielding data through the CLI too.
    for (const n of ['owner', 'fabric'])
      expect((await lsvm(['guardian', 'new', '--name', n, '--out', p(n), '--alg', 'p256'])).code).toBe(0);
    expect((await lsvm(['guardian', 'export', p('fabric'), '--out', p('fabric.json')])).code).toBe(0);
    writeFileSync(p('user-data'), '#cloud-config\nhostname: @ComputerName@\n');
    const pdk = (viq: string, out: string) =>
      lsvm(
        ['pdk', 'create', '--owner', p('owner'), '--guardian', p('fabric.json'), '--viq', viq].concat([
          '--answer-file',
          p('user-data'),
          '--out',
          out,
        ]),
      );
    expect((await pdk(`name=CLI*,version=2.0,rule=Equals,signer=${thumb}`, p('ok.pdk'))).code).toBe(0);
    expect((await pdk(`name=CLI*,version=3.0,rule=ge,signer=${thumb}`, p('new.pdk'))).code).toBe(0);
    expect((await lsvm(['fsk', 'create', '--set', '@ComputerName@=cli-vm', '--out', p('vm.fsk')])).code).toBe(
      0,
    );

    const refused = await lsvm(
      ['provision', p('t.vhdx'), p('no.vhdx'), '--pdk', p('new.pdk')].concat([
        '--guardian-key',
        p('fabric'),
        '--tcti',
        sw.tcti,
        '--json',
      ]),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /PROVISION_QUALIFIER_MISMATCH.*version 2\.0\.0\.0 is not at least 3\.0\.0\.0/,
    );
    expect(JSON.parse(refused.stdout).steps.map((s: { status: string }) => s.status)).toEqual([
      'ok',
      'refused',
    ]);
    expect(existsSync(p('no.vhdx'))).toBe(false);

    const ok = await lsvm(
      ['provision', p('t.vhdx'), p('vm.vhdx'), '--pdk', p('ok.pdk'), '--fsk', p('vm.fsk')].concat([
        '--guardian-key',
        p('fabric'),
        '--tcti',
        sw.tcti,
        '--json',
      ]),
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const r = JSON.parse(ok.stdout);
    expect(r.steps.map((s: { step: string }) => s.step)).toEqual([
      'shielding-data',
      'verify-template',
      'clone',
      'rekey',
      'seal',
      'specialization',
      'lsvmconf',
    ]);
    expect(r.pcrs[7]).toMatch(/^[0-9a-f]{64}$/);
    const human = await lsvm(['template', 'check', p('vm.vhdx')]);
    // A provisioned disk is no template: the well-known passphrase is gone and secrets are present.
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/TEMPLATE_BOOT_PASSPHRASE/);
    expect(human.stdout).toMatch(/TEMPLATE_SECRET_PRESENT/);
    expect(readFileSync(p('t.vhdx')).length).toBeGreaterThan(0);
  });
});
