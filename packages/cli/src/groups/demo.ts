import { generateKeyPairSync } from 'node:crypto';
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isLsvmError } from '@lsvm/core';
import { partitionSlice, readGpt } from '@lsvm/gpt';
import { buildSignatureList, createCertificate } from '@lsvm/pe-authenticode';
import {
  type BootStep,
  LSVM_TEST_OWNER_GUID,
  type SecureBootVars,
  bootUnlock,
  checkTemplate,
  defaultSecureBootVars,
  makeSampleTemplate,
  openDisk,
  protectTemplate,
  provision,
  validateBootPath,
} from '@lsvm/provisioning';
import { createPdk, exportGuardian, generateGuardian, openPdk } from '@lsvm/shielding-data';
import { type SwtpmInstance, type Tpm, rebootSwtpm, startSwtpm } from '@lsvm/tpm2-marshal';
import { certificateThumbprint } from '@lsvm/vsc';
import type { CliGroup } from '../group.js';
import { stepsText } from './boot.js';

/**
 * `lsvm demo` — the whole mission in one command, on an embedded default, with no argument and no
 * network: build a sample template disk (VHDX), check and protect it, make an owner, a fabric
 * guardian and shielding data whose VolumeIdQualifier names the template, start swtpm as the VM's
 * TPM, provision a VM disk, boot-unlock it, validate its boot path, then show the protections: a
 * byte flipped in the template's root makes provisioning refuse, a changed db makes the unseal
 * fail, a wrong guardian cannot open the shielding data. Without swtpm every TPM step is skipped
 * (and named) and the demo still exits 0.
 */

const SWTPM_INSTALL = 'sudo apt-get install swtpm swtpm-tools';

/** Finds an executable on a PATH string. */
function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A VM reboot on swtpm: power cycle, TPM2_Startup(CLEAR), DA counter cleared by the owner. */
const reboot = (sw: SwtpmInstance): Promise<Tpm> => rebootSwtpm(sw);

/** Steps of the demo, recorded like the boot flows' steps. */
class DemoRecorder {
  readonly steps: BootStep[] = [];
  constructor(private readonly onStep: (s: BootStep) => void) {}
  private push(s: BootStep): void {
    this.steps.push(s);
    this.onStep(s);
  }
  skip(id: string, title: string, reason: string): void {
    this.push({ id, title, status: 'skipped', detail: { reason }, ms: 0 });
  }
  async run<T>(
    id: string,
    title: string,
    fn: () => Promise<{ value: T; detail?: Record<string, unknown> }>,
  ): Promise<T | undefined> {
    const t0 = performance.now();
    try {
      const r = await fn();
      this.push({
        id,
        title,
        status: 'passed',
        ...(r.detail ? { detail: r.detail } : {}),
        ms: Math.round(performance.now() - t0),
      });
      return r.value;
    } catch (e) {
      const error =
        isLsvmError(e) || e instanceof DemoFailure
          ? { code: e.code, message: e.message }
          : { code: 'INTERNAL', message: String(e) };
      this.push({ id, title, status: 'failed', error, ms: Math.round(performance.now() - t0) });
      return undefined;
    }
  }
}

class DemoFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const demoGroup: CliGroup = {
  name: 'demo',
  description: 'run the end-to-end demonstration (no arguments needed)',
  register(cmd, ctx) {
    cmd
      .option('--keep <dir>', 'work in DIR and keep every artifact for inspection')
      .action(async (o: { keep?: string }) => {
        const started = performance.now();
        const dir = o.keep ?? mkdtempSync(join(tmpdir(), 'lsvm-demo-'));
        if (o.keep) mkdirSync(dir, { recursive: true });
        const rec = new DemoRecorder((s) =>
          ctx.info(
            `${s.status === 'passed' ? 'ok  ' : s.status === 'failed' ? 'FAIL' : 'skip'}  ${s.id} (${s.ms} ms)`,
          ),
        );
        const swtpmPath = findOnPath('swtpm', ctx.io.env.PATH ?? process.env.PATH);
        const template = join(dir, 'template.vhdx');
        const vmDisk = join(dir, 'vm.vhdx');
        const vars: SecureBootVars = defaultSecureBootVars();
        let sw: SwtpmInstance | undefined;
        try {
          await rec.run(
            'sample-template',
            'build a sample Linux template disk (VHDX: ESP, LUKS1 boot, LUKS2 root)',
            async () => {
              const s = await makeSampleTemplate(template, { size: 128 * 1024 * 1024 });
              return { value: s, detail: { path: template, shim: s.shim, loader: s.loader } };
            },
          );
          await rec.run(
            'check-template',
            'check the template (GPT, ESP, lsvmconf, LUKS, boot files, no secrets)',
            async () => {
              const r = await checkTemplate(template);
              if (!r.clean)
                throw new DemoFailure('TEMPLATE_FINDINGS', r.findings.map((f) => f.code).join(', '));
              return { value: r, detail: { findings: 0 } };
            },
          );
          const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
          const signer = createCertificate({
            subject: [['CN', 'lsvm demo template signer']],
            publicKey: privateKey,
            issuerKey: privateKey,
          });
          await rec.run(
            'protect-template',
            'protect it: sign a Volume Signature Catalog of boot and root',
            async () => {
              const p = await protectTemplate(template, {
                signer: { certificate: signer.der, privateKey },
                name: 'Sample',
                version: '1.0.0.0',
              });
              return { value: p, detail: { vsc: p.vscPath, bytes: p.vscBytes } };
            },
          );
          const owner = generateGuardian('Owner', { algorithm: 'p256' });
          const fabric = generateGuardian('Fabric', { algorithm: 'p256' });
          const stranger = generateGuardian('Stranger', { algorithm: 'p256' });
          const pdk = await rec.run(
            'shielding-data',
            'owner, fabric guardian and shielding data (VolumeIdQualifier: Sample ≥ 1.0.0.0 by this signer)',
            async () => {
              const bytes = createPdk({
                owner,
                guardians: [exportGuardian(fabric)],
                viqs: [
                  {
                    name: 'Sample',
                    version: '1.0.0.0',
                    rule: 'GreaterThanOrEquals',
                    signer: certificateThumbprint(signer.der),
                  },
                ],
                secrets: {
                  answerFile: {
                    name: 'unattend.xml',
                    data: new TextEncoder().encode('<unattend>hostname=@ComputerName@</unattend>\n'),
                  },
                  files: [],
                  credentials: [],
                  sshKeys: [],
                },
              });
              return { value: bytes, detail: { bytes: bytes.length } };
            },
          );

          if (swtpmPath) {
            sw = await rec.run('swtpm', "start swtpm as the VM's TPM", async () => {
              const s = await startSwtpm({ swtpmPath });
              return { value: s, detail: { tcti: s.tcti } };
            });
          } else
            rec.skip(
              'swtpm',
              "start swtpm as the VM's TPM",
              `swtpm is not on PATH (install: ${SWTPM_INSTALL})`,
            );

          let provisioned = false;
          if (sw && pdk) {
            const s = sw;
            provisioned =
              (await rec.run(
                'provision',
                'provision a VM disk: verify, clone, re-key, seal to the TPM, specialization',
                async () => {
                  const r = await provision(template, vmDisk, {
                    pdk,
                    guardian: fabric,
                    tcti: s.tcti,
                    clone: 'differencing',
                  });
                  return { value: r.ok, detail: { vmDisk, pcrs: r.pcrs } };
                },
              )) === true;
          } else rec.skip('provision', 'provision a VM disk', `needs swtpm (install: ${SWTPM_INSTALL})`);

          if (sw && provisioned) {
            const s = sw;
            await rec.run(
              'boot-unlock',
              'boot unlock as lsvmload: PCRs, unseal, cap, volumes, specialize, initrd, chain',
              async () => {
                const tpm = await reboot(s);
                const d = await openDisk(vmDisk, { writable: true });
                try {
                  const r = await bootUnlock(d.disk, { tpm, vars, measureFirmware: true });
                  if (!r.report.ok)
                    throw new DemoFailure(
                      'BOOT_UNLOCK_FAILED',
                      stepsText(r.report.steps.filter((x) => x.status === 'failed')),
                    );
                  return { value: r, detail: { steps: r.report.steps.map((x) => `${x.id}:${x.status}`) } };
                } finally {
                  await d.close();
                  await tpm.close();
                }
              },
            );
          } else
            rec.skip('boot-unlock', 'boot unlock as lsvmload', `needs swtpm (install: ${SWTPM_INSTALL})`);

          const target = provisioned ? vmDisk : template;
          await rec.run(
            'validate-boot-path',
            `validate the boot path of the ${provisioned ? 'VM disk' : 'template'} (no TPM needed)`,
            async () => {
              const d = await openDisk(target);
              try {
                const v = await validateBootPath(d.disk, { vars });
                if (!v.ok)
                  throw new DemoFailure(
                    'BOOT_PATH_INVALID',
                    stepsText(v.steps.filter((x) => x.status === 'failed')),
                  );
                return {
                  value: v,
                  detail: { kind: v.kind, checks: v.steps.filter((x) => x.status === 'passed').length },
                };
              } finally {
                await d.close();
              }
            },
          );

          if (pdk)
            await rec.run(
              'tampered-template',
              'protection: a byte flipped in the template root makes provisioning refuse',
              async () => {
                const tampered = join(dir, 'template-tampered.vhdx');
                copyFileSync(template, tampered);
                const d = await openDisk(tampered, { writable: true });
                try {
                  const { table } = await readGpt(d.disk);
                  const root = partitionSlice(d.disk, table, 3);
                  const at = Math.floor(root.size / 2);
                  const b = await root.read(at, 1);
                  await root.write(at, Uint8Array.of(b[0]! ^ 0xff));
                } finally {
                  await d.close();
                }
                try {
                  // The refusal comes before any TPM use, so this runs without swtpm too.
                  await provision(tampered, join(dir, 'vm-from-tampered.vhdx'), {
                    pdk,
                    guardian: fabric,
                    tcti: sw?.tcti ?? 'swtpm:host=127.0.0.1,port=9',
                  });
                } catch (e) {
                  if (isLsvmError(e) && e.kind === 'verification')
                    return { value: undefined, detail: { refused: `${e.code}: ${e.message}` } };
                  throw e;
                }
                throw new DemoFailure('DEMO_NOT_REFUSED', 'provisioning accepted a tampered template');
              },
            );

          if (sw && provisioned) {
            const s = sw;
            await rec.run('changed-db', 'protection: a changed db makes the unseal fail', async () => {
              const extra = buildSignatureList({
                type: 'sha256',
                signatures: [{ owner: LSVM_TEST_OWNER_GUID, data: new Uint8Array(32).fill(0x5a) }],
              });
              const changed: SecureBootVars = { ...vars, db: new Uint8Array([...vars.db, ...extra]) };
              const tpm = await reboot(s);
              const d = await openDisk(vmDisk, { writable: true });
              try {
                const r = await bootUnlock(d.disk, { tpm, vars: changed, measureFirmware: true });
                const u = r.report.steps.find((x) => x.id === 'unseal');
                if (u?.status !== 'failed')
                  throw new DemoFailure('DEMO_NOT_REFUSED', 'the keys unsealed under a changed db');
                return { value: undefined, detail: { unseal: u.error?.code } };
              } finally {
                await d.close();
                await tpm.close();
              }
            });
          } else
            rec.skip(
              'changed-db',
              'protection: a changed db makes the unseal fail',
              `needs swtpm (install: ${SWTPM_INSTALL})`,
            );

          if (pdk)
            await rec.run(
              'wrong-guardian',
              'protection: a guardian not named in the shielding data cannot open it',
              async () => {
                try {
                  openPdk(pdk, stranger);
                } catch (e) {
                  if (isLsvmError(e)) return { value: undefined, detail: { refused: e.code } };
                  throw e;
                }
                throw new DemoFailure('DEMO_NOT_REFUSED', 'a stranger opened the shielding data');
              },
            );
        } finally {
          await sw?.stop();
          if (!o.keep) rmSync(dir, { recursive: true, force: true });
        }

        const failed = rec.steps.filter((s) => s.status === 'failed');
        const skipped = rec.steps.filter((s) => s.status === 'skipped');
        if (failed.length > 0) ctx.findings();
        const ms = Math.round(performance.now() - started);
        ctx.result(
          {
            ok: failed.length === 0,
            swtpm: swtpmPath !== undefined,
            ...(o.keep ? { kept: dir } : {}),
            steps: rec.steps,
            skipped: skipped.map((s) => s.id),
            ...(skipped.length > 0 && !swtpmPath ? { install: SWTPM_INSTALL } : {}),
            ms,
          },
          () => summary(rec.steps, ms, swtpmPath !== undefined, o.keep ? dir : undefined),
        );
      });
  },
};

function summary(steps: BootStep[], ms: number, swtpm: boolean, kept: string | undefined): string {
  const w = Math.max(...steps.map((s) => s.id.length), 4);
  const lines = [`${'step'.padEnd(w)}  result   time`, `${'-'.repeat(w)}  -------  --------`];
  for (const s of steps) {
    const result = s.status === 'passed' ? 'ok' : s.status === 'failed' ? 'FAILED' : 'skipped';
    const time = s.status === 'skipped' ? '' : `${(s.ms / 1000).toFixed(2)} s`;
    lines.push(`${s.id.padEnd(w)}  ${result.padEnd(7)}  ${time.padStart(8)}  ${s.title}`);
    if (s.status === 'failed') lines.push(`${''.padEnd(w)}           ${s.error?.code}: ${s.error?.message}`);
    const note = s.detail?.refused ?? s.detail?.unseal;
    if (s.status === 'passed' && note) lines.push(`${''.padEnd(w)}           → ${String(note)}`);
  }
  const failed = steps.filter((s) => s.status === 'failed').length;
  const skipped = steps.filter((s) => s.status === 'skipped').map((s) => s.id);
  lines.push('');
  lines.push(
    failed === 0
      ? `all steps passed in ${(ms / 1000).toFixed(1)} s`
      : `${failed} step(s) failed (${(ms / 1000).toFixed(1)} s)`,
  );
  if (!swtpm && skipped.length > 0)
    lines.push(`skipped without swtpm: ${skipped.join(', ')} — install it with: ${SWTPM_INSTALL}`);
  if (kept) lines.push(`artifacts kept in ${kept}`);
  return lines.join('\n');
}
