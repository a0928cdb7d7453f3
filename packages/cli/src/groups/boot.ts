import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, zeroize } from '@lsvm/core';
import {
  type Certificate,
  type SignatureDatabase,
  parseTrustInput,
  signatureDatabase,
} from '@lsvm/pe-authenticode';
import {
  type BootReport,
  type BootStep,
  type SecureBootVars,
  applyDbxUpdate,
  bootUnlock,
  defaultSecureBootVars,
  microsoftUefiCa2011,
  readSecureBootVarsDir,
  validateBootPath,
} from '@lsvm/provisioning';
import { Tpm, openTcti } from '@lsvm/tpm2-marshal';
import type { CliContext } from '../context.js';
import type { CliGroup } from '../group.js';
import { openImage } from '../image.js';

/**
 * `lsvm boot …` — the boot side of a shielded Linux VM, in user space against a (software) TPM:
 * `unlock` does what lsvmload does at every boot, `validate` checks everything that needs no TPM,
 * `apply-dbx-update` is lsvmload's maintenance boot. Each prints one line per step (or the report
 * with --json) and exits 1 when a step failed. No secret is ever printed; `--initrd-out` is the
 * one place the keys leave the process, because that is its purpose.
 */
export const bootGroup: CliGroup = {
  name: 'boot',
  description: 'boot a provisioned VM disk as lsvmload does: unlock, validate, apply a dbx update',
  register(cmd, ctx) {
    cmd
      .command('unlock')
      .description(
        'unseal the keys on the VM TPM, open the volumes, specialise, key the initrd, check the chain',
      )
      .argument('<vm-disk>', 'provisioned VM disk (raw or .vhdx); written on first boot (specialization)')
      .requiredOption('--tcti <tcti>', 'the VM TPM, e.g. swtpm:host=127.0.0.1,port=2321')
      .option('--secure-boot-vars <dir>', 'SecureBoot, PK, KEK, db, dbx (default: the fixed test set)')
      .option('--measure-firmware', 'first extend PCR 7 as UEFI firmware does (for a fresh TPM)')
      .option(
        '--cap-proof <how>',
        'prove the cap by a second unseal (default) or by the TPM policy digest (policy: no DA failure)',
        'unseal',
      )
      .option('--initrd-out <file>', 'write the keyed initrd there (it holds the passphrases; mode 0600)')
      .option('--trust <cert>', 'extra trust anchor for the loader and shim (repeatable)', collect, [])
      .action(
        async (
          vmDisk: string,
          o: {
            tcti: string;
            secureBootVars?: string;
            measureFirmware?: boolean;
            initrdOut?: string;
            capProof: string;
            trust: string[];
          },
        ) => {
          if (o.capProof !== 'unseal' && o.capProof !== 'policy')
            throw new UsageError('USAGE', `--cap-proof must be unseal or policy, not ${o.capProof}`);
          const capProof: 'unseal' | 'policy' = o.capProof;
          const vars = loadVars(o.secureBootVars);
          const trust = loadTrust(o.trust);
          const img = await openImage(vmDisk, { writable: true });
          const tpm = new Tpm(await openTcti(o.tcti));
          try {
            const r = await bootUnlock(img.device, {
              tpm,
              vars,
              measureFirmware: o.measureFirmware === true,
              capProof,
              loaderTrust: trust,
              shimTrust: [microsoftUefiCa2011(), ...trust],
              keepInitrd: o.initrdOut !== undefined,
            });
            if (r.initrd && o.initrdOut) {
              writeFileSync(o.initrdOut, r.initrd, { mode: 0o600 });
              zeroize(r.initrd);
            }
            report(
              ctx,
              r.report,
              o.initrdOut && r.report.ok ? `keyed initrd written to ${o.initrdOut}` : undefined,
            );
          } finally {
            await tpm.close();
            await img.close();
          }
        },
      );

    cmd
      .command('validate')
      .description('check the boot path without a TPM: lsvmconf, LUKS, sealedkeys policy, chain vs db/dbx')
      .argument('<vm-disk>', 'VM or template disk (raw or .vhdx); opened read-only')
      .option('--trust <cert>', 'extra trust anchor for the loader and shim (repeatable)', collect, [])
      .option('--dbx <file>', 'extra forbidden entries: a dbx dump (ESL) or update (authenticated variable)')
      .option('--secure-boot-vars <dir>', 'SecureBoot, PK, KEK, db, dbx (default: the fixed test set)')
      .option(
        '--boot-key-file <file>',
        'boot volume passphrase of a VM disk, to check shim and grub too (- = stdin)',
      )
      .action(
        async (
          vmDisk: string,
          o: { trust: string[]; dbx?: string; secureBootVars?: string; bootKeyFile?: string },
        ) => {
          const vars = loadVars(o.secureBootVars);
          const trust = loadTrust(o.trust);
          let extraDbx: SignatureDatabase | undefined;
          if (o.dbx) {
            const t = parseTrustInput(new Uint8Array(readFileSync(o.dbx)));
            extraDbx = signatureDatabase(t.lists);
            extraDbx.certificates.push(...t.certificates);
          }
          const bootPassphrase = o.bootKeyFile ? await ctx.readKeyFile(o.bootKeyFile) : undefined;
          const img = await openImage(vmDisk);
          try {
            const r = await validateBootPath(img.device, {
              vars,
              loaderTrust: trust,
              shimTrust: [microsoftUefiCa2011(), ...trust],
              ...(extraDbx ? { extraDbx } : {}),
              ...(bootPassphrase ? { bootPassphrase } : {}),
            });
            report(ctx, r, `disk kind: ${r.kind}`);
          } finally {
            if (bootPassphrase) zeroize(bootPassphrase);
            await img.close();
          }
        },
      );

    cmd
      .command('apply-dbx-update')
      .description(
        'maintenance boot: refuse a dbx update that revokes this chain, else reseal the keys to the new PCR 7',
      )
      .argument('<vm-disk>', 'provisioned VM disk (raw or .vhdx); sealedkeys is rewritten')
      .requiredOption('--tcti <tcti>', 'the VM TPM')
      .requiredOption('--update <file>', 'the dbx update (an authenticated variable, e.g. dbxupdate.bin)')
      .option(
        '--secure-boot-vars <dir>',
        'current SecureBoot, PK, KEK, db, dbx; its dbx is replaced once applied',
      )
      .option(
        '--signer <cert>',
        'certificate allowed to sign the update (default: the KEK entries; repeatable)',
        collect,
        [],
      )
      .option('--measure-firmware', 'first extend PCR 7 as UEFI firmware does (for a fresh TPM)')
      .action(
        async (
          vmDisk: string,
          o: {
            tcti: string;
            update: string;
            secureBootVars?: string;
            signer: string[];
            measureFirmware?: boolean;
          },
        ) => {
          const vars = loadVars(o.secureBootVars);
          const signers = loadTrust(o.signer);
          const update = new Uint8Array(readFileSync(o.update));
          const img = await openImage(vmDisk, { writable: true });
          const tpm = new Tpm(await openTcti(o.tcti));
          try {
            const r = await applyDbxUpdate(img.device, {
              tpm,
              vars,
              update,
              measureFirmware: o.measureFirmware === true,
              ...(signers.length > 0 ? { signers } : {}),
            });
            let note: string | undefined;
            if (r.applied && r.vars) {
              if (o.secureBootVars) {
                // Replace dbx atomically: the directory is the VM's firmware state from now on.
                const tmp = join(o.secureBootVars, 'dbx.new');
                writeFileSync(tmp, r.vars.dbx);
                renameSync(tmp, join(o.secureBootVars, 'dbx'));
                note = `dbx in ${o.secureBootVars} updated; sealedkeys resealed to the new PCR 7`;
              } else
                note =
                  'sealedkeys resealed to the new PCR 7; the default Secure Boot set is fixed, so pass --secure-boot-vars DIR to keep the new dbx';
            }
            report(ctx, { ...r.report, ...({ applied: r.applied } as object) }, note);
          } finally {
            await tpm.close();
            await img.close();
          }
        },
      );
  },
};

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function loadVars(dir: string | undefined): SecureBootVars {
  return dir ? readSecureBootVarsDir(dir) : defaultSecureBootVars();
}

function loadTrust(paths: string[]): Certificate[] {
  const out: Certificate[] = [];
  for (const p of paths) {
    const t = parseTrustInput(new Uint8Array(readFileSync(p)));
    out.push(...t.certificates, ...signatureDatabase(t.lists).certificates);
    if (t.certificates.length === 0 && t.lists.length === 0)
      throw new UsageError('USAGE', `${p} holds no certificate`);
  }
  return out;
}

const MARK: Record<BootStep['status'], string> = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip' };

/** One line per step; failed steps carry their error code and message. */
export function stepsText(steps: BootStep[]): string {
  const w = Math.max(...steps.map((s) => s.id.length), 4);
  return steps
    .map((s) => {
      const head = `${MARK[s.status]}  ${s.id.padEnd(w)}  ${s.title}`;
      const time = s.status === 'skipped' ? '' : ` (${s.ms} ms)`;
      const why =
        s.status === 'failed'
          ? `\n      ${s.error?.code}: ${s.error?.message}`
          : s.status === 'skipped'
            ? `\n      ${String(s.detail?.reason ?? '')}`
            : '';
      return `${head}${time}${why}`;
    })
    .join('\n');
}

function report(ctx: CliContext, r: BootReport, note?: string): void {
  if (!r.ok) ctx.findings();
  ctx.result(r, () =>
    [
      stepsText(r.steps),
      '',
      r.ok ? 'all steps passed' : `${r.steps.filter((s) => s.status === 'failed').length} step(s) failed`,
      ...(note ? [note] : []),
    ].join('\n'),
  );
}
