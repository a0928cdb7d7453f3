import { type BlockDevice, zeroize } from '@lsvm/core';
import { openLuks, unlockLuks } from '@lsvm/luks2';
import type { Certificate, SignatureDatabase } from '@lsvm/pe-authenticode';
import { parseSignatureLists, signatureDatabase } from '@lsvm/pe-authenticode';
import { type SealedKeys, type Tpm, TpmError, parseSealedKeys, unsealLsvmload } from '@lsvm/tpm2-marshal';
import { withExtFs } from '../ext-fs.js';
import { type KeysPayload, decodeKeysPayload } from '../keys-payload.js';
import type { LsvmConf } from '../lsvmconf.js';
import { verifyBootChain } from './chain.js';
import {
  BOOT_FS_PATHS,
  ESP_PATHS,
  findLuksPartition,
  openVmDisk,
  readEspFile,
  readLsvmConf,
} from './disk.js';
import type { SecureBootVars } from '../secure-boot.js';
import { firmwareEvents } from './firmware.js';
import { injectInitrdKeys, readDefaultInitrd } from './initrd.js';
import { capPcr11, measureFirmware, measureScenario, policySatisfiable } from './pcr.js';
import { type BootReport, BootStepFailure, BootStepRecorder } from './report.js';
import { applySpecialization } from './specialize.js';

/**
 * `bootUnlock` — what lsvmload does at every boot, in user space against a (software) TPM, step by
 * step: optional firmware PCR 7 simulation, lsvmconf, PCR 11 scenario, unseal, cap and proof,
 * boot and root volumes, first-boot specialization, initrd key injection, boot chain check.
 */

/** Options of {@link bootUnlock}. */
export interface BootUnlockOptions {
  /** The VM's TPM (a connection to swtpm, a simulator or a device). */
  tpm: Tpm;
  /**
   * Secure Boot variables: measured into PCR 7 when `measureFirmware` is set, and their db/dbx
   * used for the boot chain check.
   */
  vars?: SecureBootVars;
  /** Step 0: extend PCR 7 as UEFI firmware would (start from a fresh TPM). */
  measureFirmware?: boolean;
  /** Extra trust anchors for the ESP loader. */
  loaderTrust?: Certificate[];
  /** Anchors for shim (default: the Microsoft UEFI CA 2011). */
  shimTrust?: Certificate[];
  /** Return the keyed initrd in the result (it holds the passphrases: zero it when done). */
  keepInitrd?: boolean;
  /** The sealed object's authValue (lsvmload uses an empty one). */
  authValue?: Uint8Array;
  /**
   * How the cap is proven: `unseal` (default) tries a second unseal, which must fail with a policy
   * error — the most direct proof, but on a real TPM each such failure counts against its
   * dictionary-attack lockout (the object is DA-protected); `policy` has the TPM compute the policy
   * digest over the capped PCRs and shows it no longer matches, which costs no DA failure.
   */
  capProof?: 'unseal' | 'policy';
}

/** The result: the report, and the keyed initrd when asked for. */
export interface BootUnlockResult {
  report: BootReport;
  initrd?: Uint8Array;
}

function databases(vars: SecureBootVars | undefined): { db?: SignatureDatabase; dbx?: SignatureDatabase } {
  if (!vars) return {};
  return {
    ...(vars.db.length > 0 ? { db: signatureDatabase(parseSignatureLists(vars.db)) } : {}),
    ...(vars.dbx.length > 0 ? { dbx: signatureDatabase(parseSignatureLists(vars.dbx)) } : {}),
  };
}

/**
 * Runs the boot unlock on `disk` (opened writable: the first boot writes specialization files and
 * removes `specialization.aes`). Every step is reported; a failed step stops the steps that
 * depend on it. No secret enters the report.
 */
export async function bootUnlock(disk: BlockDevice, options: BootUnlockOptions): Promise<BootUnlockResult> {
  const rec = new BootStepRecorder();
  const { tpm } = options;
  const writable = !disk.readOnly;
  const vm = await openVmDisk(disk, { writable });
  let keys: KeysPayload | undefined;
  let bootVolumeKey: Uint8Array | undefined;
  let initrd: Uint8Array | undefined;
  try {
    const loader = await readEspFile(vm, ESP_PATHS.loader);

    if (options.measureFirmware) {
      await rec.run(
        'measure-firmware',
        'simulate firmware: measure Secure Boot state into PCR 7',
        async () => {
          if (!options.vars)
            throw new BootStepFailure('BOOT_NO_VARS', 'firmware simulation needs the Secure Boot variables');
          const events = firmwareEvents(options.vars, loader);
          await measureFirmware(tpm, events);
          return {
            value: undefined,
            detail: {
              secureBoot: options.vars.secureBoot === 1,
              events: events.length,
            },
          };
        },
      );
    }

    const conf = await rec.run<LsvmConf>('read-lsvmconf', 'read \\EFI\\boot\\lsvmconf', async () => {
      const c = await readLsvmConf(vm);
      return { value: c, detail: { ...c } };
    });

    await rec.run('measure-pcr11', 'measure the Linux scenario events into PCR 11', async () => {
      await measureScenario(tpm);
      return { value: undefined, detail: { events: 3 } };
    });

    const sealedBytes = await readEspFile(vm, ESP_PATHS.sealedkeys);
    let sealed: SealedKeys | undefined;
    keys = await rec.run(
      'unseal',
      'unseal \\EFI\\boot\\sealedkeys (PolicyPassword + PolicyPCR 7,11, salted, encrypted)',
      async () => {
        if (!sealedBytes)
          throw new BootStepFailure('BOOT_NO_SEALEDKEYS', 'the ESP has no \\EFI\\boot\\sealedkeys');
        // A malformed file fails this step (FormatError), like any other bad input on the ESP.
        sealed = parseSealedKeys(sealedBytes);
        const payload = await unsealLsvmload(
          tpm,
          sealed,
          options.authValue ? { authValue: options.authValue } : {},
        );
        try {
          const k = decodeKeysPayload(payload);
          return { value: k, detail: { pcrs: sealed.pcrs, keys: ['boot', 'root'] } };
        } finally {
          zeroize(payload);
        }
      },
    );

    if (keys && sealed) {
      const sk: SealedKeys = sealed;
      await rec.run('cap-pcr11', 'cap PCR 11 and prove a second unseal fails', async () => {
        const { banks } = await capPcr11(tpm);
        if (options.capProof === 'policy') {
          if (!(await policySatisfiable(tpm, sk)))
            return {
              value: undefined,
              detail: { banks, proof: 'policy digest over the capped PCRs differs from authPolicy' },
            };
        } else
          try {
            const again = await unsealLsvmload(
              tpm,
              sk,
              options.authValue ? { authValue: options.authValue } : {},
            );
            zeroize(again);
          } catch (e) {
            if (e instanceof TpmError && e.kind === 'auth')
              return { value: undefined, detail: { banks, secondUnseal: e.code } };
            throw e;
          }
        throw new BootStepFailure(
          'BOOT_CAP_INEFFECTIVE',
          'the sealed keys still unseal after capping PCR 11',
        );
      });
    } else rec.skip('cap-pcr11', 'cap PCR 11 and prove a second unseal fails', 'nothing was unsealed');

    let bootDevice: BlockDevice | undefined;
    if (keys && conf) {
      const k = keys;
      bootDevice = await rec.run(
        'open-boot',
        'open the boot volume (BootDeviceLUKS) with the boot key',
        async () => {
          const p = await findLuksPartition(vm, conf.bootDeviceLuks, { writable });
          const r = await unlockLuks(p.device, p.volume, k.boot);
          bootVolumeKey = r.volumeKey;
          return {
            value: p.device,
            detail: {
              partition: p.entry.index,
              uuid: p.uuid,
              luks: p.volume.version,
              keyslot: r.keyslot,
              keyBits: r.volumeKey.length * 8,
            },
          };
        },
      );
      await rec.run(
        'open-root',
        'open the root volume (RootDeviceLUKS) with the root key (validation only)',
        async () => {
          const p = await findLuksPartition(vm, conf.rootDeviceLuks);
          const r = await unlockLuks(p.device, p.volume, k.root);
          zeroize(r.volumeKey);
          return {
            value: undefined,
            detail: { partition: p.entry.index, uuid: p.uuid, luks: p.volume.version, keyslot: r.keyslot },
          };
        },
      );
    } else {
      rec.skip('open-boot', 'open the boot volume', 'no keys');
      rec.skip('open-root', 'open the root volume', 'no keys');
    }

    let shim: Uint8Array | undefined;
    let grub: Uint8Array | undefined;
    if (bootDevice && bootVolumeKey && keys) {
      const plain = await openLuks(bootDevice, { volumeKey: bootVolumeKey }, { readOnly: !writable });
      const k = keys;
      try {
        await withExtFs(plain, async (fs) => {
          const spec = await readEspFile(vm, ESP_PATHS.specialization);
          if (!spec)
            rec.skip(
              'specialize',
              'first boot: apply specialization.aes',
              'no specialization.aes on the ESP (not a first boot)',
            );
          else
            await rec.run(
              'specialize',
              'first boot: apply specialization.aes to the boot file system',
              async () => {
                if (!writable)
                  throw new BootStepFailure(
                    'BOOT_READ_ONLY',
                    'the disk is open read-only; specialization writes to it',
                  );
                const r = await applySpecialization(fs, spec, bootVolumeKey!);
                await vm.esp.fs.remove(ESP_PATHS.specialization);
                return {
                  value: undefined,
                  detail: {
                    files: r.files,
                    authenticated: r.authenticated,
                    removed: ESP_PATHS.specialization,
                  },
                };
              },
            );
          initrd = await rec.run(
            'inject-initrd',
            'inject the keys into a copy of the default initrd',
            async () => {
              const d = await readDefaultInitrd(fs);
              const r = await injectInitrdKeys(d.bytes, k);
              return {
                value: r.bytes,
                detail: {
                  grubCfg: d.grubCfg,
                  entry: d.entry.title,
                  initrd: d.path,
                  size: r.bytes.length,
                  removed: r.removed,
                },
              };
            },
          );
          shim = (await fs.exists(BOOT_FS_PATHS.shim)) ? await fs.readFile(BOOT_FS_PATHS.shim) : undefined;
          grub = (await fs.exists(BOOT_FS_PATHS.grub)) ? await fs.readFile(BOOT_FS_PATHS.grub) : undefined;
        });
      } finally {
        await plain.close();
      }
    } else {
      rec.skip('specialize', 'first boot: apply specialization.aes', 'boot volume not open');
      rec.skip('inject-initrd', 'inject the keys into the initrd', 'boot volume not open');
    }

    await rec.run(
      'verify-chain',
      'verify the boot chain: loader, shim, grub (db, dbx, shim vendor cert)',
      async () => {
        const r = verifyBootChain({
          ...(loader ? { loader } : {}),
          ...(shim ? { shim } : {}),
          ...(grub ? { grub } : {}),
          ...(options.loaderTrust ? { loaderTrust: options.loaderTrust } : {}),
          ...(options.shimTrust ? { shimTrust: options.shimTrust } : {}),
          ...databases(options.vars),
        });
        const detail = { links: r.links };
        if (!r.trusted) {
          const bad = r.links.filter((l) => !l.trusted);
          throw new BootStepFailure(
            bad.some((l) => l.revoked) ? 'BOOT_CHAIN_REVOKED' : 'BOOT_CHAIN_UNTRUSTED',
            bad.map((l) => l.reason?.message ?? `${l.name} untrusted`).join('; '),
            detail,
          );
        }
        return { value: undefined, detail };
      },
    );
  } finally {
    if (keys) {
      zeroize(keys.boot);
      zeroize(keys.root);
    }
    if (bootVolumeKey) zeroize(bootVolumeKey);
    await vm.close();
  }
  const result: BootUnlockResult = { report: rec.report() };
  if (initrd) {
    if (options.keepInitrd) result.initrd = initrd;
    else zeroize(initrd);
  }
  return result;
}
