import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, tempDir } from '@lsvm/testkit';
import { SRK_PERSISTENT_HANDLE, type SwtpmInstance, startSwtpm } from '@lsvm/tpm2-marshal';
import { lsvm } from './helpers.js';

/** Flattens tpm2_print / `lsvm tpm2 decode` YAML into `key.sub: value` pairs. */
function flat(yaml: string): Map<string, string> {
  const out = new Map<string, string>();
  let parent = '';
  for (const line of yaml.split('\n')) {
    const m = /^(\s*)([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, indent, k, v] = m;
    if (indent!.length === 0) parent = k!;
    const key = indent!.length === 0 ? k! : `${parent}.${k}`;
    if (v!.length > 0) out.set(key, v!.trim());
  }
  return out;
}

describeWithPeers(['swtpm', 'tpm2_print', 'tpm2_unseal', 'tpm2_rc_decode'], 'lsvm tpm2', () => {
  let sw: SwtpmInstance;
  let tmp: { path: string; cleanup: () => void };
  const f = (n: string): string => join(tmp.path, n);
  const tools = (cmd: string, args: string[], input?: string) =>
    run(cmd, args, {
      env: { ...process.env, TPM2TOOLS_TCTI: sw.tcti },
      ...(input !== undefined ? { input } : {}),
    });
  const ok = (cmd: string, args: string[], input?: string): string => {
    const r = tools(cmd, args, input);
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    sw = await startSwtpm();
    tmp = tempDir('lsvm-cli-tpm2-');
    ok('tpm2_createprimary', ['-C', 'o', '-c', f('srk.ctx'), '-Q']);
    ok('tpm2_evictcontrol', ['-C', 'o', '-c', f('srk.ctx'), String(SRK_PERSISTENT_HANDLE), '-Q']);
    ok('tpm2_flushcontext', ['-t']);
    ok('tpm2_pcrextend', [`7:sha256=${'3c'.repeat(32)}`]);
  });
  afterAll(async () => {
    await sw?.stop();
    tmp?.cleanup();
  });

  test('pcrread: human and --json agree with tpm2_pcrread', async () => {
    const r = await lsvm(['tpm2', 'pcrread', '--tcti', sw.tcti, 'sha256:0,7,11']);
    expect(r.code).toBe(0);
    const theirs = ok('tpm2_pcrread', ['sha256:0,7,11']);
    expect(r.stdout.trim()).toBe(theirs.trim());
    const j = await lsvm(['--json', 'tpm2', 'pcrread', '--tcti', sw.tcti, 'sha256:7']);
    expect(JSON.parse(j.stdout)).toEqual([
      { bank: 'sha256', pcr: 7, value: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
  });

  test('seal → tpm2_load + tpm2_unseal; tpm2_create → unseal; wrong auth exits 5', async () => {
    writeFileSync(f('secret'), 'cli secret');
    const s = await lsvm([
      '--json',
      'tpm2',
      'seal',
      '--tcti',
      sw.tcti,
      '--pcrs',
      'sha256:7,11',
      '--in',
      f('secret'),
      '--public',
      f('o.pub'),
      '--private',
      f('o.priv'),
    ]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).policyDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(s.stdout).not.toContain('cli secret');
    ok('tpm2_load', [
      '-C',
      String(SRK_PERSISTENT_HANDLE),
      '-u',
      f('o.pub'),
      '-r',
      f('o.priv'),
      '-c',
      f('o.ctx'),
      '-Q',
    ]);
    expect(tools('tpm2_unseal', ['-c', f('o.ctx'), '-p', 'pcr:sha256:7,11']).stdout).toBe('cli secret');
    ok('tpm2_flushcontext', ['-t']);

    ok('tpm2_startauthsession', ['-S', f('s.ctx')]);
    ok('tpm2_policypcr', ['-S', f('s.ctx'), '-l', 'sha256:7,11', '-L', f('pol'), '-Q']);
    ok('tpm2_flushcontext', [f('s.ctx')]);
    ok(
      'tpm2_create',
      [
        '-C',
        String(SRK_PERSISTENT_HANDLE),
        '-L',
        f('pol'),
        '-i',
        '-',
        '-u',
        f('t.pub'),
        '-r',
        f('t.priv'),
        '-Q',
      ],
      'from tpm2-tools',
    );
    ok('tpm2_flushcontext', ['-t']);
    const u = await lsvm([
      'tpm2',
      'unseal',
      '--tcti',
      sw.tcti,
      '--public',
      f('t.pub'),
      '--private',
      f('t.priv'),
      '--pcrs',
      'sha256:7,11',
    ]);
    expect(u.code).toBe(0);
    expect(u.stdout).toBe('from tpm2-tools');
    const o = await lsvm([
      'tpm2',
      'unseal',
      '--tcti',
      sw.tcti,
      '--public',
      f('t.pub'),
      '--private',
      f('t.priv'),
      '--pcrs',
      'sha256:7,11',
      '--out',
      f('t.out'),
    ]);
    expect(o.code).toBe(0);
    expect(readFileSync(f('t.out'), 'utf8')).toBe('from tpm2-tools');

    await lsvm([
      'tpm2',
      'seal',
      '--tcti',
      sw.tcti,
      '--pcrs',
      'sha256:7',
      '--in',
      f('secret'),
      '--public',
      f('a.pub'),
      '--private',
      f('a.priv'),
      '--auth',
      'pw',
    ]);
    const good = await lsvm([
      'tpm2',
      'unseal',
      '--tcti',
      sw.tcti,
      '--public',
      f('a.pub'),
      '--private',
      f('a.priv'),
      '--pcrs',
      'sha256:7',
      '--auth',
      'str:pw',
    ]);
    expect(good.stdout).toBe('cli secret');
    const bad = await lsvm([
      'tpm2',
      'unseal',
      '--tcti',
      sw.tcti,
      '--public',
      f('a.pub'),
      '--private',
      f('a.priv'),
      '--pcrs',
      'sha256:7',
      '--auth',
      'nope',
    ]);
    expect(bad.code).toBe(5);
    expect(bad.stderr).toMatch(/TPM2_RC_AUTH_FAIL|TPM_RC_AUTH_FAIL/);
    // A PCR change: the policy fails (exit 5, TPM_RC_POLICY_FAIL).
    ok('tpm2_pcrextend', [`11:sha256=${'11'.repeat(32)}`]);
    const pf = await lsvm([
      'tpm2',
      'unseal',
      '--tcti',
      sw.tcti,
      '--public',
      f('t.pub'),
      '--private',
      f('t.priv'),
      '--pcrs',
      'sha256:7,11',
    ]);
    expect(pf.code).toBe(5);
    expect(pf.stderr).toContain('TPM_RC_POLICY_FAIL (session 1)');
  });

  test('policy-pcr equals tpm2_policypcr, from a tpm2_pcrread -o file and from the TPM', async () => {
    ok('tpm2_pcrread', ['sha256:7,11', '-o', f('pcrs.bin')]);
    ok('tpm2_startauthsession', ['-S', f('t.ctx')]);
    ok('tpm2_policypcr', [
      '-S',
      f('t.ctx'),
      '-l',
      'sha256:7,11',
      '-f',
      f('pcrs.bin'),
      '-L',
      f('p.bin'),
      '-Q',
    ]);
    ok('tpm2_flushcontext', [f('t.ctx')]);
    const want = readFileSync(f('p.bin')).toString('hex');
    const a = await lsvm(['tpm2', 'policy-pcr', '--pcrs', 'sha256:7,11', '--pcr-values', f('pcrs.bin')]);
    expect(a.stdout.trim()).toBe(want);
    const b = await lsvm(['tpm2', 'policy-pcr', '--pcrs', 'sha256:7,11', '--tcti', sw.tcti]);
    expect(b.stdout.trim()).toBe(want);
    const none = await lsvm(['tpm2', 'policy-pcr', '--pcrs', 'sha256:7,11']);
    expect(none.code).toBe(2);
  });

  test('decode TPM2B_PUBLIC agrees with tpm2_print for RSA, ECC and sealed-data objects', async () => {
    ok('tpm2_readpublic', ['-c', String(SRK_PERSISTENT_HANDLE), '-o', f('srk.pub'), '-Q']);
    ok('tpm2_createprimary', ['-C', 'o', '-G', 'ecc256', '-c', f('ecc.ctx'), '-Q']);
    ok('tpm2_readpublic', ['-c', f('ecc.ctx'), '-o', f('ecc.pub'), '-Q']);
    ok('tpm2_flushcontext', ['-t']);
    for (const file of ['srk.pub', 'ecc.pub', 't.pub', 'o.pub']) {
      const theirs = flat(ok('tpm2_print', ['-t', 'TPM2B_PUBLIC', f(file)]));
      const r = await lsvm(['tpm2', 'decode', 'TPM2B_PUBLIC', f(file)]);
      expect(r.code).toBe(0);
      const ours = flat(r.stdout);
      let common = 0;
      for (const [k, v] of theirs) {
        if (!ours.has(k)) continue;
        common++;
        expect(`${k}: ${ours.get(k)}`).toBe(`${k}: ${v}`);
      }
      expect(common).toBeGreaterThanOrEqual(file.endsWith('srk.pub') || file === 'ecc.pub' ? 12 : 7);
    }
    const j = await lsvm(['--json', 'tpm2', 'decode', 'TPM2B_PUBLIC', f('srk.pub')]);
    expect(JSON.parse(j.stdout)).toMatchObject({ type: 1, typeName: 'rsa', nameAlg: 11 });
    const priv = await lsvm(['tpm2', 'decode', 'TPM2B_PRIVATE', f('t.priv')]);
    expect(priv.code).toBe(0);
    writeFileSync(f('sel'), Buffer.from('00000001000b03800800', 'hex'));
    expect((await lsvm(['tpm2', 'decode', 'TPML_PCR_SELECTION', f('sel')])).stdout.trim()).toBe(
      'sha256:7,11',
    );
    writeFileSync(f('bad'), Buffer.from('00000001000b02800800', 'hex'));
    const bad = await lsvm(['tpm2', 'decode', 'TPML_PCR_SELECTION', f('bad')]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('TPM2_BAD_VALUE');
    expect((await lsvm(['tpm2', 'decode', 'NOPE', f('bad')])).code).toBe(2);
  });

  test('rc agrees with tpm2_rc_decode on a spread of codes', async () => {
    for (const code of ['0x99d', '0x1d5', '0x28b', '0x922', '0x128', '0x143', '0x98e', '0x921']) {
      const ours = await lsvm(['--json', 'tpm2', 'rc', code]);
      const d = JSON.parse(ours.stdout);
      const theirs = run('tpm2_rc_decode', [code]).stdout.trim();
      expect(theirs).toContain(d.description);
      if (d.subject) expect(theirs).toContain(`${d.subject.type}(${d.subject.index})`);
    }
    expect((await lsvm(['tpm2', 'rc', 'zz'])).code).toBe(2);
  });
});
