import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authenticodeDigest, buildSignatureList } from '@lsvm/pe-authenticode';
import { withExtFs } from '@lsvm/provisioning';
import { rebootSwtpm, startSwtpm, type SwtpmInstance } from '@lsvm/tpm2-marshal';
import { describeWithPeers, sharedVectors, tempDir } from '@lsvm/testkit';
import { FileDevice } from '@lsvm/core';
import { mergedView, parseInitramfs } from '@lsvm/cpio';
import { partitionSlice, readGpt } from '@lsvm/gpt';
import { openLuks } from '@lsvm/luks2';
import { provisionFixture } from '../../provisioning/test/boot-fixture.js';
import { lsvm } from './helpers.js';

describeWithPeers(['swtpm', 'mke2fs'], 'lsvm boot', () => {
  const t = tempDir('lsvm-cli-boot-');
  let vm: string;
  let template: string;
  let sw: SwtpmInstance;

  // The same provisioned sample disk the provisioning package's boot tests use.
  beforeAll(async () => {
    sw = await startSwtpm();
    ({ vm, template } = await provisionFixture(t.path, sw));
  }, 120_000);
  /** A VM reboot: power cycle (PCRs back to zero), startup, DA counter cleared. */
  async function reboot(): Promise<void> {
    await (await rebootSwtpm(sw)).close();
  }
  afterAll(async () => {
    await sw?.stop();
    t.cleanup();
  });

  it('unlock: every step passes (exit 0), the keyed initrd is written 0600, no secret in the JSON', async () => {
    await reboot();
    const out = join(t.path, 'initrd.keyed');
    const r = await lsvm([
      'boot',
      'unlock',
      vm,
      '--tcti',
      sw.tcti,
      '--measure-firmware',
      '--initrd-out',
      out,
      '--cap-proof',
      'policy',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      ok: boolean;
      steps: { id: string; status: string; detail?: Record<string, unknown> }[];
    };
    expect(j.ok).toBe(true);
    expect(j.steps.find((s) => s.id === 'cap-pcr11')?.detail?.proof).toMatch(/differs from authPolicy/);
    expect(j.steps.map((s) => s.id)).toEqual([
      'measure-firmware',
      'read-lsvmconf',
      'measure-pcr11',
      'unseal',
      'cap-pcr11',
      'open-boot',
      'open-root',
      'specialize',
      'inject-initrd',
      'verify-chain',
    ]);
    const initrd = readFileSync(out);
    const keys = mergedView(await parseInitramfs(new Uint8Array(initrd))).filter((m) =>
      m.path.startsWith('etc/lsvmload/'),
    );
    expect(keys.map((k) => k.path).sort()).toEqual(['etc/lsvmload/bootkey', 'etc/lsvmload/rootkey']);
    for (const k of keys) {
      const secret = Buffer.from(k.data).toString('utf8');
      expect(secret.length).toBeGreaterThan(8);
      expect(r.stdout).not.toContain(secret);
      expect(r.stdout).not.toContain(Buffer.from(k.data).toString('hex'));
    }
    expect((await import('node:fs')).statSync(out).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('unlock again on the same TPM boot: the capped PCR 11 makes the unseal fail (exit 1, human table)', async () => {
    const r = await lsvm(['boot', 'unlock', vm, '--tcti', sw.tcti]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL +unseal/);
    expect(r.stdout).toMatch(/TPM2_RC_POLICY_FAIL/);
    expect(r.stdout).toMatch(/step\(s\) failed/);
  }, 60_000);

  it('validate: the VM disk passes; the template with its shim in --dbx fails naming shim', async () => {
    const ok = await lsvm(['boot', 'validate', vm]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/disk kind: vm/);
    // Read shim's digest from the template's boot volume (well-known passphrase) and revoke it.
    const disk = await FileDevice.open(template);
    const { table } = await readGpt(disk);
    const plain = await openLuks(
      partitionSlice(disk, table, 2, { readOnly: true }),
      new TextEncoder().encode('passphrase'),
      { readOnly: true },
    );
    const shim = await withExtFs(plain, (fs) => fs.readFile('/lsvmload/shimx64.efi'));
    await plain.close();
    await disk.close();
    const dbx = join(t.path, 'dbx.esl');
    writeFileSync(
      dbx,
      buildSignatureList({
        type: 'sha256',
        signatures: [
          {
            owner: '6c73766d-7465-4073-b400-0000000000cc',
            data: authenticodeDigest(shim, { algorithm: 'sha256' }),
          },
        ],
      }),
    );
    const bad = await lsvm(['boot', 'validate', template, '--dbx', dbx]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL +verify-shim/);
    expect(bad.stdout).toMatch(/BOOT_CHAIN_REVOKED: shim is revoked by dbx/);
  }, 60_000);

  it('apply-dbx-update: an update not signed by the KEK is refused (exit 1); usage errors exit 2', async () => {
    await reboot();
    const r = await lsvm([
      'boot',
      'apply-dbx-update',
      vm,
      '--tcti',
      sw.tcti,
      '--measure-firmware',
      '--update',
      join(sharedVectors, 'lsvmtools/dbxupdate.bin'),
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as {
      ok: boolean;
      steps: { id: string; status: string; error?: { code: string } }[];
    };
    expect(j.ok).toBe(false);
    expect(j.steps.find((s) => s.id === 'unseal')?.status).toBe('passed');
    expect(j.steps.find((s) => s.id === 'verify-update')?.error?.code).toBe('DBX_UPDATE_UNTRUSTED');
    expect((await lsvm(['boot', 'apply-dbx-update', vm, '--tcti', sw.tcti])).code).toBe(2);
    expect((await lsvm(['boot', 'unlock', vm, '--tcti', sw.tcti, '--cap-proof', 'maybe'])).code).toBe(2);
    const vars = join(t.path, 'vars');
    mkdirSync(vars);
    expect((await lsvm(['boot', 'validate', vm, '--secure-boot-vars', vars])).code).toBe(2);
  }, 60_000);
});
