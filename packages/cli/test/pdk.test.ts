import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/** guardian, pdk and fsk groups, end to end through the CLI. */
describe('lsvm guardian / pdk / fsk', () => {
  const t = tempDir('lsvm-pdk-cli-');
  const p = (f: string) => join(t.path, f);
  afterAll(() => t.cleanup());

  test('the whole flow: guardians, create, show, open, grant, revoke, exit codes', async () => {
    for (const [n, alg] of [
      ['owner', 'p256'],
      ['fabric', 'p384'],
      ['other', 'p256'],
    ])
      expect((await lsvm(['guardian', 'new', '--name', n!, '--out', p(n!), '--alg', alg!])).code).toBe(0);
    expect((await lsvm(['guardian', 'export', p('fabric'), '--out', p('fabric.json')])).code).toBe(0);
    expect(readFileSync(p('fabric.json'), 'utf8')).not.toMatch(/PRIVATE/);
    const shown = JSON.parse((await lsvm(['guardian', 'show', p('owner'), '--json'])).stdout);
    expect(shown.privateKeys).toBe(true);
    expect(JSON.stringify(shown)).not.toMatch(/PRIVATE/);

    writeFileSync(p('user-data'), '#cloud-config\nhostname: vm1\n');
    writeFileSync(p('motd'), 'hello\n');
    writeFileSync(p('pw'), 'S3cret-pw\n');
    const viq = `name=Ubuntu*,version=1.0,rule=GreaterThanOrEquals,signer=${shown.signing.thumbprint}`;
    const created = await lsvm([
      'pdk',
      'create',
      '--owner',
      p('owner'),
      '--guardian',
      p('fabric.json'),
      '--viq',
      viq,
      '--answer-file',
      p('user-data'),
      '--file',
      p('motd'),
      '--credential',
      `root=${p('pw')}`,
      '--policy',
      'encryption-supported',
      '--out',
      p('vm.pdk'),
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).policy).toBe('EncryptionSupported');

    const show = await lsvm(['pdk', 'show', p('vm.pdk'), '--json']);
    expect(show.code).toBe(0);
    const view = JSON.parse(show.stdout);
    expect(view.verified).toBe(true);
    expect(view.guardians.map((g: { name: string }) => g.name)).toEqual(['owner', 'fabric']);
    expect(show.stdout).not.toMatch(/cloud-config/);

    const open = await lsvm(['pdk', 'open', p('vm.pdk'), '--guardian-key', p('fabric'), '--out', p('sec')]);
    expect(open.code).toBe(0);
    expect(readFileSync(p('sec/answer-file/user-data'), 'utf8')).toContain('hostname: vm1');
    expect(open.stdout).not.toMatch(/hostname/);
    expect(JSON.parse(readFileSync(p('sec/credentials.json'), 'utf8'))).toEqual([
      { user: 'root', password: 'S3cret-pw' },
    ]);
    expect(open.stdout + show.stdout + created.stdout).not.toMatch(/S3cret/);

    const denied = await lsvm(['pdk', 'open', p('vm.pdk'), '--guardian-key', p('other'), '--out', p('sec2')]);
    expect(denied.code).toBe(5);
    expect(denied.stderr).toMatch(/KP_NOT_AUTHORISED/);

    expect((await lsvm(['guardian', 'export', p('other'), '--out', p('other.json')])).code).toBe(0);
    expect(
      (
        await lsvm([
          'pdk',
          'grant',
          p('vm.pdk'),
          '--owner',
          p('fabric'),
          '--guardian',
          p('other.json'),
          '--out',
          p('x.pdk'),
        ])
      ).code,
    ).toBe(5);
    expect(
      (
        await lsvm([
          'pdk',
          'grant',
          p('vm.pdk'),
          '--owner',
          p('owner'),
          '--guardian',
          p('other.json'),
          '--out',
          p('vm2.pdk'),
        ])
      ).code,
    ).toBe(0);
    expect(
      (await lsvm(['pdk', 'open', p('vm2.pdk'), '--guardian-key', p('other'), '--out', p('sec3')])).code,
    ).toBe(0);
    expect(
      (
        await lsvm([
          'pdk',
          'revoke',
          p('vm2.pdk'),
          '--owner',
          p('owner'),
          '--guardian',
          'fabric',
          '--out',
          p('vm3.pdk'),
        ])
      ).code,
    ).toBe(0);
    expect(
      (await lsvm(['pdk', 'open', p('vm3.pdk'), '--guardian-key', p('fabric'), '--out', p('sec4')])).code,
    ).toBe(5);

    // A flipped byte: show still prints the clear parts but exits 1.
    const bad = readFileSync(p('vm.pdk'));
    bad[bad.length - 20]! ^= 1;
    writeFileSync(p('bad.pdk'), bad);
    const badShow = await lsvm(['pdk', 'show', p('bad.pdk')]);
    expect(badShow.code).toBe(1);
    expect(badShow.stdout).toMatch(/DO NOT VERIFY/);
    expect((await lsvm(['pdk', 'show', p('user-data')])).code).toBe(3);
    expect(
      (await lsvm(['pdk', 'create', '--owner', p('owner'), '--policy', 'bogus', '--out', p('y.pdk')])).code,
    ).toBe(2);
  }, 60_000);

  test('fsk create and show, signed and tampered', async () => {
    if ((await lsvm(['guardian', 'show', p('owner')])).code !== 0)
      expect(
        (await lsvm(['guardian', 'new', '--name', 'owner', '--out', p('owner'), '--alg', 'p256'])).code,
      ).toBe(0);
    const c = await lsvm([
      'fsk',
      'create',
      '--set',
      '@ComputerName@=vm1',
      '--set',
      '@IP4Addr-1@=192.0.2.1/24',
      '--sign',
      p('owner'),
      '--out',
      p('a.fsk'),
    ]);
    expect(c.code).toBe(0);
    const s = await lsvm(['fsk', 'show', p('a.fsk'), '--json']);
    expect(s.code).toBe(0);
    const v = JSON.parse(s.stdout);
    expect(v.verified).toBe(true);
    expect(v.pairs).toEqual([
      { name: '@ComputerName@', value: 'vm1' },
      { name: '@IP4Addr-1@', value: '192.0.2.1/24' },
    ]);
    const b = readFileSync(p('a.fsk'));
    b[b.length - 5]! ^= 1;
    writeFileSync(p('b.fsk'), b);
    expect((await lsvm(['fsk', 'show', p('b.fsk')])).code).toBe(1);
    expect((await lsvm(['fsk', 'create', '--set', 'ComputerName=vm1', '--out', p('c.fsk')])).code).toBe(3);
  });
});
