import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSwtpm } from '@lsvm/tpm2-marshal';
import { describeWithPeers, readXz, runOk, sharedVectors, tempDir } from '@lsvm/testkit';
import { main as bootUnlock } from '../boot-unlock.js';
import { main as inspectDisk } from '../inspect-disk.js';
import { main as luksHeaderScan, scan } from '../luks-header-scan.js';
import { main as protectTemplate } from '../protect-template.js';
import { main as provisionVm } from '../provision-vm.js';
import { main as verifyBootChain } from '../verify-boot-chain.js';

describeWithPeers(['mke2fs', 'cryptsetup'], 'examples', () => {
  const t = tempDir('lsvm-examples-');
  const template = join(t.path, 'template.vhdx');
  afterAll(() => t.cleanup());

  it('protect-template builds, checks, protects and verifies a sample template', async () => {
    const out = await protectTemplate([t.path]);
    expect(out.join('\n')).toMatch(/check: clean/);
    expect(out.join('\n')).toMatch(/protected: \/EFI\/lsvm\/template\.vsc/);
    expect(out.join('\n')).toMatch(/verify: valid/);
  }, 90_000);

  it('inspect-disk prints VHDX → GPT → LUKS headers and ESP files', async () => {
    const out = (await inspectDisk([template])).join('\n');
    expect(out).toMatch(/GPT disk [0-9a-f-]{36}/);
    expect(out).toMatch(/LUKS1 aes-xts-plain64 256-bit key/);
    expect(out).toMatch(/LUKS2 aes-xts-plain64/);
    expect(out).toContain('bootx64.efi');
    expect(out).toContain('lsvmconf');
    expect(out).toContain('template.vsc');
  });

  it('luks-header-scan finds the LUKS1 header and both LUKS2 copies; cryptsetup agrees on the UUID', async () => {
    const found = await scan(template);
    expect(found.filter((h) => h.kind === 'luks1' && h.valid)).toHaveLength(1);
    expect(found.filter((h) => h.kind === 'primary' && h.valid)).toHaveLength(1);
    expect(found.filter((h) => h.kind === 'secondary' && h.valid)).toHaveLength(1);
    // A header-only image from cryptsetup's own test suite.
    const img = join(t.path, 'luks2_valid_hdr.img');
    writeFileSync(img, readXz(join(sharedVectors, 'luks/luks2_valid_hdr.img.xz')));
    const lines = await luksHeaderScan([img]);
    const uuid = runOk('cryptsetup', ['luksUUID', img]).trim();
    expect(lines.filter((l) => l.includes(uuid) && l.includes('valid')).length).toBeGreaterThanOrEqual(2);
    expect(await luksHeaderScan([join(sharedVectors, 'lsvmtools/b.cpio')])).toEqual([
      `${join(sharedVectors, 'lsvmtools/b.cpio')}: no LUKS header found`,
    ]);
  });

  it('verify-boot-chain trusts loader, shim and grub of the sample', async () => {
    const out = await verifyBootChain([template]);
    expect(out.filter((l) => l.startsWith('trusted'))).toHaveLength(3);
    expect(out.join('\n')).not.toContain('REJECTED');
  });

  describeWithPeers(['swtpm'], 'with a TPM', () => {
    it('provision-vm then boot-unlock on the same swtpm', async () => {
      const sw = await startSwtpm();
      try {
        const p = await provisionVm([t.path, '--tcti', sw.tcti]);
        expect(p.join('\n')).toMatch(/keys sealed to PCR 7 [0-9a-f]{64}/);
        const b = (await bootUnlock([t.path, '--tcti', sw.tcti])).join('\n');
        expect(b).toMatch(/^passed +unseal/m);
        expect(b).toMatch(/unlocked; keyed initrd/);
        expect(b).toMatch(/static validation of a vm disk: ok/);
      } finally {
        await sw.stop();
      }
    }, 120_000);
  });
});
