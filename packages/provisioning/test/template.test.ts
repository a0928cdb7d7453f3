import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, MemoryDevice } from '@lsvm/core';
import { FatFileSystem } from '@lsvm/fat';
import { partitionDevice } from '@lsvm/gpt';
import { addKeyslot, removeKeyslot } from '@lsvm/luks2';
import { parsePe, removeSignature } from '@lsvm/pe-authenticode';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  LOADER_PATH,
  LSVMCONF_PATH,
  SEALEDKEYS_PATH,
  VSC_PATH,
  WELL_KNOWN_PASSPHRASE,
  checkTemplate,
  describeMismatch,
  grubBootFiles,
  makeSampleTemplate,
  protectTemplate,
  verifyTemplate,
} from '../src/index.js';
import { TEST_DB_CERT_BASE64 } from '../src/test-keys.js';
import { decryptToFile, enc, extractPartition, flipByte, sha256File, templateSigner } from './helpers.js';

const MiB = 1024 * 1024;

/** Copies the sample and edits its ESP. */
async function withEspCopy(
  src: string,
  dst: string,
  edit: (fs: FatFileSystem) => Promise<void>,
): Promise<string> {
  copyFileSync(src, dst);
  const disk = await FileDevice.open(dst, { readOnly: false });
  const esp = await FatFileSystem.open(await partitionDevice(disk, 1));
  await edit(esp);
  await esp.close();
  await disk.close();
  return dst;
}

describe('grubBootFiles', () => {
  test('kernels and initrds, device prefixes and variables dropped', () => {
    const cfg = [
      "menuentry 'x' {",
      '  linux /vmlinuz-1 root=/dev/sda2 ro',
      '  initrd /intel-ucode.img /initrd.img-1',
      '}',
      'linuxefi ($root)/boot/vmlinuz-2',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a grub variable, not a JS template
      'initrdefi ${prefix}/initrd-2',
      '# initrd /commented',
    ].join('\n');
    expect(grubBootFiles(cfg)).toEqual({
      kernels: ['/vmlinuz-1', '/boot/vmlinuz-2'],
      initrds: ['/intel-ucode.img', '/initrd.img-1', '/initrd-2'],
    });
  });
});

describeWithPeers(
  ['mke2fs', 'e2fsck', 'sgdisk', 'cryptsetup', 'sbverify', 'fsck.fat', 'mcopy'],
  'sample template: peers agree, check finds each defect, protect/verify',
  () => {
    let dir: { path: string; cleanup: () => void };
    let img: string;
    beforeAll(async () => {
      dir = tempDir('lsvm-prov-tpl-');
      img = join(dir.path, 'sample.img');
      await makeSampleTemplate(img, { size: 128 * MiB });
    });
    afterAll(() => dir.cleanup());

    test('GPT, LUKS, file systems and the loader signature pass the peers', async () => {
      expect(run('sgdisk', ['-v', img]).stdout).toMatch(/No problems found/);
      const esp = join(dir.path, 'esp.fat');
      const boot = join(dir.path, 'boot.luks');
      const root = join(dir.path, 'root.luks');
      await extractPartition(img, 1, esp);
      await extractPartition(img, 2, boot);
      await extractPartition(img, 3, root);
      expect(run('fsck.fat', ['-n', esp]).status).toBe(0);
      const bootDump = runOk('cryptsetup', ['luksDump', boot]);
      expect(bootDump).toMatch(/Version:\s+1/);
      expect(bootDump).toMatch(/Cipher name:\s+aes/);
      expect(bootDump).toMatch(/Cipher mode:\s+xts-plain64/);
      expect(bootDump).toMatch(/MK bits:\s+256/);
      expect(runOk('cryptsetup', ['luksDump', root])).toMatch(/Version:\s+2/);
      const key = join(dir.path, 'wellknown');
      writeFileSync(key, WELL_KNOWN_PASSPHRASE);
      for (const v of [boot, root])
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', key, v]).status).toBe(0);
      await decryptToFile(boot, enc(WELL_KNOWN_PASSPHRASE), join(dir.path, 'boot.ext'));
      await decryptToFile(root, enc(WELL_KNOWN_PASSPHRASE), join(dir.path, 'root.ext'));
      expect(run('e2fsck', ['-fn', join(dir.path, 'boot.ext')]).status).toBe(0);
      expect(run('e2fsck', ['-fn', join(dir.path, 'root.ext')]).status).toBe(0);
      expect(runOk('debugfs', ['-R', 'cat /grub/grub.cfg', join(dir.path, 'boot.ext')])).toMatch(
        /initrd \/initrd\.img/,
      );
      const dump = runOk('dumpe2fs', ['-h', join(dir.path, 'boot.ext')]);
      expect(dump).toMatch(/has_journal/); // ext3
      // The loader verifies against the package's public test db certificate.
      const loader = join(dir.path, 'bootx64.efi');
      runOk('mcopy', ['-i', esp, `::${LOADER_PATH}`, loader]);
      const pem = join(dir.path, 'db.pem');
      writeFileSync(
        pem,
        `-----BEGIN CERTIFICATE-----\n${TEST_DB_CERT_BASE64.replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`,
      );
      expect(run('sbverify', ['--cert', pem, loader]).status).toBe(0);
      expect(parsePe(new Uint8Array(readFileSync(loader))).optional.subsystem).toBe(10);
      // mtools reads lsvmconf.
      expect(runOk('mtype', ['-i', esp, `::${LSVMCONF_PATH}`])).toMatch(/^BootDeviceLUKS=/m);
    });

    test('check: clean sample, with the loader trusted by the db certificate', async () => {
      const r = await checkTemplate(img, {
        trust: [new Uint8Array(Buffer.from(TEST_DB_CERT_BASE64, 'base64'))],
      });
      expect(r.clean).toBe(true);
      expect(r.loader?.trusted).toBe(true);
      expect(r.bootFiles).toEqual(['/initrd.img-6.1.0-lsvm-sample', '/vmlinuz-6.1.0-lsvm-sample']);
    });

    test('check: untrusted loader, unsigned loader, leftover secrets, wrong lsvmconf', async () => {
      const other = templateSigner('someone else');
      expect(
        (await checkTemplate(img, { trust: [other.certificate.der] })).findings.map((f) => f.code),
      ).toEqual(['TEMPLATE_LOADER_UNTRUSTED']);
      const copy = join(dir.path, 'edit.img');
      await withEspCopy(img, copy, async (fs) => {
        await fs.writeFile(LOADER_PATH, removeSignature(await fs.readFile(LOADER_PATH)));
        await fs.writeFile(SEALEDKEYS_PATH, new Uint8Array(16));
        const conf = new TextDecoder().decode(await fs.readFile(LSVMCONF_PATH));
        await fs.writeFile(
          LSVMCONF_PATH,
          enc(conf.replace(/^RootDeviceLUKS=.*$/m, 'RootDeviceLUKS=00000000-0000-4000-8000-000000000000')),
        );
      });
      const r = await checkTemplate(copy);
      expect(r.findings.map((f) => f.code).sort()).toEqual([
        'TEMPLATE_LOADER_UNSIGNED',
        'TEMPLATE_LSVMCONF_MISMATCH',
        'TEMPLATE_SECRET_PRESENT',
      ]);
      expect(r.findings.find((f) => f.code === 'TEMPLATE_LSVMCONF_MISMATCH')?.message).toMatch(
        /RootDeviceLUKS/,
      );
    });

    test('check: a boot volume without the well-known passphrase; missing lsvmconf; not a GPT', async () => {
      const copy = join(dir.path, 'rekeyed.img');
      copyFileSync(img, copy);
      const disk = await FileDevice.open(copy, { readOnly: false });
      const boot = await partitionDevice(disk, 2);
      const slot = await addKeyslot(boot, { passphrase: enc(WELL_KNOWN_PASSPHRASE) }, enc('other'), {
        kdf: { type: 'pbkdf2', iterations: 1000 },
      });
      expect(slot).toBe(1);
      await removeKeyslot(boot, 0);
      await disk.close();
      expect((await checkTemplate(copy)).findings.map((f) => f.code)).toEqual(['TEMPLATE_BOOT_PASSPHRASE']);
      const noConf = await withEspCopy(img, join(dir.path, 'noconf.img'), (fs) => fs.remove(LSVMCONF_PATH));
      expect((await checkTemplate(noConf)).findings.map((f) => f.code)).toEqual([
        'TEMPLATE_LSVMCONF_MISSING',
      ]);
      const blank = await checkTemplate(new MemoryDevice(1 << 20));
      expect(blank.findings.map((f) => f.code)).toEqual(['TEMPLATE_NO_GPT']);
    });

    test('protect leaves boot and root byte-identical; verify is clean, then names a flipped block', async () => {
      const copy = join(dir.path, 'protected.img');
      copyFileSync(img, copy);
      const before = [join(dir.path, 'b0'), join(dir.path, 'r0')];
      await extractPartition(copy, 2, before[0]!);
      await extractPartition(copy, 3, before[1]!);
      const signer = templateSigner();
      const p = await protectTemplate(copy, {
        signer: { certificate: signer.certificate.der, privateKey: signer.privateKey },
        name: 'Sample Linux',
        version: '1.2.0.0',
        blockSize: 1 * MiB,
        workers: 0,
      });
      expect(p.vscPath).toBe(VSC_PATH);
      expect(p.volumes.map((v) => v.role)).toEqual(['boot', 'root']);
      const after = [join(dir.path, 'b1'), join(dir.path, 'r1')];
      await extractPartition(copy, 2, after[0]!);
      await extractPartition(copy, 3, after[1]!);
      expect(sha256File(after[0]!)).toBe(sha256File(before[0]!));
      expect(sha256File(after[1]!)).toBe(sha256File(before[1]!));
      // The ESP stays a clean FAT with the catalog in it.
      await extractPartition(copy, 1, join(dir.path, 'esp2'));
      expect(run('fsck.fat', ['-n', join(dir.path, 'esp2')]).status).toBe(0);
      expect(runOk('mdir', ['-i', join(dir.path, 'esp2'), '::/EFI/lsvm'])).toMatch(/template\s+vsc/i);

      const ok = await verifyTemplate(copy, { signerThumbprint: p.signerThumbprint, workers: 0 });
      expect(ok.valid).toBe(true);
      expect(ok.catalog).toMatchObject({ name: 'Sample Linux', version: '1.2.0.0' });
      const wrongPin = await verifyTemplate(copy, { signerThumbprint: 'ab'.repeat(32), workers: 0 });
      expect(wrongPin.valid).toBe(false);
      expect(describeMismatch(wrongPin)[0]).toMatch(/^catalog signature: /);

      // Flip one byte 5 MiB + 7 into the root partition: block 5 of root changes.
      const disk = await FileDevice.open(copy);
      const { openGpt } = await import('@lsvm/gpt');
      const rootStart = (await openGpt(disk)).table!.entries[2]!.firstLba * 512;
      await disk.close();
      flipByte(copy, rootStart + 5 * MiB + 7);
      const bad = await verifyTemplate(copy, { signerThumbprint: p.signerThumbprint, workers: 0 });
      expect(bad.valid).toBe(false);
      const root = bad.volumes!.volumes.find((v) => v.role === 'root')!;
      expect(root.status).toBe('changed');
      expect(root.changed).toEqual([{ firstBlock: 5, lastBlock: 5, offset: 5 * MiB, length: MiB }]);
      expect(describeMismatch(bad)).toEqual([
        `root (partition 3): bytes ${5 * MiB}..${6 * MiB - 1} changed (blocks 5..5)`,
      ]);
    });

    test('protect refuses a template with findings and writes nothing', async () => {
      const copy = await withEspCopy(img, join(dir.path, 'dirty.img'), (fs) =>
        fs.writeFile(SEALEDKEYS_PATH, new Uint8Array(4)).then(() => undefined),
      );
      const before = sha256File(copy);
      const signer = templateSigner();
      await expect(
        protectTemplate(copy, {
          signer: { certificate: signer.certificate.der, privateKey: signer.privateKey },
          name: 'x',
          version: '1.0.0.0',
        }),
      ).rejects.toMatchObject({ code: 'TEMPLATE_NOT_CLEAN', kind: 'verification' });
      expect(sha256File(copy)).toBe(before);
    });
  },
);
