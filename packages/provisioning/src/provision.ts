import { rmSync } from 'node:fs';
import {
  type LongOperationOptions,
  FileDevice,
  UsageError,
  VerificationError,
  isLsvmError,
  toHex,
  zeroize,
} from '@lsvm/core';
import { FatFileSystem } from '@lsvm/fat';
import { REENCRYPT_DEFAULT_CHUNK, readLuks, reencryptJournalSize } from '@lsvm/luks2';
import {
  type GuardianKeys,
  type PdkSecrets,
  type SpecializationFile,
  SPECIALIZATION_UNATTEND_NAME,
  applyFsk,
  checkSpecializationFileName,
  openPdk,
  packSpecialization,
  parseFsk,
  readGuardianDir,
  verifyFsk,
  zeroSecrets,
} from '@lsvm/shielding-data';
import { Tpm, openTcti, sealLsvmload, serializeSealedKeys } from '@lsvm/tpm2-marshal';
import {
  type Catalog,
  VolumeIdQualifier as CatalogQualifier,
  verifyCatalogSignature,
  verifyVolumes,
} from '@lsvm/vsc';
import { type CloneMode, cloneTemplate } from './clone.js';
import { openDisk } from './disk.js';
import { encodeKeysPayload } from './keys-payload.js';
import {
  LOADER_PATH,
  LSVMCONF_PATH,
  SEALEDKEYS_PATH,
  SPECIALIZATION_PATH,
  WELL_KNOWN_PASSPHRASE,
  locateTemplate,
  readLsvmConfFrom,
} from './layout.js';
import { type LsvmConf, serializeLsvmConf } from './lsvmconf.js';
import { describeMismatch, locateWithConf, readTemplateCatalog } from './protect.js';
import {
  REKEY_KDF,
  type RekeyMode,
  type RekeyResult,
  newVolumePassphrase,
  reencryptVolume,
  rekeyVolume,
} from './rekey.js';
import { type SecureBootVars, defaultSecureBootVars, predictPcr11, predictPcr7 } from './secure-boot.js';
import { type StepReport, StepRecorder } from './steps.js';
import { type SystemdTokenResult, assertTokenCapable, enrollSystemdTpm2Token } from './systemd-token.js';

/**
 * `provision`: a shielded VM's disk from a protected template, the host side of what lsvmload
 * consumes at first boot. Steps (each reported with its duration, never with a secret):
 *
 * 1. `shielding-data` — open the PDK with the guardian key (standing in for the Host Guardian
 *    Service releasing it to a healthy host); its signatures are verified.
 * 2. `verify-template` — the template's catalog must satisfy one of the PDK's VolumeIdQualifiers
 *    (signature pinned to the qualifier's signer, name pattern, version rule).
 * 3. `clone` — the VM disk: a full copy or a VHDX differencing child.
 *    `verify-volumes` — every block of boot and root on the new disk must match the catalog; any
 *    difference refuses (the VM disk is removed), naming the byte range.
 * 4. `rekey` — fresh random passphrases on boot and root: mode `keyslot` (keys stay) or
 *    `reencrypt` (new volume keys, data re-encrypted through a journal beside the VM disk).
 * 5. `seal` — both passphrases sealed to the VM's TPM under PolicyPassword + PolicyPCR(sha256:
 *    7, 11) with PCR values predicted offline, written to `\EFI\boot\sealedkeys`.
 *    `systemd-token` (only with `systemdToken`) — a `systemd-tpm2` LUKS2 token on the root volume,
 *    as `systemd-cryptenroll --tpm2-pcrs=7+11` makes, bound to the same predicted PCR values.
 * 6. `specialization` — the answer file (FSK values applied) and files, as
 *    `\EFI\boot\specialization.aes` under the boot volume key.
 * 7. `lsvmconf` — `\EFI\boot\lsvmconf` naming the VM's volumes.
 *
 * The template is only ever opened read-only; on any failure the VM disk is removed.
 */

/** Options of {@link provision}. */
export interface ProvisionOptions extends LongOperationOptions {
  /** The shielding data file (bytes). */
  pdk: Uint8Array;
  /** The guardian's private keys, or the path of a guardian directory. */
  guardian: GuardianKeys | string;
  /** TCTI of the VM's TPM (`swtpm:host=127.0.0.1,port=2321`, `device:/dev/tpmrm0`). */
  tcti: string;
  /** Secure Boot variables of the VM (default: {@link defaultSecureBootVars}). */
  secureBootVars?: SecureBootVars;
  /** Specialization data file (FSK) bytes. */
  fsk?: Uint8Array;
  /** Require the FSK to be signed by this certificate thumbprint. */
  fskSigner?: string;
  /** Default `copy`. */
  clone?: CloneMode;
  /** Default `keyslot`. */
  rekey?: RekeyMode;
  /** Extra trust anchors (DER) the catalog signer must also chain to. */
  trustAnchors?: Uint8Array[];
  /** Re-encryption journal record size (default 1 MiB). */
  reencryptChunkSize?: number;
  /** specialization.aes mode: 1 (lsvmload's, default) or 2 (adds lsvm's HMAC). */
  specializationMode?: 1 | 2;
  /**
   * Also enroll a `systemd-tpm2` token (PCRs 7 and 11, predicted) with its own keyslot on the root
   * volume, which must then be LUKS2 (checked before anything is written).
   */
  systemdToken?: boolean;
  /** Called as each step ends. */
  onStep?: (s: StepReport) => void;
}

/** Result of {@link provision}. */
export interface ProvisionReport {
  ok: boolean;
  vmDisk: string;
  steps: StepReport[];
  lsvmconf?: LsvmConf;
  /** Predicted PCR values the keys are sealed to (hex). */
  pcrs?: { 7: string; 11: string };
  /** The root volume's systemd-tpm2 token (with `systemdToken`): token id, keyslot, policy. */
  systemdToken?: SystemdTokenResult;
}

/**
 * Provisions `vmPath` from `templatePath`. Refusals (qualifier, signature, changed blocks) throw a
 * VerificationError; the steps so far are on `error.steps` and were given to `onStep`.
 */
export async function provision(
  templatePath: string,
  vmPath: string,
  options: ProvisionOptions,
): Promise<ProvisionReport> {
  const rec = new StepRecorder(options.onStep);
  const cloneMode = options.clone ?? 'copy';
  const rekeyMode = options.rekey ?? 'keyslot';
  if (cloneMode !== 'copy' && cloneMode !== 'differencing')
    throw new UsageError(
      'PROVISION_BAD_CLONE',
      `clone must be copy or differencing, not ${String(cloneMode)}`,
    );
  if (rekeyMode !== 'keyslot' && rekeyMode !== 'reencrypt')
    throw new UsageError(
      'PROVISION_BAD_REKEY',
      `rekey must be keyslot or reencrypt, not ${String(rekeyMode)}`,
    );
  const vars = options.secureBootVars ?? defaultSecureBootVars();
  let secrets: PdkSecrets | undefined;
  let created = false;
  const passphrases: Uint8Array[] = [];
  let bootVolumeKey: Uint8Array | undefined;
  let journalPath: string | undefined;
  try {
    // 1. Shielding data.
    const opened = await rec.run('shielding-data', async (d) => {
      const guardian =
        typeof options.guardian === 'string' ? readGuardianDir(options.guardian) : options.guardian;
      const r = openPdk(options.pdk, guardian);
      d.policy = r.info.policy;
      d.owner = r.info.owner.name;
      d.guardians = r.info.guardians.length;
      d.volumeIdQualifiers = r.info.viqs.length;
      d.answerFile = r.secrets.answerFile !== undefined;
      d.files = r.secrets.files.map((f) => f.name);
      return r;
    });
    secrets = opened.secrets;

    // 2. Template against the qualifiers and its catalog.
    const catalog = await rec.run('verify-template', async (d) => {
      const t = await openDisk(templatePath);
      try {
        const layout = await locateTemplate(t.disk, { readOnly: true });
        if (options.systemdToken) {
          // LUKS1 has no tokens: refuse now, before the VM disk exists.
          const root = (await locateWithConf(t.disk)).root;
          if (!root) throw new UsageError('TEMPLATE_PARTITIONS_MISSING', 'the root volume was not found');
          const volume = await readLuks(root.device);
          d.rootLuksVersion = volume.version;
          assertTokenCapable(volume, 'the root volume');
        }
        const file = await readTemplateCatalog(layout);
        const reasons: string[] = [];
        let pinned: string | undefined;
        let accepted: Catalog | undefined;
        for (const viq of opened.info.viqs) {
          const verdict = verifyCatalogSignature(file, {
            signerThumbprint: viq.signer,
            ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
          });
          if (!verdict.valid || !verdict.catalog) {
            reasons.push(`qualifier ${viq.name} ${viq.rule} ${viq.version}: signer: ${verdict.message}`);
            continue;
          }
          let m: ReturnType<CatalogQualifier['matches']>;
          try {
            m = new CatalogQualifier({
              name: viq.name,
              version: fourPartVersion(viq.version),
              rule: viq.rule,
              signerThumbprint: viq.signer,
            }).matches(verdict.catalog);
          } catch (e) {
            if (!isLsvmError(e)) throw e;
            reasons.push(`qualifier ${viq.name} ${viq.rule} ${viq.version}: ${e.message}`);
            continue;
          }
          if (!m.matches) {
            reasons.push(`qualifier ${viq.name} ${viq.rule} ${viq.version}: ${m.field}: ${m.reason}`);
            continue;
          }
          pinned = viq.signer;
          accepted = verdict.catalog;
          d.template = { name: verdict.catalog.name, version: verdict.catalog.version };
          d.qualifier = { name: viq.name, version: viq.version, rule: viq.rule, signer: viq.signer };
          break;
        }

        if (!pinned) {
          d.reasons = reasons;
          throw new VerificationError(
            'PROVISION_QUALIFIER_MISMATCH',
            reasons.length > 0
              ? `no VolumeIdQualifier of the shielding data accepts the template: ${reasons.join('; ')}`
              : 'the shielding data has no VolumeIdQualifier',
          );
        }
        return accepted!;
      } finally {
        await t.close();
      }
    });

    // 3. VM disk. Marked as ours only once the clone made it: cloneTemplate refuses an existing
    // output (or the template itself) and removes its own partial output, so a failure before this
    // point must never delete `vmPath`.
    await rec.run('clone', async (d) => {
      const r = await cloneTemplate(templatePath, vmPath, cloneMode, {
        ...(options.signal ? { signal: options.signal } : {}),
      });
      created = true;
      Object.assign(d, r);
    });

    // Every block of boot and root, as the VM disk holds them now (after the clone, so what is
    // verified is what will be used: no window between checking the template and copying it).
    await rec.run('verify-volumes', async (d) => {
      const vmRo = await openDisk(vmPath);
      try {
        const layout = await locateTemplate(vmRo.disk, { readOnly: true });
        const v = await verifyVolumes(
          catalog,
          { diskGuid: layout.table.diskGuid, sectorSize: layout.table.sectorSize },
          layout.partitions,
          { ...(options.signal ? { signal: options.signal } : {}) },
        );
        d.bytesVerified = catalog.volumes.reduce((n, x) => n + x.length, 0);
        d.volumes = v.volumes.map((x) => ({ index: x.index, role: x.role, status: x.status }));
        if (!v.match) {
          const lines = describeMismatch({
            valid: false,
            signature: { valid: true, reason: 'ok', message: '' },
            volumes: v,
          });
          d.mismatches = lines;
          throw new VerificationError(
            'PROVISION_TEMPLATE_CHANGED',
            `the template does not match its catalog: ${lines.join('; ')}`,
          );
        }
      } finally {
        await vmRo.close();
      }
    });

    const vm = await openDisk(vmPath, { writable: true });
    let conf: LsvmConf;
    let pcrs: { 7: string; 11: string };
    let systemdToken: SystemdTokenResult | undefined;
    try {
      const layout = await locateWithConf(vm.disk);
      const { boot, root } = layout;
      const espPart = layout.esps[0];
      if (!boot || !root || !espPart)
        throw new UsageError('TEMPLATE_PARTITIONS_MISSING', 'ESP, boot or root not found');
      const esp = await FatFileSystem.open(espPart.device);
      try {
        // 4. Re-key.
        const wellKnown = new TextEncoder().encode(WELL_KNOWN_PASSPHRASE);
        const bootPass = newVolumePassphrase();
        const rootPass = newVolumePassphrase();
        passphrases.push(bootPass, rootPass);
        const rekeyed = await rec.run('rekey', async (d) => {
          d.mode = rekeyMode;
          d.kdf = REKEY_KDF;
          let b: Awaited<ReturnType<typeof rekeyVolume>>;
          let r: Awaited<ReturnType<typeof rekeyVolume>>;
          if (rekeyMode === 'keyslot') {
            b = await rekeyVolume(boot.device, wellKnown, bootPass);
            bootVolumeKey = b.volumeKey;
            r = await rekeyVolume(root.device, wellKnown, rootPass);
            // Only boot's volume key is needed later (specialization): root's is wiped at once.
            zeroize(r.volumeKey);
          } else {
            // One journal file beside the VM disk, reused volume after volume (zeroed after each).
            journalPath = `${vmPath}.reencrypt-journal`;
            const chunkSize = options.reencryptChunkSize ?? REENCRYPT_DEFAULT_CHUNK;
            const journal = await FileDevice.open(journalPath, {
              create: true,
              size: reencryptJournalSize(chunkSize),
            });
            try {
              const total = boot.device.size + root.device.size;
              const o = (base: number) => ({
                journal,
                chunkSize,
                ...(options.signal ? { signal: options.signal } : {}),
                ...(options.onProgress
                  ? { onProgress: (done: number) => options.onProgress?.(base + done, total) }
                  : {}),
              });
              b = await reencryptVolume(boot.device, wellKnown, bootPass, o(0));
              bootVolumeKey = b.volumeKey;
              r = await reencryptVolume(root.device, wellKnown, rootPass, o(boot.device.size));
              // Wiped before anything else can throw (the journal's close, its removal).
              zeroize(r.volumeKey);
            } finally {
              await journal.close();
            }
            rmSync(journalPath, { force: true });
            journalPath = undefined;
          }
          d.boot = b.result;
          d.root = r.result;
          d.volumeKeysChanged = rekeyMode === 'reencrypt';
          return { boot: b.result, root: r.result } as { boot: RekeyResult; root: RekeyResult };
        });

        // 5. Seal.
        let predicted: Uint8Array[] = [];
        pcrs = await rec.run('seal', async (d) => {
          const loader = await esp.readFile(LOADER_PATH);
          const p7 = predictPcr7(vars, loader);
          const p11 = predictPcr11();
          d.secureBoot = vars.secureBoot === 1;
          if (p7.authority)
            d.loaderAuthority = {
              kind: p7.authority.kind,
              subject: p7.authority.subject,
              owner: p7.authority.entry.owner,
            };
          d.pcrs = { 7: toHex(p7.value), 11: toHex(p11) };
          predicted = [p7.value, p11];
          const payload = encodeKeysPayload({ boot: bootPass, root: rootPass });
          const tpm = new Tpm(await openTcti(options.tcti));
          try {
            const sealed = await sealLsvmload(tpm, payload, { pcrs: [7, 11], pcrValues: [p7.value, p11] });
            const file = serializeSealedKeys(sealed);
            await esp.writeFile(SEALEDKEYS_PATH, file, { createParents: true });
            d.path = SEALEDKEYS_PATH;
            d.bytes = file.length;
          } finally {
            zeroize(payload);
            await tpm.close();
          }
          return { 7: toHex(p7.value), 11: toHex(p11) };
        });

        // 5b. systemd-tpm2 token on root, bound to the same predicted PCRs 7 and 11.
        if (options.systemdToken)
          systemdToken = await rec.run('systemd-token', async (d) => {
            const tpm = new Tpm(await openTcti(options.tcti));
            try {
              const t = await enrollSystemdTpm2Token(root.device, rootPass, tpm, {
                pcrs: [7, 11],
                pcrValues: predicted,
              });
              Object.assign(d, t);
              return t;
            } finally {
              await tpm.close();
            }
          });

        // 6. Specialization.
        const files = specializationFiles(secrets, options);
        if (files.length === 0)
          rec.skip('specialization', 'the shielding data holds no answer file and no files');
        else
          await rec.run('specialization', async (d) => {
            const aes = packSpecialization(files, bootVolumeKey!, { mode: options.specializationMode ?? 1 });
            await esp.writeFile(SPECIALIZATION_PATH, aes, { createParents: true });
            d.path = SPECIALIZATION_PATH;
            d.files = files.map((f) => f.name);
            d.bytes = aes.length;
            d.mode = options.specializationMode ?? 1;
            for (const f of files) zeroize(f.data);
          });

        // 7. lsvmconf.
        conf = await rec.run('lsvmconf', async (d) => {
          const old = layout.roleSource === 'lsvmconf' ? await readLsvmConfFrom(esp) : undefined;
          const c: LsvmConf = {
            efiVendorDir: old?.efiVendorDir ?? 'ubuntu',
            bootDeviceLuks: rekeyed.boot.luksUuid,
            rootDeviceLuks: rekeyed.root.luksUuid,
            bootDevice: boot.partitionGuid,
            rootDevice: root.partitionGuid,
            ...(old?.logLevel ? { logLevel: old.logLevel } : {}),
          };
          await esp.writeFile(LSVMCONF_PATH, new TextEncoder().encode(serializeLsvmConf(c)));
          d.path = LSVMCONF_PATH;
          d.lsvmconf = c;
          return c;
        });
      } finally {
        await esp.close();
      }
    } finally {
      await vm.close();
    }
    return {
      ok: true,
      vmDisk: vmPath,
      steps: rec.steps,
      lsvmconf: conf,
      pcrs,
      ...(systemdToken ? { systemdToken } : {}),
    };
  } catch (e) {
    if (created) rmSync(vmPath, { force: true });
    if (journalPath) rmSync(journalPath, { force: true });
    if (e && typeof e === 'object')
      Object.defineProperty(e, 'steps', { value: rec.steps, enumerable: false });
    throw e;
  } finally {
    for (const p of passphrases) zeroize(p);
    if (bootVolumeKey) zeroize(bootVolumeKey);
    if (secrets) zeroSecrets(secrets);
  }
}

/**
 * A qualifier's version (1 to 4 dotted parts in shielding data, like New-VolumeIDQualifier's
 * System.Version) as the catalog's four-part `a.b.c.d`: missing parts are 0, as .NET compares
 * versions with undefined parts.
 */
function fourPartVersion(v: string): string {
  const parts = v.split('.');
  while (parts.length < 4) parts.push('0');
  return parts.join('.');
}

/**
 * The files specialization.aes carries: the answer file as `unattend.xml` (lsvmload renames it to
 * `specialize`) with the FSK's `@Name@` values substituted, then the PDK's files as they are.
 * Credentials and SSH keys of the PDK are not packed: lsvmload defines no file for them.
 */
function specializationFiles(secrets: PdkSecrets, options: ProvisionOptions): SpecializationFile[] {
  const out: SpecializationFile[] = [];
  const fsk = options.fsk ? parseFsk(options.fsk) : undefined;
  if (fsk)
    verifyFsk(fsk, options.fskSigner ? { expectedSigner: options.fskSigner, requireSigned: true } : {});
  if (secrets.answerFile) {
    let data = secrets.answerFile.data.slice();
    if (fsk) {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
      zeroize(data);
      data = new TextEncoder().encode(applyFsk(text, fsk.pairs).text);
    }
    out.push({ name: SPECIALIZATION_UNATTEND_NAME, data });
  }
  for (const f of secrets.files) {
    checkSpecializationFileName(f.name);
    if (f.name === SPECIALIZATION_UNATTEND_NAME && secrets.answerFile)
      throw new UsageError('PROVISION_FILE_CONFLICT', `a PDK file is named ${f.name}, like the answer file`);
    out.push({ name: f.name, data: f.data.slice() });
  }
  return out;
}
