import { existsSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { createCertificate } from '@lsvm/pe-authenticode';
import { makeSampleTemplate, protectTemplate } from '@lsvm/provisioning';
import {
  createFsk,
  createPdk,
  exportGuardian,
  generateGuardian,
  writeGuardianDir,
} from '@lsvm/shielding-data';
import { describeWithPeers, tempDir } from '@lsvm/testkit';
import { type SwtpmInstance, startSwtpm } from '@lsvm/tpm2-marshal';
import { lsvm } from './helpers.js';

/** `lsvm provision`: steps on stderr, --json report, refusal exit 1, no VM disk left on refusal. */
describeWithPeers(['mke2fs', 'swtpm'], 'lsvm provision', () => {
  const t = tempDir('lsvm-provision-cli-');
  const p = (f: string) => join(t.path, f);
  let sw: SwtpmInstance;
  beforeAll(async () => {
    sw = await startSwtpm();
    await makeSampleTemplate(p('t.vhdx'), { size: 128 * 1024 * 1024 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cert = createCertificate({
      subject: [['CN', 'signer']],
      publicKey: privateKey,
      issuerKey: privateKey,
    });
    const prot = await protectTemplate(p('t.vhdx'), {
      signer: { certificate: cert.der, privateKey },
      name: 'CLI Sample',
      version: '2.0.0.0',
      workers: 0,
    });
    const owner = generateGuardian('Owner', { algorithm: 'p256' });
    const fabric = generateGuardian('Fabric', { algorithm: 'p256' });
    writeGuardianDir(p('fabric'), fabric);
    const pdk = (version: string) =>
      createPdk({
        owner,
        guardians: [exportGuardian(fabric)],
        policy: 'Shielded',
        viqs: [{ name: 'CLI*', version, rule: 'GreaterThanOrEquals', signer: prot.signerThumbprint }],
        secrets: {
          answerFile: { name: 'user-data', data: new TextEncoder().encode('hostname: @ComputerName@\n') },
          files: [],
          credentials: [],
          sshKeys: [],
        },
      });
    writeFileSync(p('ok.pdk'), pdk('2.0'));
    writeFileSync(p('new.pdk'), pdk('3.0'));
    writeFileSync(p('vm.fsk'), createFsk([{ name: '@ComputerName@', value: 'cli-vm' }]));
  });
  afterAll(async () => {
    await sw?.stop();
    t.cleanup();
  });

  const args = (pdk: string, out: string, ...more: string[]) => [
    'provision',
    p('t.vhdx'),
    p(out),
    '--pdk',
    p(pdk),
    '--guardian-key',
    p('fabric'),
    '--tcti',
    sw.tcti,
    ...more,
  ];

  test('refused by the qualifier: exit 1, steps in --json, no VM disk', async () => {
    const r = await lsvm(args('new.pdk', 'no.vhdx', '--json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PROVISION_QUALIFIER_MISMATCH.*version 2\.0\.0\.0 is not at least 3\.0\.0\.0/);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false });
    expect(JSON.parse(r.stdout).steps.map((s: { status: string }) => s.status)).toEqual(['ok', 'refused']);
    expect(existsSync(p('no.vhdx'))).toBe(false);
  });

  test('provisions with --json; human mode prints one line per step', async () => {
    const r = await lsvm(args('ok.pdk', 'vm.vhdx', '--fsk', p('vm.fsk'), '--systemd-token', '--json'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.steps.map((s: { step: string }) => s.step)).toEqual([
      'shielding-data',
      'verify-template',
      'clone',
      'verify-volumes',
      'rekey',
      'seal',
      'systemd-token',
      'specialization',
      'lsvmconf',
    ]);
    expect(j.pcrs[7]).toMatch(/^[0-9a-f]{64}$/);
    // The root volume's systemd-tpm2 token: id and keyslot reported, with the policy, no secret.
    expect(j.systemdToken).toEqual({
      tokenId: 0,
      keyslot: expect.any(Number),
      pcrs: [7, 11],
      pcrBank: 'sha256',
      primaryAlg: 'ecc',
      policyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const h = await lsvm(args('ok.pdk', 'vm2.vhdx', '--clone', 'differencing', '--systemd-token'));
    expect(h.code).toBe(0);
    expect(h.stderr).toMatch(/^ {2}clone +ok .*\(differencing, 0 B copied\)$/m);
    expect(h.stdout).toMatch(/vm2\.vhdx: provisioned/);
    expect(h.stderr).toMatch(/^ {2}systemd-token +ok .*\(token 0, keyslot \d+\)$/m);
    expect(h.stdout).toMatch(/root systemd-tpm2 token 0 → keyslot \d+ \(PCRs 7\+11, sha256, ecc primary\)/);
    // A provisioned disk is no template any more.
    const c = await lsvm(['template', 'check', p('vm2.vhdx')]);
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(
      /TEMPLATE_BOOT_PASSPHRASE[\s\S]*TEMPLATE_SECRET_PRESENT|TEMPLATE_SECRET_PRESENT[\s\S]*TEMPLATE_BOOT_PASSPHRASE/,
    );
    expect((await lsvm(args('ok.pdk', 'x.vhdx', '--clone', 'linked'))).code).toBe(2);
  });
});
