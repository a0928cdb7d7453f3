import { type BlockDevice, isLsvmError, normalizeGuid, zeroize } from '@lsvm/core';
import { FatFileSystem, checkFat } from '@lsvm/fat';
import { type LuksVolume, openLuks, readLuks, unlockLuks } from '@lsvm/luks2';
import { type Certificate, parseCertificatePemOrDer, parsePe, verifyImage } from '@lsvm/pe-authenticode';
import { withDisk } from './disk.js';
import { withExtFs } from './ext-fs.js';
import {
  type LocatedPartition,
  LOADER_PATH,
  LSVMCONF_PATH,
  SEALEDKEYS_PATH,
  SPECIALIZATION_PATH,
  type TemplateLayout,
  WELL_KNOWN_PASSPHRASE,
  locateTemplate,
} from './layout.js';
import { type LsvmConf, parseLsvmConf } from './lsvmconf.js';

/**
 * `checkTemplate`: is this disk a prepared Linux template lsvmload can boot once provisioned?
 * Every problem is a finding with a stable code (the list is {@link TEMPLATE_FINDING_CODES});
 * nothing is written (LUKS volumes are opened read-only, ext file systems through a
 * copy-on-write overlay).
 */

/** Every finding code, with what it means. */
export const TEMPLATE_FINDING_CODES = {
  TEMPLATE_NO_GPT: 'the disk has no usable GPT',
  TEMPLATE_GPT_INVALID: 'the GPT has an error-level problem',
  TEMPLATE_ESP_COUNT: 'not exactly one EFI System Partition',
  TEMPLATE_FAT_INVALID: 'the ESP does not hold a clean FAT file system',
  TEMPLATE_LOADER_MISSING: '\\EFI\\boot\\bootx64.efi is missing',
  TEMPLATE_LOADER_INVALID: 'bootx64.efi is not a PE image',
  TEMPLATE_LOADER_UNSIGNED: 'bootx64.efi carries no Authenticode signature',
  TEMPLATE_LOADER_BAD_SIGNATURE: 'no signature of bootx64.efi verifies',
  TEMPLATE_LOADER_UNTRUSTED: 'bootx64.efi is not signed by any of the given trust anchors',
  TEMPLATE_LSVMCONF_MISSING: '\\EFI\\boot\\lsvmconf is missing',
  TEMPLATE_LSVMCONF_INVALID: 'lsvmconf does not parse',
  TEMPLATE_LSVMCONF_MISMATCH: 'lsvmconf names a LUKS UUID or partition GUID the disk does not have',
  TEMPLATE_PARTITIONS_MISSING: 'boot and root partitions cannot be found',
  TEMPLATE_BOOT_NOT_LUKS1: 'the boot partition is not a LUKS1 volume',
  TEMPLATE_BOOT_CIPHER: 'the boot volume is not aes-xts-plain64',
  TEMPLATE_BOOT_KEY_SIZE: 'the boot volume key is not 256 bits',
  TEMPLATE_BOOT_PASSPHRASE: 'the well-known passphrase does not open the boot volume',
  TEMPLATE_ROOT_NOT_LUKS: 'the root partition is not a LUKS volume',
  TEMPLATE_ROOT_PASSPHRASE: 'the well-known passphrase does not open the root volume',
  TEMPLATE_BOOT_FS: 'the boot volume does not hold a readable ext file system',
  TEMPLATE_BOOT_FILE_MISSING: 'a file lsvmload needs is missing from the boot file system',
  TEMPLATE_GRUB_CFG_MISSING: 'neither /grub/grub.cfg nor /grub2/grub.cfg exists',
  TEMPLATE_INITRD_MISSING: 'grub.cfg names no initrd, or one that does not exist',
  TEMPLATE_KERNEL_MISSING: 'a kernel grub.cfg names does not exist',
  TEMPLATE_SECRET_PRESENT: 'a per-VM secret (sealedkeys, specialization.aes) is on the ESP',
} as const;

export type TemplateFindingCode = keyof typeof TEMPLATE_FINDING_CODES;

/** One finding. */
export interface TemplateFinding {
  code: TemplateFindingCode;
  message: string;
  /** Partition slot or file concerned. */
  partition?: number;
  path?: string;
}

/** A LUKS volume of the template as found. */
export interface TemplateVolumeInfo {
  index: number;
  partitionGuid: string;
  luksVersion?: 1 | 2;
  luksUuid?: string;
  cipher?: string;
  keyBits?: number;
  /** True when the well-known passphrase opened it. */
  wellKnownPassphrase?: boolean;
}

/** Result of {@link checkTemplate}. */
export interface TemplateCheckReport {
  clean: boolean;
  findings: TemplateFinding[];
  diskGuid?: string;
  sectorSize?: number;
  esp?: { index: number; partitionGuid: string };
  boot?: TemplateVolumeInfo;
  root?: TemplateVolumeInfo;
  lsvmconf?: LsvmConf;
  loader?: { size: number; signatures: number; signers: string[]; trusted?: boolean };
  /** Files grub.cfg names that were found (kernel and initrd). */
  bootFiles?: string[];
}

/** Options of {@link checkTemplate}. */
export interface CheckTemplateOptions {
  /** Trust anchors (PEM or DER certificates): the loader must chain to one. */
  trust?: Uint8Array[];
}

/** Runs every check on a template given by path or as a BlockDevice. */
export async function checkTemplate(
  source: string | BlockDevice,
  options: CheckTemplateOptions = {},
): Promise<TemplateCheckReport> {
  const anchors: Certificate[] = (options.trust ?? []).map((b) => parseCertificatePemOrDer(b));
  return withDisk(source, { writable: false }, (disk) => runChecks(disk, anchors));
}

/** LUKS header UUID of a volume, canonical. */
export function luksUuid(v: LuksVolume): string {
  return normalizeGuid(v.version === 1 ? v.header.uuid : v.active.binary.uuid);
}

async function runChecks(disk: BlockDevice, anchors: Certificate[]): Promise<TemplateCheckReport> {
  const findings: TemplateFinding[] = [];
  const add = (code: TemplateFindingCode, message: string, extra: Partial<TemplateFinding> = {}): void => {
    findings.push({ code, message, ...extra });
  };
  const report: TemplateCheckReport = { clean: false, findings };
  let layout: TemplateLayout;
  try {
    layout = await locateTemplate(disk, { readOnly: true });
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    add('TEMPLATE_NO_GPT', e.message);
    return report;
  }
  report.diskGuid = layout.table.diskGuid;
  report.sectorSize = layout.table.sectorSize;
  for (const f of layout.gpt.findings)
    if (f.severity === 'error') add('TEMPLATE_GPT_INVALID', `${f.code}: ${f.message}`);

  // ESP, loader, lsvmconf, leftover secrets.
  let conf: LsvmConf | undefined;
  if (layout.esps.length !== 1) {
    add('TEMPLATE_ESP_COUNT', `found ${layout.esps.length} EFI System Partitions, expected 1`);
  }
  const esp = layout.esps[0];
  if (esp) {
    report.esp = { index: esp.index, partitionGuid: esp.partitionGuid };
    conf = await checkEsp(esp, anchors, report, add);
  }

  // Boot and root located by lsvmconf when it is valid, by order otherwise.
  if (conf) layout = await locateTemplate(disk, { readOnly: true, conf });
  const { boot, root } = layout;
  if (!boot || !root) {
    add('TEMPLATE_PARTITIONS_MISSING', 'expected a boot and a root partition besides the ESP');
  } else {
    await checkVolumes(boot, root, report, add);
    if (conf) {
      const want: [string, string | undefined, string][] = [
        ['BootDevice', boot.partitionGuid, conf.bootDevice],
        ['RootDevice', root.partitionGuid, conf.rootDevice],
        ['BootDeviceLUKS', report.boot?.luksUuid, conf.bootDeviceLuks],
        ['RootDeviceLUKS', report.root?.luksUuid, conf.rootDeviceLuks],
      ];
      for (const [key, actual, named] of want)
        if (actual !== undefined && actual !== named)
          add('TEMPLATE_LSVMCONF_MISMATCH', `${key}=${named} but the disk has ${actual}`, {
            path: LSVMCONF_PATH,
          });
    }
  }
  report.clean = findings.length === 0;
  return report;
}

type Add = (code: TemplateFindingCode, message: string, extra?: Partial<TemplateFinding>) => void;

async function checkEsp(
  esp: LocatedPartition,
  anchors: Certificate[],
  report: TemplateCheckReport,
  add: Add,
): Promise<LsvmConf | undefined> {
  let fs: FatFileSystem;
  try {
    fs = await FatFileSystem.open(esp.device);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    add('TEMPLATE_FAT_INVALID', e.message, { partition: esp.index });
    return undefined;
  }
  try {
    const fat = await checkFat(fs);
    for (const f of fat.findings)
      add('TEMPLATE_FAT_INVALID', `${f.code}: ${f.message}`, { partition: esp.index });
    // Loader.
    if (!(await fs.exists(LOADER_PATH)))
      add('TEMPLATE_LOADER_MISSING', `${LOADER_PATH} not found`, { path: LOADER_PATH });
    else {
      const loader = await fs.readFile(LOADER_PATH);
      checkLoader(loader, anchors, report, add);
    }
    // lsvmconf.
    let conf: LsvmConf | undefined;
    if (!(await fs.exists(LSVMCONF_PATH)))
      add('TEMPLATE_LSVMCONF_MISSING', `${LSVMCONF_PATH} not found`, { path: LSVMCONF_PATH });
    else {
      try {
        conf = parseLsvmConf(await fs.readFile(LSVMCONF_PATH));
        report.lsvmconf = conf;
      } catch (e) {
        if (!isLsvmError(e)) throw e;
        add('TEMPLATE_LSVMCONF_INVALID', e.message, { path: LSVMCONF_PATH });
      }
    }
    for (const p of [SEALEDKEYS_PATH, SPECIALIZATION_PATH])
      if (await fs.exists(p))
        add('TEMPLATE_SECRET_PRESENT', `${p} is present: a template must not carry per-VM secrets`, {
          path: p,
        });
    return conf;
  } finally {
    await fs.close().catch(() => {});
  }
}

/** Failures that say the signature itself is broken (the others are about trust). */
const INTEGRITY = new Set<string>([
  'NOT_SIGNED',
  'SIGNATURE_MALFORMED',
  'NOT_AUTHENTICODE',
  'UNSUPPORTED_ALGORITHM',
  'DIGEST_MISMATCH',
  'IMAGE_MALFORMED',
  'CONTENT_TYPE_MISMATCH',
  'MESSAGE_DIGEST_MISMATCH',
  'MISSING_MESSAGE_DIGEST',
  'SIGNER_NOT_FOUND',
  'BAD_SIGNATURE',
]);

function checkLoader(
  loader: Uint8Array,
  anchors: Certificate[],
  report: TemplateCheckReport,
  add: Add,
): void {
  let pe: ReturnType<typeof parsePe>;
  try {
    pe = parsePe(loader);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    add('TEMPLATE_LOADER_INVALID', e.message, { path: LOADER_PATH });
    return;
  }
  const v = verifyImage(loader, anchors.length > 0 ? { trust: anchors } : {}, pe);
  const signers = v.signatures.flatMap((s) => (s.signer ? [s.signer.subject] : []));
  report.loader = {
    size: loader.length,
    signatures: v.signatures.length,
    signers,
    ...(anchors.length > 0 ? { trusted: v.trusted } : {}),
  };
  if (v.signatures.length === 0) {
    add('TEMPLATE_LOADER_UNSIGNED', `${LOADER_PATH} is not Authenticode-signed`, { path: LOADER_PATH });
    return;
  }
  // Without anchors, a signature must at least be intact (digest and signer's signature verify).
  const intact = v.signatures.some((s) => s.failures.every((f) => !INTEGRITY.has(f.code)));
  if (!intact)
    add(
      'TEMPLATE_LOADER_BAD_SIGNATURE',
      `no signature of ${LOADER_PATH} verifies: ${v.signatures
        .flatMap((s) => s.failures.map((f) => f.code))
        .join(', ')}`,
      { path: LOADER_PATH },
    );
  else if (anchors.length > 0 && !v.trusted)
    add('TEMPLATE_LOADER_UNTRUSTED', `${LOADER_PATH} does not chain to a given trust anchor`, {
      path: LOADER_PATH,
    });
}

async function checkVolumes(
  boot: LocatedPartition,
  root: LocatedPartition,
  report: TemplateCheckReport,
  add: Add,
): Promise<void> {
  const pass = new TextEncoder().encode(WELL_KNOWN_PASSPHRASE);
  // Boot: LUKS1, aes-xts-plain64, 256-bit key, well-known passphrase, ext with lsvmload's files.
  const bi: TemplateVolumeInfo = { index: boot.index, partitionGuid: boot.partitionGuid };
  report.boot = bi;
  let bootVol: LuksVolume | undefined;
  try {
    bootVol = await readLuks(boot.device);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    add('TEMPLATE_BOOT_NOT_LUKS1', `partition ${boot.index}: ${e.message}`, { partition: boot.index });
  }
  if (bootVol) {
    bi.luksVersion = bootVol.version;
    bi.luksUuid = luksUuid(bootVol);
    if (bootVol.version !== 1)
      add(
        'TEMPLATE_BOOT_NOT_LUKS1',
        `partition ${boot.index} is LUKS${bootVol.version}; lsvmload opens only LUKS1`,
        {
          partition: boot.index,
        },
      );
    else {
      bi.cipher = `${bootVol.header.cipherName}-${bootVol.header.cipherMode}`;
      bi.keyBits = bootVol.header.keyBytes * 8;
      if (bi.cipher !== 'aes-xts-plain64')
        add('TEMPLATE_BOOT_CIPHER', `boot cipher is ${bi.cipher}`, { partition: boot.index });
      if (bi.keyBits !== 256)
        add('TEMPLATE_BOOT_KEY_SIZE', `boot volume key is ${bi.keyBits} bits, lsvmload needs 256`, {
          partition: boot.index,
        });
    }
    bi.wellKnownPassphrase = await opens(boot.device, bootVol, pass);
    if (!bi.wellKnownPassphrase)
      add('TEMPLATE_BOOT_PASSPHRASE', `the well-known passphrase does not open partition ${boot.index}`, {
        partition: boot.index,
      });
    else await checkBootFs(boot, bootVol, pass, report, add);
  }
  // Root: LUKS1 or LUKS2, well-known passphrase.
  const ri: TemplateVolumeInfo = { index: root.index, partitionGuid: root.partitionGuid };
  report.root = ri;
  try {
    const rootVol = await readLuks(root.device);
    ri.luksVersion = rootVol.version;
    ri.luksUuid = luksUuid(rootVol);
    ri.wellKnownPassphrase = await opens(root.device, rootVol, pass);
    if (!ri.wellKnownPassphrase)
      add('TEMPLATE_ROOT_PASSPHRASE', `the well-known passphrase does not open partition ${root.index}`, {
        partition: root.index,
      });
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    add('TEMPLATE_ROOT_NOT_LUKS', `partition ${root.index}: ${e.message}`, { partition: root.index });
  }
}

async function opens(dev: BlockDevice, vol: LuksVolume, pass: Uint8Array): Promise<boolean> {
  try {
    const r = await unlockLuks(dev, vol, pass, { boundOnly: true });
    zeroize(r.volumeKey);
    return true;
  } catch (e) {
    if (isLsvmError(e) && e.kind === 'auth') return false;
    throw e;
  }
}

async function checkBootFs(
  boot: LocatedPartition,
  vol: LuksVolume,
  pass: Uint8Array,
  report: TemplateCheckReport,
  add: Add,
): Promise<void> {
  const plain = await openLuks(boot.device, pass, { volume: vol, readOnly: true });
  try {
    await withExtFs(plain, async (fs) => {
      for (const f of ['/lsvmload/shimx64.efi', '/lsvmload/grubx64.efi'])
        if (!(await fs.exists(f)))
          add('TEMPLATE_BOOT_FILE_MISSING', `${f} is missing from the boot file system`, {
            partition: boot.index,
            path: f,
          });
      const cfgPath = (await fs.exists('/grub/grub.cfg'))
        ? '/grub/grub.cfg'
        : (await fs.exists('/grub2/grub.cfg'))
          ? '/grub2/grub.cfg'
          : undefined;
      if (!cfgPath) {
        add('TEMPLATE_GRUB_CFG_MISSING', 'neither /grub/grub.cfg nor /grub2/grub.cfg exists', {
          partition: boot.index,
        });
        return;
      }
      const named = grubBootFiles(new TextDecoder().decode(await fs.readFile(cfgPath)));
      if (named.initrds.length === 0)
        add('TEMPLATE_INITRD_MISSING', `${cfgPath} names no initrd`, {
          partition: boot.index,
          path: cfgPath,
        });
      const found: string[] = [];
      const resolve = async (p: string): Promise<string | undefined> => {
        for (const c of [p, p.startsWith('/boot/') ? p.slice(5) : undefined])
          if (c && (await fs.exists(c))) return c;
        return undefined;
      };
      for (const [list, code] of [
        [named.initrds, 'TEMPLATE_INITRD_MISSING'],
        [named.kernels, 'TEMPLATE_KERNEL_MISSING'],
      ] as const) {
        for (const p of list) {
          const at = await resolve(p);
          if (at) found.push(at);
          else
            add(code, `${cfgPath} names ${p}, which the boot file system does not hold`, {
              partition: boot.index,
              path: p,
            });
        }
      }
      report.bootFiles = [...new Set(found)];
    });
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    add('TEMPLATE_BOOT_FS', e.message, { partition: boot.index });
  } finally {
    await plain.close();
  }
}

/**
 * The kernels and initrds a grub.cfg names: arguments of `linux`/`linuxefi`/`linux16` (first
 * only) and `initrd`/`initrdefi`/`initrd16` (all), with a leading `(device)` or `$var` prefix
 * dropped. Unique, in order of appearance.
 */
export function grubBootFiles(cfg: string): { kernels: string[]; initrds: string[] } {
  const kernels = new Set<string>();
  const initrds = new Set<string>();
  for (const raw of cfg.split(/\r?\n/)) {
    const words = raw.trim().split(/\s+/);
    const cmd = words[0];
    const clean = (w: string): string => w.replace(/^\([^)]*\)/, '').replace(/^\$\{?[A-Za-z_]+\}?/, '');
    if (cmd === 'linux' || cmd === 'linuxefi' || cmd === 'linux16') {
      if (words[1]) kernels.add(clean(words[1]));
    } else if (cmd === 'initrd' || cmd === 'initrdefi' || cmd === 'initrd16') {
      for (const w of words.slice(1)) initrds.add(clean(w));
    }
  }
  const abs = (s: Set<string>): string[] =>
    [...s].filter(Boolean).map((p) => (p.startsWith('/') ? p : `/${p}`));
  return { kernels: abs(kernels), initrds: abs(initrds) };
}
