import { type BlockDevice, isLsvmError, zeroize } from '@lsvm/core';
import { usedPartitions } from '@lsvm/gpt';
import { openLuks, unlockLuks } from '@lsvm/luks2';
import {
  type Certificate,
  type SignatureDatabase,
  parseSignatureLists,
  signatureDatabase,
} from '@lsvm/pe-authenticode';
import { checkLsvmloadSealedKeys, parseSealedKeys } from '@lsvm/tpm2-marshal';
import { withExtFs } from '../ext-fs.js';
import type { LsvmConf } from '../lsvmconf.js';
import type { SecureBootVars } from '../secure-boot.js';
import { type ChainLink, verifyBootChain } from './chain.js';
import {
  BOOT_FS_PATHS,
  ESP_PATHS,
  type LuksPartition,
  findLuksPartition,
  openVmDisk,
  readEspFile,
  readLsvmConf,
} from './disk.js';
import { predictUnsealPcrs } from './firmware.js';
import { type BootReport, BootStepFailure, BootStepRecorder } from './report.js';

/**
 * `validateBootPath` — everything about a disk's boot path that can be checked without a TPM: the
 * GPT and ESP, lsvmconf against the actual partitions and LUKS headers, the LUKS headers
 * themselves (boot LUKS1 with a 256-bit key, as lsvmload requires), `sealedkeys` well-formed with
 * the policy digest predicted from the Secure Boot variables, no per-VM secrets left on a
 * template, and the boot chain (loader; shim and grub when the boot volume can be read) against
 * db/dbx. Works on templates (recognised by the well-known passphrase) and provisioned VM disks.
 */

/** The passphrase a template's volumes carry (lsvmprep's convention). */
const WELL_KNOWN = new TextEncoder().encode('passphrase');

/** Options of {@link validateBootPath}. */
export interface ValidateBootPathOptions {
  /** The Secure Boot state to predict PCR 7 from and to take db/dbx from. */
  vars?: SecureBootVars;
  /** Extra forbidden entries (a dbx dump or update) on top of `vars.dbx`. */
  extraDbx?: SignatureDatabase;
  loaderTrust?: Certificate[];
  shimTrust?: Certificate[];
  /** The boot volume's passphrase on a provisioned disk, to check shim and grub too. */
  bootPassphrase?: Uint8Array;
}

/** The report, plus what the disk turned out to be. */
export interface BootValidation extends BootReport {
  kind: 'template' | 'vm' | 'unknown';
  chain?: ChainLink[];
}

function mergeDb(a?: SignatureDatabase, b?: SignatureDatabase): SignatureDatabase | undefined {
  if (!a || !b) return a ?? b;
  const m = (x: Map<string, Set<string>>, y: Map<string, Set<string>>) => {
    const out = new Map<string, Set<string>>();
    for (const src of [x, y]) for (const [k, v] of src) out.set(k, new Set([...(out.get(k) ?? []), ...v]));
    return out as Map<never, Set<string>>;
  };
  return {
    certificates: [...a.certificates, ...b.certificates],
    hashes: m(a.hashes, b.hashes),
    tbsHashes: m(a.tbsHashes, b.tbsHashes),
    ignored: a.ignored + b.ignored,
  };
}

/** Runs the static validation of `disk` (opened read-only is enough). */
export async function validateBootPath(
  disk: BlockDevice,
  options: ValidateBootPathOptions = {},
): Promise<BootValidation> {
  const rec = new BootStepRecorder();
  let kind: BootValidation['kind'] = 'unknown';
  let chain: ChainLink[] | undefined;
  const vm = await rec.run('gpt-esp', 'GPT valid with one EFI System Partition (FAT)', async () => {
    const v = await openVmDisk(disk);
    return { value: v, detail: { partitions: usedPartitions(v.table).length, esp: v.esp.entry.index } };
  });
  if (!vm) return { ok: false, steps: rec.steps, kind };
  try {
    const conf = await rec.run<LsvmConf>(
      'lsvmconf',
      'lsvmconf names the actual partitions and LUKS volumes',
      async () => {
        const c = await readLsvmConf(vm);
        const guids = usedPartitions(vm.table).map((e) => e.uniqueGuid);
        for (const [key, g] of [
          ['BootDevice', c.bootDevice],
          ['RootDevice', c.rootDevice],
        ] as const)
          if (!guids.includes(g))
            throw new BootStepFailure('LSVMCONF_PARTITION', `${key}=${g} names no partition of this disk`);
        return { value: c, detail: { ...c } };
      },
    );
    let boot: LuksPartition | undefined;
    if (conf) {
      boot = await rec.run(
        'luks-boot',
        'boot volume: LUKS1, 256-bit key, on the BootDevice partition',
        async () => {
          const p = await findLuksPartition(vm, conf.bootDeviceLuks);
          if (p.entry.uniqueGuid !== conf.bootDevice)
            throw new BootStepFailure(
              'LSVMCONF_MISMATCH',
              `BootDeviceLUKS is on partition ${p.entry.uniqueGuid}, not BootDevice ${conf.bootDevice}`,
            );
          if (p.volume.version !== 1)
            throw new BootStepFailure(
              'BOOT_NOT_LUKS1',
              'the boot volume is LUKS2; lsvmload opens only LUKS1',
            );
          if (p.volume.header.keyBytes !== 32)
            throw new BootStepFailure(
              'BOOT_KEY_SIZE',
              `the boot volume key has ${p.volume.header.keyBytes * 8} bits; lsvmload needs 256`,
            );
          return {
            value: p,
            detail: {
              partition: p.entry.index,
              uuid: p.uuid,
              cipher: `${p.volume.header.cipherName}-${p.volume.header.cipherMode}`,
            },
          };
        },
      );
      await rec.run('luks-root', 'root volume: valid LUKS header on the RootDevice partition', async () => {
        const p = await findLuksPartition(vm, conf.rootDeviceLuks);
        if (p.entry.uniqueGuid !== conf.rootDevice)
          throw new BootStepFailure(
            'LSVMCONF_MISMATCH',
            `RootDeviceLUKS is on partition ${p.entry.uniqueGuid}, not RootDevice ${conf.rootDevice}`,
          );
        return { value: p, detail: { partition: p.entry.index, uuid: p.uuid, luks: p.volume.version } };
      });
    }

    // Template or VM: the well-known passphrase opens a template's boot volume and nothing else.
    let bootKey: Uint8Array | undefined;
    if (boot) {
      try {
        bootKey = (await unlockLuks(boot.device, boot.volume, WELL_KNOWN)).volumeKey;
        kind = 'template';
      } catch (e) {
        if (!isLsvmError(e) || e.kind !== 'auth') throw e;
        kind = 'vm';
        if (options.bootPassphrase)
          bootKey = await rec.run(
            'boot-passphrase',
            'the given boot passphrase opens the boot volume',
            async () => ({
              value: (await unlockLuks(boot!.device, boot!.volume, options.bootPassphrase!)).volumeKey,
            }),
          );
      }
    }

    const loader = await readEspFile(vm, ESP_PATHS.loader);
    const sealedBytes = await readEspFile(vm, ESP_PATHS.sealedkeys);
    const spec = await readEspFile(vm, ESP_PATHS.specialization);
    if (kind === 'template') {
      await rec.run(
        'no-secrets',
        'template holds no per-VM secrets (sealedkeys, specialization.aes)',
        async () => {
          const left = [sealedBytes && ESP_PATHS.sealedkeys, spec && ESP_PATHS.specialization].filter(
            Boolean,
          );
          if (left.length > 0)
            throw new BootStepFailure(
              'TEMPLATE_SECRETS_LEFT',
              `the template still opens with the well-known passphrase but holds ${left.join(', ')}`,
            );
          return { value: undefined, detail: { wellKnownPassphrase: 'opens boot (template)' } };
        },
      );
    } else if (kind === 'vm') {
      await rec.run(
        'sealedkeys',
        'sealedkeys well-formed, policy = PolicyPassword + PolicyPCR(7, 11) as predicted',
        async () => {
          if (!sealedBytes)
            throw new BootStepFailure('BOOT_NO_SEALEDKEYS', 'the ESP has no \\EFI\\boot\\sealedkeys');
          const k = parseSealedKeys(sealedBytes);
          checkLsvmloadSealedKeys(k);
          const detail: Record<string, unknown> = {
            pcrs: k.pcrs,
            policy: Buffer.from(k.public.authPolicy).toString('hex'),
          };
          if (options.vars) {
            if (k.pcrs.join(',') !== '7,11')
              throw new BootStepFailure(
                'SEALEDKEYS_PCRS',
                `sealed to PCRs ${k.pcrs.join(',')}, lsvmload measures 7 and 11`,
              );
            const p = predictUnsealPcrs(options.vars, loader);
            checkLsvmloadSealedKeys(k, [p.pcr7, p.pcr11]);
            detail.predictedPcr7 = Buffer.from(p.pcr7).toString('hex');
            detail.predictedPcr11 = Buffer.from(p.pcr11).toString('hex');
          } else detail.policyCompared = false;
          return { value: undefined, detail };
        },
      );
    }

    let shim: Uint8Array | undefined;
    let grub: Uint8Array | undefined;
    let bootFsReadable = false;
    if (boot && bootKey) {
      const plain = await openLuks(boot.device, { volumeKey: bootKey }, { readOnly: true });
      try {
        await withExtFs(plain, async (fs) => {
          bootFsReadable = true;
          shim = (await fs.exists(BOOT_FS_PATHS.shim)) ? await fs.readFile(BOOT_FS_PATHS.shim) : undefined;
          grub = (await fs.exists(BOOT_FS_PATHS.grub)) ? await fs.readFile(BOOT_FS_PATHS.grub) : undefined;
        });
      } finally {
        await plain.close();
        zeroize(bootKey);
      }
    }
    const db =
      options.vars && options.vars.db.length > 0
        ? signatureDatabase(parseSignatureLists(options.vars.db))
        : undefined;
    const varsDbx =
      options.vars && options.vars.dbx.length > 0
        ? signatureDatabase(parseSignatureLists(options.vars.dbx))
        : undefined;
    const dbx = mergeDb(varsDbx, options.extraDbx);
    const r = verifyBootChain({
      ...(loader ? { loader } : {}),
      ...(shim ? { shim } : {}),
      ...(grub ? { grub } : {}),
      ...(options.loaderTrust ? { loaderTrust: options.loaderTrust } : {}),
      ...(options.shimTrust ? { shimTrust: options.shimTrust } : {}),
      ...(db ? { db } : {}),
      ...(dbx ? { dbx } : {}),
    });
    chain = r.links;
    for (const link of r.links) {
      const title = `${link.name} ${link.name === 'loader' ? '(\\EFI\\boot\\bootx64.efi)' : `(/lsvmload/${link.name}x64.efi)`}: signed, trusted, not revoked`;
      if (link.name !== 'loader' && !bootFsReadable) {
        rec.skip(
          `verify-${link.name}`,
          title,
          'the boot volume is encrypted with a per-VM key: give the boot passphrase (bootPassphrase, --boot-key-file) or run boot unlock',
        );
        continue;
      }
      await rec.run(`verify-${link.name}`, title, async () => {
        const detail = {
          sha256: link.sha256,
          signers: link.signers,
          sbat: link.sbat.map((s) => `${s.component},${s.generation}`),
          ...(link.anchors ? { anchors: link.anchors } : {}),
        };
        if (!link.trusted)
          throw new BootStepFailure(
            link.revoked ? 'BOOT_CHAIN_REVOKED' : (link.reason?.code ?? 'BOOT_CHAIN_UNTRUSTED'),
            link.reason?.message ?? `${link.name} is not trusted`,
            detail,
          );
        return { value: undefined, detail };
      });
    }
  } finally {
    await vm.close();
  }
  return { ok: rec.ok, steps: rec.steps, kind, ...(chain ? { chain } : {}) };
}
