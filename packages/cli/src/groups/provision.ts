import { readFileSync } from 'node:fs';
import { UsageError, formatSize } from '@lsvm/core';
import { type ProvisionReport, type StepReport, provision, readSecureBootVarsDir } from '@lsvm/provisioning';
import type { CliGroup } from '../group.js';

/**
 * `lsvm provision <template> <vm-disk> …` — a shielded VM's disk from a protected template:
 * shielding data opened with the guardian key, template checked against its VolumeIdQualifiers and
 * catalog, cloned, re-keyed, keys sealed to the VM's TPM (and, with `--systemd-token`, a
 * systemd-tpm2 token enrolled on root), specialization and lsvmconf written.
 * Refusals (qualifier, signature, changed blocks) exit 1; every step is reported (`--json`).
 */
export const provisionGroup: CliGroup = {
  name: 'provision',
  description: 'provision a shielded VM disk from a protected template',
  register(cmd, ctx) {
    cmd
      .argument('<template>', 'protected template disk (raw or .vhdx); never modified')
      .argument('<vm-disk>', 'VM disk to create (.vhdx or raw); must not exist')
      .requiredOption('--pdk <file>', 'shielding data file')
      .requiredOption('--guardian-key <dir>', 'guardian directory with private keys (stands in for HGS)')
      .requiredOption(
        '--tcti <tcti>',
        'the VM TPM, e.g. swtpm:host=127.0.0.1,port=2321 or device:/dev/tpmrm0',
      )
      .option(
        '--secure-boot-vars <dir>',
        'directory with SecureBoot, PK, KEK, db, dbx (default: the test set)',
      )
      .option('--fsk <file>', 'specialization data file (FSK) whose values fill the answer file')
      .option('--clone <mode>', 'copy or differencing (default copy)')
      .option('--rekey <mode>', 'keyslot or reencrypt (default keyslot)')
      .option(
        '--systemd-token',
        'also enroll a systemd-tpm2 LUKS2 token (PCRs 7+11, predicted) on the root volume, as systemd-cryptenroll does',
      )
      .action(
        async (
          template: string,
          vmDisk: string,
          o: {
            pdk: string;
            guardianKey: string;
            tcti: string;
            secureBootVars?: string;
            fsk?: string;
            clone?: string;
            rekey?: string;
            systemdToken?: boolean;
          },
        ) => {
          const clone = o.clone ?? 'copy';
          if (clone !== 'copy' && clone !== 'differencing')
            throw new UsageError('USAGE', `--clone must be copy or differencing, not ${clone}`);
          const rekey = o.rekey ?? 'keyslot';
          if (rekey !== 'keyslot' && rekey !== 'reencrypt')
            throw new UsageError('USAGE', `--rekey must be keyslot or reencrypt, not ${rekey}`);
          const bytes = (p: string) => new Uint8Array(readFileSync(p));
          try {
            const r = await provision(template, vmDisk, {
              pdk: bytes(o.pdk),
              guardian: o.guardianKey,
              tcti: o.tcti,
              clone,
              rekey,
              ...(o.secureBootVars ? { secureBootVars: readSecureBootVarsDir(o.secureBootVars) } : {}),
              ...(o.fsk ? { fsk: bytes(o.fsk) } : {}),
              ...(o.systemdToken ? { systemdToken: true } : {}),
              onStep: (s) => ctx.info(stepLine(s)),
            });
            ctx.result(r, () => doneText(r));
          } catch (e) {
            const steps = (e as { steps?: StepReport[] }).steps;
            // The steps reached go to stdout with --json, so scripts see where it stopped.
            if (steps && ctx.json) ctx.result({ ok: false, vmDisk, steps });
            throw e;
          }
        },
      );
  },
};

function stepLine(s: StepReport): string {
  const mark = s.status === 'ok' ? 'ok' : s.status.toUpperCase();
  const d = s.details;
  const extra =
    s.step === 'clone' && typeof d.bytesCopied === 'number'
      ? ` (${d.mode}, ${formatSize(d.bytesCopied)} copied)`
      : s.step === 'verify-volumes' && typeof d.bytesVerified === 'number'
        ? ` (${formatSize(d.bytesVerified)} hashed)`
        : s.step === 'verify-template' && d.template
          ? ` (${(d.template as { name: string }).name} ${(d.template as { version: string }).version})`
          : s.step === 'systemd-token' && typeof d.tokenId === 'number'
            ? ` (token ${d.tokenId}, keyslot ${d.keyslot})`
            : '';
  return `  ${s.step.padEnd(16)} ${mark.padEnd(8)} ${`${s.durationMs.toFixed(0)} ms`.padStart(9)}${extra}${s.error ? `  ${s.error.code}` : ''}`;
}

function doneText(r: ProvisionReport): string {
  return [
    `${r.vmDisk}: provisioned`,
    `  sealed to PCR 7 = ${r.pcrs?.[7]}`,
    `            PCR 11 = ${r.pcrs?.[11]}`,
    `  boot LUKS ${r.lsvmconf?.bootDeviceLuks}, root LUKS ${r.lsvmconf?.rootDeviceLuks}`,
    ...(r.systemdToken
      ? [
          `  root systemd-tpm2 token ${r.systemdToken.tokenId} → keyslot ${r.systemdToken.keyslot} (PCRs ${r.systemdToken.pcrs.join('+')}, ${r.systemdToken.pcrBank}, ${r.systemdToken.primaryAlg} primary)`,
        ]
      : []),
  ].join('\n');
}
