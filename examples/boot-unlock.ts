/**
 * boot-unlock: what lsvmload does when the VM boots, run in user space against the VM's TPM —
 * measure, unseal the volume keys, cap PCR 11, open both volumes, apply the first-boot
 * specialization, inject the keys into the initrd, verify the boot chain — then the static
 * validation of the same disk. Needs DIR from provision-vm and the same TPM, freshly started
 * (PCRs zero: the firmware measurements are simulated).
 * Usage: pnpm example boot-unlock <dir> --tcti swtpm:host=127.0.0.1,port=2321
 */
import { join } from 'node:path';
import { zeroize } from '@lsvm/core';
import { bootUnlock, defaultSecureBootVars, validateBootPath } from '@lsvm/provisioning';
import { Tpm, openTcti } from '@lsvm/tpm2-marshal';
import { openAnyDisk } from './open-disk.js';

export async function main(args: string[]): Promise<string[]> {
  const dir = args[0];
  const tcti = args.indexOf('--tcti') >= 0 ? args[args.indexOf('--tcti') + 1] : undefined;
  if (!dir || !tcti) throw new Error('usage: boot-unlock <dir> --tcti T');
  const vars = defaultSecureBootVars(); // the Secure Boot state provision-vm sealed against
  const out: string[] = [];
  const disk = await openAnyDisk(join(dir, 'vm.vhdx'), true);
  const tpm = new Tpm(await openTcti(tcti));
  try {
    const r = await bootUnlock(disk, { tpm, vars, measureFirmware: true, keepInitrd: true });
    for (const s of r.report.steps)
      out.push(`${s.status.padEnd(7)} ${s.id}${s.error ? `  ${s.error.code}: ${s.error.message}` : ''}`);
    out.push(
      r.report.ok
        ? `unlocked; keyed initrd of ${r.initrd?.length} bytes kept in memory only`
        : 'boot unlock FAILED',
    );
    if (r.initrd) zeroize(r.initrd); // it holds the passphrases

    const v = await validateBootPath(disk, { vars });
    out.push(`static validation of a ${v.kind} disk: ${v.ok ? 'ok' : 'FAILED'}`);
    for (const s of v.steps.filter((x) => x.status !== 'passed'))
      out.push(`  ${s.status} ${s.id}: ${s.error?.message ?? String(s.detail?.reason ?? '')}`);
  } finally {
    await tpm.close();
    await disk.close();
  }
  return out;
}
