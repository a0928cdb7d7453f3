import { type BlockDevice, UsageError, toHex, zeroize } from '@lsvm/core';
import { openLuks, unlockLuks } from '@lsvm/luks2';
import {
  type Certificate,
  EFI_IMAGE_SECURITY_DATABASE_GUID,
  EFI_VARIABLE,
  SECURE_BOOT_VARIABLE_ATTRIBUTES,
  buildSignatureList,
  parseAuthVariable,
  parseSignatureLists,
  signatureDatabase,
  verifyAuthVariable,
} from '@lsvm/pe-authenticode';
import {
  type Tpm,
  parseSealedKeys,
  sealLsvmload,
  serializeSealedKeys,
  unsealLsvmload,
} from '@lsvm/tpm2-marshal';
import { type ExtFs, withExtFs } from '../ext-fs.js';
import type { KeysPayload } from '../keys-payload.js';
import { decodeKeysPayload, encodeKeysPayload } from '../keys-payload.js';
import type { LsvmConf } from '../lsvmconf.js';
import type { SecureBootVars } from '../secure-boot.js';
import { verifyBootChain } from './chain.js';
import {
  BOOT_FS_PATHS,
  ESP_PATHS,
  findLuksPartition,
  openVmDisk,
  readEspFile,
  readLsvmConf,
} from './disk.js';
import { firmwareEvents, predictUnsealPcrs } from './firmware.js';
import { capPcr11, measureFirmware, measureScenario } from './pcr.js';
import { type BootReport, BootStepFailure, BootStepRecorder } from './report.js';

/**
 * `applyDbxUpdate` — lsvmload's maintenance boot. A dbx update (an authenticated variable, e.g.
 * Microsoft's dbxupdate.bin) changes PCR 7 once firmware applies it, which would lock the VM out
 * of its own sealed keys. So, during a boot whose PCRs still match: unseal the keys, check the
 * update is signed by a KEK and does not revoke the VM's own boot chain (refuse if it does — the
 * VM would not boot), predict PCR 7 with the new dbx, reseal `sealedkeys` to it, and remove the
 * update from the boot file system.
 */

/** Where lsvmload finds a pending dbx update on the boot file system. */
export const DBX_UPDATE_PATH = '/lsvmload/dbxupdate.bin';

/** Options of {@link applyDbxUpdate}. */
export interface ApplyDbxUpdateOptions {
  tpm: Tpm;
  /** The current Secure Boot state (before the update). */
  vars: SecureBootVars;
  /** The update; default: {@link DBX_UPDATE_PATH} on the boot file system (removed once applied). */
  update?: Uint8Array;
  /** Certificates allowed to sign the update; default the KEK's. */
  signers?: Certificate[];
  /** Extend PCR 7 as firmware would first (a fresh TPM). */
  measureFirmware?: boolean;
  loaderTrust?: Certificate[];
  shimTrust?: Certificate[];
}

/** The result: the report and, when applied, the Secure Boot state after the update. */
export interface DbxUpdateResult {
  report: BootReport;
  applied: boolean;
  /** `vars` with the new dbx (firmware's state once it applied the update). */
  vars?: SecureBootVars;
}

/**
 * Appends an update's signature lists to dbx as firmware does for an APPEND_WRITE (UEFI 2.10
 * §8.2.6: entries already present are dropped, the rest appended as new lists).
 */
export function appendToDbx(current: Uint8Array, update: Uint8Array): { dbx: Uint8Array; added: number } {
  const have = new Set<string>();
  for (const l of current.length > 0 ? parseSignatureLists(current) : [])
    for (const s of l.signatures) have.add(`${l.type}:${toHex(s.data)}`);
  const parts: Uint8Array[] = [current];
  let added = 0;
  for (const l of parseSignatureLists(update)) {
    const fresh = l.signatures.filter((s) => {
      const k = `${l.type}:${toHex(s.data)}`;
      if (have.has(k)) return false;
      have.add(k);
      return true;
    });
    if (fresh.length === 0) continue;
    added += fresh.length;
    parts.push(buildSignatureList({ type: l.type, header: l.header, signatures: fresh }));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return { dbx: out, added };
}

/** Runs the maintenance boot on `disk` (opened writable). */
export async function applyDbxUpdate(
  disk: BlockDevice,
  options: ApplyDbxUpdateOptions,
): Promise<DbxUpdateResult> {
  if (disk.readOnly)
    throw new UsageError(
      'BOOT_READ_ONLY',
      'applying a dbx update rewrites sealedkeys: open the disk writable',
    );
  const rec = new BootStepRecorder();
  const { tpm, vars } = options;
  const vm = await openVmDisk(disk, { writable: true });
  let keys: KeysPayload | undefined;
  let bootVolumeKey: Uint8Array | undefined;
  let newVars: SecureBootVars | undefined;
  let applied = false;
  try {
    const loader = await readEspFile(vm, ESP_PATHS.loader);
    if (options.measureFirmware)
      await rec.run(
        'measure-firmware',
        'simulate firmware: measure the current Secure Boot state into PCR 7',
        async () => {
          await measureFirmware(tpm, firmwareEvents(vars, loader));
          return { value: undefined };
        },
      );
    const conf = await rec.run<LsvmConf>('read-lsvmconf', 'read \\EFI\\boot\\lsvmconf', async () => ({
      value: await readLsvmConf(vm),
    }));
    await rec.run('measure-pcr11', 'measure the Linux scenario events into PCR 11', async () => {
      await measureScenario(tpm);
      return { value: undefined };
    });
    const sealedBytes = await readEspFile(vm, ESP_PATHS.sealedkeys);
    keys = await rec.run('unseal', 'unseal \\EFI\\boot\\sealedkeys with the current PCRs', async () => {
      if (!sealedBytes)
        throw new BootStepFailure('BOOT_NO_SEALEDKEYS', 'the ESP has no \\EFI\\boot\\sealedkeys');
      const payload = await unsealLsvmload(tpm, parseSealedKeys(sealedBytes));
      try {
        return { value: decodeKeysPayload(payload) };
      } finally {
        zeroize(payload);
      }
    });
    if (keys)
      await rec.run('cap-pcr11', 'cap PCR 11', async () => ({
        value: undefined,
        detail: await capPcr11(tpm),
      }));
    if (!keys || !conf) return { report: rec.report(), applied };

    const k = keys;
    const boot = await findLuksPartition(vm, conf.bootDeviceLuks, { writable: true });
    bootVolumeKey = (await unlockLuks(boot.device, boot.volume, k.boot)).volumeKey;
    const plain = await openLuks(boot.device, { volumeKey: bootVolumeKey });
    try {
      await withExtFs(plain, async (fs: ExtFs) => {
        const fromFs = !options.update;
        const update = await rec.run('read-update', 'read the dbx update', async () => {
          if (options.update) return { value: options.update, detail: { source: 'given' } };
          if (!(await fs.exists(DBX_UPDATE_PATH)))
            throw new BootStepFailure(
              'DBX_UPDATE_MISSING',
              `no update given and none at ${DBX_UPDATE_PATH} on the boot file system`,
            );
          return { value: await fs.readFile(DBX_UPDATE_PATH), detail: { source: DBX_UPDATE_PATH } };
        });
        if (!update) return;
        const lists = await rec.run(
          'verify-update',
          'the update is an authenticated dbx variable signed by a KEK',
          async () => {
            const v = parseAuthVariable(update);
            if (!v.lists)
              throw new BootStepFailure(
                'DBX_UPDATE_NOT_ESL',
                'the update does not carry EFI_SIGNATURE_LISTs',
              );
            const signers =
              options.signers ??
              (vars.KEK.length > 0 ? signatureDatabase(parseSignatureLists(vars.KEK)).certificates : []);
            const target = { name: 'dbx', vendorGuid: EFI_IMAGE_SECURITY_DATABASE_GUID };
            // Append updates are signed with APPEND_WRITE in the attributes; plain ones without.
            const attempts = [
              SECURE_BOOT_VARIABLE_ATTRIBUTES | EFI_VARIABLE.APPEND_WRITE,
              SECURE_BOOT_VARIABLE_ATTRIBUTES,
            ].map((attributes) => verifyAuthVariable(v, { ...target, attributes }, signers));
            const ok = attempts.find((a) => a.trusted);
            if (!ok)
              throw new BootStepFailure(
                'DBX_UPDATE_UNTRUSTED',
                `the update is not signed by a KEK: ${attempts[0]!.failures.map((f) => f.message).join('; ')}`,
              );
            return {
              value: v.data,
              detail: {
                signer: ok.signer?.subject,
                entries: v.lists.reduce((n, l) => n + l.signatures.length, 0),
              },
            };
          },
        );
        if (!lists) return;
        const appended = appendToDbx(vars.dbx, lists);
        const candidate: SecureBootVars = { ...vars, dbx: appended.dbx };
        const chainOk = await rec.run(
          'check-revocation',
          "the updated dbx does not revoke this VM's boot chain",
          async () => {
            const shim = (await fs.exists(BOOT_FS_PATHS.shim))
              ? await fs.readFile(BOOT_FS_PATHS.shim)
              : undefined;
            const grub = (await fs.exists(BOOT_FS_PATHS.grub))
              ? await fs.readFile(BOOT_FS_PATHS.grub)
              : undefined;
            const r = verifyBootChain({
              ...(loader ? { loader } : {}),
              ...(shim ? { shim } : {}),
              ...(grub ? { grub } : {}),
              ...(options.loaderTrust ? { loaderTrust: options.loaderTrust } : {}),
              ...(options.shimTrust ? { shimTrust: options.shimTrust } : {}),
              db: signatureDatabase(parseSignatureLists(vars.db)),
              dbx: signatureDatabase(parseSignatureLists(candidate.dbx)),
            });
            const revoked = r.links.filter((l) => l.revoked);
            if (revoked.length > 0)
              throw new BootStepFailure(
                'DBX_UPDATE_REVOKES_CHAIN',
                `refused: the update revokes ${revoked.map((l) => `${l.name} (${l.revoked!.by} ${l.revoked!.detail})`).join(', ')}`,
              );
            return { value: true, detail: { added: appended.added } };
          },
        );
        if (!chainOk) return;
        await rec.run('reseal', 'predict PCR 7 with the new dbx and reseal sealedkeys', async () => {
          const p = predictUnsealPcrs(candidate, loader);
          const payload = encodeKeysPayload(k);
          try {
            const sealed = await sealLsvmload(tpm, payload, { pcrValues: [p.pcr7, p.pcr11] });
            const tmp = `${ESP_PATHS.sealedkeys}.new`;
            await vm.esp.fs.writeFile(tmp, serializeSealedKeys(sealed));
            await vm.esp.fs.remove(ESP_PATHS.sealedkeys);
            await vm.esp.fs.rename(tmp, ESP_PATHS.sealedkeys);
            await vm.esp.fs.flush();
          } finally {
            zeroize(payload);
          }
          return { value: undefined, detail: { pcr7: toHex(p.pcr7) } };
        });
        if (!rec.ok) return;
        newVars = candidate;
        applied = true;
        if (fromFs)
          await rec.run('remove-update', `remove ${DBX_UPDATE_PATH}`, async () => {
            await fs.unlink(DBX_UPDATE_PATH);
            return { value: undefined };
          });
      });
    } finally {
      await plain.close();
    }
  } finally {
    if (keys) {
      zeroize(keys.boot);
      zeroize(keys.root);
    }
    if (bootVolumeKey) zeroize(bootVolumeKey);
    await vm.close();
  }
  return { report: rec.report(), applied, ...(newVars ? { vars: newVars } : {}) };
}
