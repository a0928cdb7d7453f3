import { MemoryDevice } from '@lsvm/core';
import { FatFileSystem, mkfs } from '@lsvm/fat';
import { addPartition, createGpt, partitionSlice, writeGpt } from '@lsvm/gpt';
import type { Tpm } from '@lsvm/tpm2-marshal';
import { bootUnlock } from '../src/boot/unlock.js';
import { validateBootPath } from '../src/boot/validate.js';
import { defaultSecureBootVars } from '../src/secure-boot.js';

const MiB = 1024 * 1024;

/** A 48 MiB disk with a GPT, an ESP holding the given files, and one more (empty) partition. */
async function diskWithEsp(files: Record<string, Uint8Array>): Promise<MemoryDevice> {
  const disk = new MemoryDevice(48 * MiB);
  let table = createGpt({ diskSize: disk.size });
  table = addPartition(table, { type: 'esp', sizeLba: (36 * MiB) / 512, name: 'ESP' }).table;
  table = addPartition(table, { type: 'linux', sizeLba: 'rest', name: 'boot' }).table;
  await writeGpt(disk, table);
  const esp = partitionSlice(disk, table, 1);
  await mkfs(esp, { label: 'ESP' });
  const fs = await FatFileSystem.open(esp);
  for (const [path, data] of Object.entries(files)) await fs.writeFile(path, data, { createParents: true });
  await fs.close();
  return disk;
}

/** A TPM that must never be reached: every hostile case fails before the TPM is used. */
const noTpm = new Proxy({} as Tpm, {
  get: () => {
    throw new Error('the TPM was used');
  },
});

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('boot path on hostile disks', () => {
  it('a disk without a GPT: validation fails its first step, unlock throws a typed error', async () => {
    const zeros = new MemoryDevice(4 * MiB);
    const v = await validateBootPath(zeros);
    expect(v.ok).toBe(false);
    expect(v.steps[0]).toMatchObject({ id: 'gpt-esp', status: 'failed' });
    await expect(bootUnlock(zeros, { tpm: noTpm })).rejects.toMatchObject({
      code: 'GPT_NOT_FOUND',
      kind: 'format',
    });
  });

  it('a garbage lsvmconf fails read-lsvmconf, with the line', async () => {
    const disk = await diskWithEsp({ '/EFI/boot/lsvmconf': enc('EFIVendorDir=ubuntu\nEvil=1\n') });
    const v = await validateBootPath(disk, { vars: defaultSecureBootVars() });
    const step = v.steps.find((s) => s.id === 'lsvmconf')!;
    expect(step.status).toBe('failed');
    expect(step.error?.code).toBe('LSVMCONF_INVALID');
    expect(step.error?.message).toMatch(/line 2: unknown key "Evil"/);
  });

  it('lsvmconf naming partitions that do not exist fails, naming the key', async () => {
    const conf = [
      'EFIVendorDir=ubuntu',
      'BootDeviceLUKS=11111111-1111-1111-1111-111111111111',
      'RootDeviceLUKS=22222222-2222-2222-2222-222222222222',
      'BootDevice=33333333-3333-3333-3333-333333333333',
      'RootDevice=44444444-4444-4444-4444-444444444444',
    ].join('\n');
    const disk = await diskWithEsp({ '/EFI/boot/lsvmconf': enc(conf) });
    const v = await validateBootPath(disk);
    expect(v.steps.find((s) => s.id === 'lsvmconf')?.error).toMatchObject({ code: 'LSVMCONF_PARTITION' });
    expect(v.steps.find((s) => s.id === 'lsvmconf')?.error?.message).toMatch(/^BootDevice=33333333/);
  });

  it('unlock with a garbage sealedkeys: the unseal step fails with a format error, later steps are skipped', async () => {
    const sealedkeys = new Uint8Array(300).fill(0xff);
    const conf = [
      'EFIVendorDir=ubuntu',
      'BootDeviceLUKS=11111111-1111-1111-1111-111111111111',
      'RootDeviceLUKS=22222222-2222-2222-2222-222222222222',
      'BootDevice=33333333-3333-3333-3333-333333333333',
      'RootDevice=44444444-4444-4444-4444-444444444444',
    ].join('\n');
    const disk = await diskWithEsp({ '/EFI/boot/lsvmconf': enc(conf), '/EFI/boot/sealedkeys': sealedkeys });
    // A TPM stub that accepts the PCR 11 extends but nothing else.
    const calls: string[] = [];
    const tpm = {
      getPcrBanks: async () => [{ hash: 0x000b, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }],
      pcrExtend: async (pcr: number) => {
        calls.push(`extend ${pcr}`);
      },
    } as unknown as Tpm;
    const r = await bootUnlock(disk, { tpm });
    const s = Object.fromEntries(r.report.steps.map((x) => [x.id, x]));
    expect(s['read-lsvmconf']?.status).toBe('passed');
    expect(s.unseal?.status).toBe('failed');
    expect(s.unseal?.error?.code).toMatch(/^TPM2_|TRUNCATED/);
    expect(s['cap-pcr11']?.status).toBe('skipped');
    expect(s['open-boot']?.status).toBe('skipped');
    expect(calls).toEqual(['extend 11', 'extend 11', 'extend 11']);
    expect(r.report.ok).toBe(false);
  });
});
