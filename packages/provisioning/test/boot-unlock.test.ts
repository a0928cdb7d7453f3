import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FileDevice, forEachChunk } from '@lsvm/core';
import { partitionSlice, readGpt } from '@lsvm/gpt';
import { openLuks } from '@lsvm/luks2';
import {
  EFI_IMAGE_SECURITY_DATABASE_GUID,
  EFI_VARIABLE,
  SECURE_BOOT_VARIABLE_ATTRIBUTES,
  authenticodeDigest,
  buildAuthVariable,
  buildSignatureList,
  buildSignatureLists,
  createCertificate,
  parseSignatureLists,
  signatureDatabase,
} from '@lsvm/pe-authenticode';
import { type SwtpmInstance, type Tpm, startSwtpm } from '@lsvm/tpm2-marshal';
import { describeWithPeers, sharedVectors, tempDir } from '@lsvm/testkit';
import { generateKeyPairSync } from 'node:crypto';
import { DBX_UPDATE_PATH, applyDbxUpdate } from '../src/boot/dbx-update.js';
import { type ExtFs, withExtFs } from '../src/ext-fs.js';
import { bootUnlock } from '../src/boot/unlock.js';
import { validateBootPath } from '../src/boot/validate.js';
import { type SecureBootVars, defaultSecureBootVars } from '../src/secure-boot.js';
import { type ProvisionedFixture, extractPartition, provisionFixture, reboot } from './boot-fixture.js';

function sh(
  cmd: string,
  args: string[],
  input?: Uint8Array,
  cwd?: string,
): { status: number; out: string; bytes: Buffer } {
  const r = spawnSync(cmd, args, { input, cwd, maxBuffer: 256 * 1024 * 1024 });
  return {
    status: r.status ?? -1,
    out: `${r.stdout?.toString() ?? ''}${r.stderr?.toString() ?? ''}`,
    bytes: r.stdout,
  };
}

const OWNER = '6c73766d-7465-4073-b400-0000000000bb';
const stepsOf = (r: { steps: { id: string; status: string }[] }): Record<string, string> =>
  Object.fromEntries(r.steps.map((s) => [s.id, s.status]));

describeWithPeers(
  ['swtpm', 'cryptsetup', 'cpio', 'debugfs', 'e2fsck', 'mdir', 'mke2fs'],
  'boot unlock on a provisioned sample disk with swtpm',
  () => {
    const t = tempDir('lsvm-boot-');
    let sw: SwtpmInstance;
    let fx: ProvisionedFixture;
    let tpm: Tpm | undefined;
    const vars = defaultSecureBootVars();

    beforeAll(async () => {
      sw = await startSwtpm();
      fx = await provisionFixture(t.path, sw);
    }, 120_000);
    afterEach(async () => {
      await tpm?.close();
      tpm = undefined;
    });
    afterAll(async () => {
      await sw?.stop();
      t.cleanup();
    });

    async function unlock(v: SecureBootVars, keepInitrd = false, capProof?: 'unseal' | 'policy') {
      tpm = await reboot(sw);
      const disk = await FileDevice.open(fx.vm, { readOnly: false });
      try {
        return await bootUnlock(disk, {
          tpm,
          vars: v,
          measureFirmware: true,
          keepInitrd,
          ...(capProof ? { capProof } : {}),
        });
      } finally {
        await disk.close();
        // swtpm serves one connection at a time: release it before the next reboot.
        await tpm.close();
        tpm = undefined;
      }
    }

    let bootKey = '';
    let rootKey = '';

    it('first boot: every step passes, the cap blocks a second unseal, the keyed initrd opens both volumes', async () => {
      const r = await unlock(vars, true);
      expect(stepsOf(r.report)).toEqual({
        'measure-firmware': 'passed',
        'read-lsvmconf': 'passed',
        'measure-pcr11': 'passed',
        unseal: 'passed',
        'cap-pcr11': 'passed',
        'open-boot': 'passed',
        'open-root': 'passed',
        specialize: 'passed',
        'inject-initrd': 'passed',
        'verify-chain': 'passed',
      });
      expect(r.report.ok).toBe(true);
      const cap = r.report.steps.find((s) => s.id === 'cap-pcr11')!;
      expect(cap.detail?.secondUnseal).toBe('TPM2_RC_POLICY_FAIL');

      // The initrd, decompressed, lists the keys; cpio extracts them.
      const initrd = r.initrd!;
      const plain = initrd[0] === 0x1f ? gunzipSync(initrd) : Buffer.from(initrd);
      const names = sh('cpio', ['-it', '--quiet'], plain).out.split('\n');
      expect(names).toEqual(expect.arrayContaining(['etc/lsvmload/bootkey', 'etc/lsvmload/rootkey']));
      const x = join(t.path, 'initrd-x');
      mkdirSync(x);
      expect(sh('cpio', ['-id', '--quiet'], plain, x).status).toBe(0);
      bootKey = readFileSync(join(x, 'etc/lsvmload/bootkey'), 'utf8');
      rootKey = readFileSync(join(x, 'etc/lsvmload/rootkey'), 'utf8');
      expect(bootKey.length).toBeGreaterThan(8);
      // No secret in the report.
      const json = JSON.stringify(r.report);
      expect(json).not.toContain(bootKey);
      expect(json).not.toContain(rootKey);

      // cryptsetup accepts the passphrases; the well-known one no longer opens anything.
      const disk = await FileDevice.open(fx.vm);
      try {
        await extractPartition(disk, 1, join(t.path, 'esp.img'));
        await extractPartition(disk, 2, join(t.path, 'boot.luks'));
        await extractPartition(disk, 3, join(t.path, 'root.luks'));
      } finally {
        await disk.close();
      }
      for (const [img, key] of [
        ['boot.luks', bootKey],
        ['root.luks', rootKey],
      ] as const) {
        const kf = join(t.path, `${img}.key`);
        writeFileSync(kf, key);
        const ok = sh('cryptsetup', ['open', '--test-passphrase', '--key-file', kf, join(t.path, img)]);
        expect(ok.status).toBe(0);
        writeFileSync(kf, 'passphrase');
        expect(
          sh('cryptsetup', ['open', '--test-passphrase', '--key-file', kf, join(t.path, img)]).status,
        ).not.toBe(0);
      }

      // specialization.aes is gone from the ESP (mtools), its files are on the boot file system (debugfs).
      const listing = sh('mdir', ['-i', join(t.path, 'esp.img'), '-b', '::/EFI/boot']).out.toLowerCase();
      expect(listing).toContain('lsvmconf');
      expect(listing).toContain('sealedkeys');
      expect(listing).not.toContain('specialization');
      const bootPlain = join(t.path, 'boot.ext');
      {
        const src = await FileDevice.open(join(t.path, 'boot.luks'));
        const dev = await openLuks(src, new TextEncoder().encode(bootKey));
        const dst = await FileDevice.open(bootPlain, { create: true, size: dev.size });
        await forEachChunk(dev, (c, o) => dst.write(o, c));
        await dst.close();
        await dev.close();
        await src.close();
      }
      const ls = sh('debugfs', ['-R', 'ls -l /lsvmload/specialize', bootPlain]).out;
      expect(ls).toContain('specialize');
      expect(ls).toContain(fx.extraFile.name);
      expect(ls).toMatch(/100600/);
      const cat = sh('debugfs', ['-R', 'cat /lsvmload/specialize/specialize', bootPlain]).out;
      expect(cat).toContain('<unattend>');
      expect(sh('e2fsck', ['-fn', bootPlain]).status).toBe(0);
    }, 60_000);

    it('second boot: no specialization left, every other step passes again', async () => {
      const r = await unlock(vars, false, 'policy');
      const s = stepsOf(r.report);
      expect(s.specialize).toBe('skipped');
      // The cap proven by the TPM's own policy digest, without a DA-counted unseal failure.
      expect(r.report.steps.find((x) => x.id === 'cap-pcr11')?.detail?.proof).toMatch(
        /differs from authPolicy/,
      );
      expect(s.unseal).toBe('passed');
      expect(r.report.ok).toBe(true);
      expect(r.initrd).toBeUndefined();
    }, 30_000);

    it.each([
      [
        'db',
        (v: SecureBootVars): SecureBootVars => ({
          ...v,
          db: new Uint8Array([
            ...v.db,
            ...buildSignatureList({
              type: 'sha256',
              signatures: [{ owner: OWNER, data: new Uint8Array(32).fill(7) }],
            }),
          ]),
        }),
      ],
      [
        'dbx',
        (v: SecureBootVars): SecureBootVars => ({
          ...v,
          dbx: buildSignatureList({
            type: 'sha256',
            signatures: [{ owner: OWNER, data: new Uint8Array(32).fill(9) }],
          }),
        }),
      ],
      ['SecureBoot', (v: SecureBootVars): SecureBootVars => ({ ...v, secureBoot: 0 })],
    ])(
      'a changed %s makes the unseal fail with the policy error',
      async (_name, change) => {
        const r = await unlock(change(vars));
        const unseal = r.report.steps.find((s) => s.id === 'unseal')!;
        expect(unseal.status).toBe('failed');
        expect(unseal.error?.code).toBe('TPM2_RC_POLICY_FAIL');
        expect(r.report.ok).toBe(false);
        expect(stepsOf(r.report)['open-boot']).toBe('skipped');
      },
      30_000,
    );

    it('static validation: the VM disk is consistent; a revoked shim fails naming it', async () => {
      const disk = await FileDevice.open(fx.vm);
      try {
        const v = await validateBootPath(disk, { vars });
        expect(v.kind).toBe('vm');
        expect(v.ok).toBe(true);
        expect(stepsOf(v)).toMatchObject({
          sealedkeys: 'passed',
          'verify-loader': 'passed',
          'verify-shim': 'skipped',
        });
        const withKey = await validateBootPath(disk, {
          vars,
          bootPassphrase: new TextEncoder().encode(bootKey),
        });
        expect(stepsOf(withKey)).toMatchObject({ 'verify-shim': 'passed', 'verify-grub': 'passed' });
        const shim = withKey.chain!.find((l) => l.name === 'shim')!;
        const revoked = {
          ...vars,
          dbx: buildSignatureLists([
            { type: 'sha256', signatures: [{ owner: OWNER, data: Buffer.from(shim.sha256!, 'hex') }] },
          ]),
        };
        const bad = await validateBootPath(disk, {
          vars: revoked,
          bootPassphrase: new TextEncoder().encode(bootKey),
        });
        expect(bad.ok).toBe(false);
        const step = bad.steps.find((s) => s.id === 'verify-shim')!;
        expect(step.error?.code).toBe('BOOT_CHAIN_REVOKED');
        expect(step.error?.message).toMatch(/shim is revoked by dbx/);
        // The new dbx also changes PCR 7, so the sealed policy no longer matches the prediction.
        expect(bad.steps.find((s) => s.id === 'sealedkeys')!.status).toBe('failed');
        // The same revocation from an extra dbx file leaves the policy check alone.
        const extra = await validateBootPath(disk, {
          vars,
          extraDbx: signatureDatabase(parseSignatureLists(revoked.dbx)),
          bootPassphrase: new TextEncoder().encode(bootKey),
        });
        expect(stepsOf(extra)).toMatchObject({ sealedkeys: 'passed', 'verify-shim': 'failed' });
      } finally {
        await disk.close();
      }
      const tpl = await FileDevice.open(fx.template);
      try {
        const v = await validateBootPath(tpl, { vars });
        expect(v.kind).toBe('template');
        expect(stepsOf(v)).toMatchObject({
          'no-secrets': 'passed',
          'verify-shim': 'passed',
          'verify-grub': 'passed',
        });
      } finally {
        await tpl.close();
      }
    }, 60_000);

    it('dbx updates: a revoking one is refused, an untrusted one is refused, a harmless one reseals so the next boot unlocks', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const kek = createCertificate({
        subject: [['CN', 'boot test KEK']],
        publicKey: privateKey,
        issuerKey: privateKey,
      });
      const update = (hashes: Uint8Array[]): Uint8Array =>
        buildAuthVariable({
          name: 'dbx',
          vendorGuid: EFI_IMAGE_SECURITY_DATABASE_GUID,
          attributes: SECURE_BOOT_VARIABLE_ATTRIBUTES | EFI_VARIABLE.APPEND_WRITE,
          data: buildSignatureList({
            type: 'sha256',
            signatures: hashes.map((data) => ({ owner: OWNER, data })),
          }),
          signer: { certificate: kek, key: privateKey },
        });
      const run = async (u: Uint8Array, v: SecureBootVars = vars) => {
        tpm = await reboot(sw);
        const disk = await FileDevice.open(fx.vm, { readOnly: false });
        try {
          return await applyDbxUpdate(disk, {
            tpm,
            vars: v,
            update: u,
            signers: [kek],
            measureFirmware: true,
          });
        } finally {
          await disk.close();
          await tpm.close();
          tpm = undefined;
        }
      };
      const sealedBefore = await sealedkeysBytes();

      // The loader's own digest in the update: refused, nothing changed.
      const loaderDigest = await loaderSha256();
      const refused = await run(update([loaderDigest]));
      expect(refused.applied).toBe(false);
      expect(refused.report.steps.find((s) => s.id === 'check-revocation')?.error?.code).toBe(
        'DBX_UPDATE_REVOKES_CHAIN',
      );
      expect(Buffer.from(await sealedkeysBytes()).equals(Buffer.from(sealedBefore))).toBe(true);

      // Microsoft's real dbx update is not signed by this VM's KEK: refused.
      const real = new Uint8Array(readFileSync(join(sharedVectors, 'lsvmtools/dbxupdate.bin')));
      tpm = await reboot(sw);
      const d2 = await FileDevice.open(fx.vm, { readOnly: false });
      const untrusted = await applyDbxUpdate(d2, { tpm, vars, update: real, measureFirmware: true });
      await d2.close();
      await tpm.close();
      tpm = undefined;
      expect(untrusted.applied).toBe(false);
      expect(untrusted.report.steps.find((s) => s.id === 'verify-update')?.error?.code).toBe(
        'DBX_UPDATE_UNTRUSTED',
      );

      // A harmless update: applied, resealed; the next boot with the new dbx unlocks, the old state no longer does.
      const ok = await run(update([new Uint8Array(32).fill(0x42)]));
      expect(ok.report.ok).toBe(true);
      expect(ok.applied).toBe(true);
      expect(stepsOf(ok.report)).toMatchObject({
        unseal: 'passed',
        'verify-update': 'passed',
        'check-revocation': 'passed',
        reseal: 'passed',
      });
      expect(parseSignatureLists(ok.vars!.dbx).flatMap((l) => l.signatures)).toHaveLength(2);
      const next = await unlock(ok.vars!);
      expect(next.report.ok).toBe(true);
      const old = await unlock(vars);
      expect(old.report.steps.find((s) => s.id === 'unseal')?.error?.code).toBe('TPM2_RC_POLICY_FAIL');

      // lsvmload's maintenance boot proper: the update waits on the boot file system, is applied
      // and removed from it.
      const pending = update([new Uint8Array(32).fill(0x43)]);
      await withBootFs(async (fs) => fs.writeFile(DBX_UPDATE_PATH, pending, 0o600));
      tpm = await reboot(sw);
      const d3 = await FileDevice.open(fx.vm, { readOnly: false });
      const fromFs = await applyDbxUpdate(d3, { tpm, vars: ok.vars!, signers: [kek], measureFirmware: true });
      await d3.close();
      await tpm.close();
      tpm = undefined;
      expect(fromFs.applied).toBe(true);
      expect(stepsOf(fromFs.report)).toMatchObject({
        'read-update': 'passed',
        reseal: 'passed',
        'remove-update': 'passed',
      });
      expect(await withBootFs((fs) => fs.exists(DBX_UPDATE_PATH))).toBe(false);
      expect((await unlock(fromFs.vars!)).report.ok).toBe(true);
    }, 90_000);

    /** Runs `fn` on the VM's decrypted boot file system (opened with the key from the first boot). */
    async function withBootFs<T>(fn: (fs: ExtFs) => Promise<T>): Promise<T> {
      const disk = await FileDevice.open(fx.vm, { readOnly: false });
      try {
        const { table } = await readGpt(disk);
        const plain = await openLuks(partitionSlice(disk, table, 2), new TextEncoder().encode(bootKey));
        try {
          return await withExtFs(plain, fn);
        } finally {
          await plain.close();
        }
      } finally {
        await disk.close();
      }
    }

    async function sealedkeysBytes(): Promise<Uint8Array> {
      const { openVmDisk, readEspFile } = await import('../src/boot/disk.js');
      const disk = await FileDevice.open(fx.vm);
      const vm = await openVmDisk(disk);
      try {
        return (await readEspFile(vm, '/EFI/boot/sealedkeys'))!;
      } finally {
        await vm.close();
        await disk.close();
      }
    }
    async function loaderSha256(): Promise<Uint8Array> {
      const { openVmDisk, readEspFile } = await import('../src/boot/disk.js');
      const disk = await FileDevice.open(fx.vm);
      const vm = await openVmDisk(disk);
      try {
        return authenticodeDigest((await readEspFile(vm, '/EFI/boot/bootx64.efi'))!, { algorithm: 'sha256' });
      } finally {
        await vm.close();
        await disk.close();
      }
    }
  },
);
