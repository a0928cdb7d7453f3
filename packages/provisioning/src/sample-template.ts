import { existsSync, readFileSync, rmSync } from 'node:fs';
import { type BlockDevice, FileDevice, SliceDevice, UsageError, normalizeGuid, zeroize } from '@lsvm/core';
import { compress, directoryEntry, fileEntry, serializeCpio } from '@lsvm/cpio';
import { FatFileSystem, mkfs } from '@lsvm/fat';
import { addPartition, createGpt, writeGpt } from '@lsvm/gpt';
import { formatLuks, openLuks } from '@lsvm/luks2';
import {
  type Certificate,
  type SigningKey,
  parseCertificatePemOrDer,
  signImage,
} from '@lsvm/pe-authenticode';
import { createVhdxFile, openVhdxFile } from '@lsvm/vhdx';
import { makeEfiApplication } from './efi-app.js';
import { mkfsExt, withExtFs } from './ext-fs.js';
import { ESP_TYPE_GUID, LOADER_PATH, LSVMCONF_PATH, WELL_KNOWN_PASSPHRASE } from './layout.js';
import { type EfiVendorDir, serializeLsvmConf } from './lsvmconf.js';
import { TEST_DB_CERT_BASE64, TEST_DB_KEY_PEM } from './test-keys.js';

/**
 * A sample Linux template disk built from scratch, as lsvmprep would leave one — a test fixture
 * for tests, the demo and users without a real guest. Partition 1 is a FAT32 ESP with a signed
 * loader and lsvmconf, 2 the boot volume (LUKS1, aes-xts-plain64, 256-bit key, ext3 with shim,
 * grub, grub.cfg, a kernel stub and a gzip cpio initrd), 3 the root volume (LUKS2, ext4, a few
 * files). Both volumes open with the well-known passphrase `passphrase`. KDF costs are tiny on
 * purpose (PBKDF2 1000 iterations, Argon2id 16 MiB × 4 passes) so opening is instant: never use a
 * sample as a real template. Only mke2fs (e2fsprogs) is run; everything else is lsvm code.
 */

/** Linux filesystem data partition type (used for boot and root, as lsvmprep leaves them). */
export const LINUX_DATA_TYPE_GUID = '0fc63daf-8483-4772-8e79-3d69d8477de4';
/** Debian's Microsoft-signed shim, used for /lsvmload/shimx64.efi when installed. */
export const DEBIAN_SIGNED_SHIM = '/usr/lib/shim/shimx64.efi.signed';

/** A code signer for the sample's EFI images. */
export interface SampleSigner {
  /** Certificate, PEM or DER. */
  certificate: Uint8Array;
  /** Private key, PEM or DER PKCS#8. */
  key: SigningKey;
}

/** Options of {@link makeSampleTemplate}. */
export interface SampleTemplateOptions {
  /** Disk size in bytes (default 256 MiB, at least 128 MiB). */
  size?: number;
  /** `vhdx` (dynamic) or `raw`; default from the extension (`.vhdx` → vhdx). */
  format?: 'vhdx' | 'raw';
  /** A real lsvmload.efi (or other loader) for bootx64.efi, used as given (not re-signed). */
  loader?: Uint8Array;
  /** Signs the generated loader, grub and fallback shim; default: the package's public test db key. */
  signer?: SampleSigner;
  /** Use this shim instead of Debian's signed one / a test-signed stand-in. */
  shim?: Uint8Array;
  vendor?: EfiVendorDir;
  /** Disk GUID (random by default). */
  diskGuid?: string;
  /**
   * LUKS version of the root volume (default 2; lsvmload accepts either). LUKS1 uses PBKDF2 with
   * 1000 iterations, like the boot volume.
   */
  rootLuksVersion?: 1 | 2;
}

/** What was built. */
export interface SampleTemplate {
  path: string;
  format: 'vhdx' | 'raw';
  size: number;
  diskGuid: string;
  esp: { index: 1; partitionGuid: string };
  boot: { index: 2; partitionGuid: string; luksUuid: string };
  root: { index: 3; partitionGuid: string; luksUuid: string };
  /** Where shimx64.efi came from. */
  shim: 'given' | 'debian-signed' | 'test-signed';
  loader: 'given' | 'test-signed';
}

const MiB = 1024 * 1024;
const ESP_SIZE = 40 * MiB;
const BOOT_SIZE = 48 * MiB;
export const SAMPLE_KERNEL = 'vmlinuz-6.1.0-lsvm-sample';
export const SAMPLE_INITRD = 'initrd.img-6.1.0-lsvm-sample';

/** The package's public test db signer (see test-keys.ts). */
export function testDbSigner(): { certificate: Certificate; key: SigningKey } {
  return {
    certificate: parseCertificatePemOrDer(new Uint8Array(Buffer.from(TEST_DB_CERT_BASE64, 'base64'))),
    key: TEST_DB_KEY_PEM,
  };
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Builds the sample template at `path` (overwritten). On failure nothing is left at `path`. */
export async function makeSampleTemplate(
  path: string,
  options: SampleTemplateOptions = {},
): Promise<SampleTemplate> {
  const size = options.size ?? 256 * MiB;
  if (options.rootLuksVersion !== undefined && options.rootLuksVersion !== 1 && options.rootLuksVersion !== 2)
    throw new UsageError('SAMPLE_ROOT_LUKS', 'the root LUKS version must be 1 or 2');
  if (!Number.isSafeInteger(size) || size < 128 * MiB || size % MiB !== 0)
    throw new UsageError('SAMPLE_SIZE', 'the sample size must be a whole number of MiB, at least 128 MiB');
  const format = options.format ?? (path.toLowerCase().endsWith('.vhdx') ? 'vhdx' : 'raw');
  const signer = options.signer
    ? { certificate: parseCertificatePemOrDer(options.signer.certificate), key: options.signer.key }
    : testDbSigner();
  const sign = (img: Uint8Array): Uint8Array =>
    signImage(img, { certificate: signer.certificate, key: signer.key });
  // Sign before touching the output, so a bad key fails fast.
  const loader =
    options.loader ?? sign(makeEfiApplication({ marker: 'lsvm sample loader (stands in for lsvmload)' }));
  let shimSource: SampleTemplate['shim'];
  let shim: Uint8Array;
  if (options.shim) {
    shim = options.shim;
    shimSource = 'given';
  } else if (existsSync(DEBIAN_SIGNED_SHIM)) {
    shim = new Uint8Array(readFileSync(DEBIAN_SIGNED_SHIM));
    shimSource = 'debian-signed';
  } else {
    shim = sign(makeEfiApplication({ marker: 'lsvm sample shim' }));
    shimSource = 'test-signed';
  }
  const grub = sign(makeEfiApplication({ marker: 'lsvm sample grubx64' }));
  const kernel = sign(makeEfiApplication({ marker: 'lsvm sample Linux kernel (EFI stub stand-in)' }));

  let disk: BlockDevice | undefined;
  try {
    if (format === 'vhdx') {
      await createVhdxFile(path, { size, type: 'dynamic' });
      disk = await openVhdxFile(path, { readOnly: false });
    } else {
      rmSync(path, { force: true });
      disk = await FileDevice.open(path, { create: true, size });
    }
    let table = createGpt({
      diskSize: size,
      sectorSize: 512,
      ...(options.diskGuid ? { diskGuid: options.diskGuid } : {}),
    });
    const espAdd = addPartition(table, {
      type: ESP_TYPE_GUID,
      sizeLba: ESP_SIZE / 512,
      name: 'EFI System Partition',
    });
    table = espAdd.table;
    const bootAdd = addPartition(table, {
      type: LINUX_DATA_TYPE_GUID,
      sizeLba: BOOT_SIZE / 512,
      name: 'boot',
    });
    table = bootAdd.table;
    const rootAdd = addPartition(table, { type: LINUX_DATA_TYPE_GUID, sizeLba: 'rest', name: 'root' });
    table = rootAdd.table;
    await writeGpt(disk, table);
    const slice = (e: { firstLba: number; lastLba: number }) =>
      new SliceDevice(disk!, e.firstLba * 512, (e.lastLba - e.firstLba + 1) * 512);
    const pass = enc(WELL_KNOWN_PASSPHRASE);

    // Boot: LUKS1 (lsvmload opens only LUKS1), aes-xts-plain64 with a 256-bit key, ext3.
    const bootDev = slice(bootAdd.entry);
    const bootFmt = await formatLuks(bootDev, pass, {
      type: 'luks1',
      cipher: 'aes-xts-plain64',
      keySizeBits: 256,
      kdf: { type: 'pbkdf2', hash: 'sha256', iterations: 1000 },
      digestIterations: 1000,
    });
    zeroize(bootFmt.volumeKey);
    const bootPlain = await openLuks(bootDev, pass, { readOnly: false });
    try {
      await mkfsExt(bootPlain, { type: 'ext3', label: 'boot' });
      await withExtFs(bootPlain, async (fs) => {
        await fs.mkdirp('/lsvmload');
        await fs.writeFile('/lsvmload/shimx64.efi', shim);
        await fs.writeFile('/lsvmload/grubx64.efi', grub);
        await fs.mkdirp('/grub');
        await fs.writeFile('/grub/grub.cfg', enc(grubCfg()));
        await fs.writeFile(`/${SAMPLE_KERNEL}`, kernel);
        await fs.writeFile(`/${SAMPLE_INITRD}`, await sampleInitrd());
      });
    } finally {
      await bootPlain.close();
    }

    // Root: LUKS2 (or LUKS1 on request), ext4.
    const rootDev = slice(rootAdd.entry);
    const rootFmt = await formatLuks(
      rootDev,
      pass,
      options.rootLuksVersion === 1
        ? {
            type: 'luks1',
            kdf: { type: 'pbkdf2', hash: 'sha256', iterations: 1000 },
            digestIterations: 1000,
          }
        : {
            type: 'luks2',
            kdf: { type: 'argon2id', iterations: 4, memoryKiB: 16384, parallel: 1 },
            digestIterations: 1000,
            label: 'root',
          },
    );
    zeroize(rootFmt.volumeKey);
    const rootPlain = await openLuks(rootDev, pass, { readOnly: false });
    try {
      await mkfsExt(rootPlain, { type: 'ext4', label: 'root' });
      await withExtFs(rootPlain, async (fs) => {
        await fs.mkdirp('/etc');
        await fs.writeFile('/etc/hostname', enc('lsvm-sample\n'));
        await fs.writeFile(
          '/etc/os-release',
          enc('NAME="lsvm sample"\nID=lsvm-sample\nVERSION_ID="1.0"\nPRETTY_NAME="lsvm sample template"\n'),
        );
        await fs.writeFile(
          '/etc/fstab',
          enc('/dev/mapper/root / ext4 defaults 0 1\n/dev/mapper/boot /boot ext3 defaults 0 2\n'),
        );
        await fs.mkdirp('/home', 0o755);
        await fs.mkdirp('/root', 0o700);
        await fs.mkdirp('/boot', 0o755);
      });
    } finally {
      await rootPlain.close();
    }

    // ESP: FAT32, loader and lsvmconf.
    const espDev = slice(espAdd.entry);
    await mkfs(espDev, { type: 32, label: 'ESP', hiddenSectors: espAdd.entry.firstLba });
    const esp = await FatFileSystem.open(espDev);
    try {
      await esp.writeFile(LOADER_PATH, loader, { createParents: true });
      await esp.writeFile(
        LSVMCONF_PATH,
        enc(
          serializeLsvmConf({
            efiVendorDir: options.vendor ?? 'ubuntu',
            bootDeviceLuks: bootFmt.uuid,
            rootDeviceLuks: rootFmt.uuid,
            bootDevice: bootAdd.entry.uniqueGuid,
            rootDevice: rootAdd.entry.uniqueGuid,
          }),
        ),
      );
    } finally {
      await esp.close();
    }
    await disk.flush();
    await disk.close();
    disk = undefined;
    return {
      path,
      format,
      size,
      diskGuid: normalizeGuid(table.diskGuid),
      esp: { index: 1, partitionGuid: espAdd.entry.uniqueGuid },
      boot: { index: 2, partitionGuid: bootAdd.entry.uniqueGuid, luksUuid: normalizeGuid(bootFmt.uuid) },
      root: { index: 3, partitionGuid: rootAdd.entry.uniqueGuid, luksUuid: normalizeGuid(rootFmt.uuid) },
      shim: shimSource,
      loader: options.loader ? 'given' : 'test-signed',
    };
  } catch (e) {
    if (disk) await disk.close().catch(() => {});
    rmSync(path, { force: true });
    throw e;
  }
}

/** grub.cfg naming the sample kernel and initrd (paths relative to the boot file system). */
function grubCfg(): string {
  return [
    '# lsvm sample template',
    'set default=0',
    'set timeout=0',
    "menuentry 'lsvm sample' {",
    `\tlinux /${SAMPLE_KERNEL} root=/dev/mapper/root ro quiet`,
    `\tinitrd /${SAMPLE_INITRD}`,
    '}',
    '',
  ].join('\n');
}

/** A gzip-compressed newc initramfs with a trivial /init. */
async function sampleInitrd(): Promise<Uint8Array> {
  const mtime = 1_700_000_000;
  const entries = [
    directoryEntry('bin', { mtime }),
    directoryEntry('etc', { mtime }),
    fileEntry('etc/initrd-release', enc('NAME="lsvm sample initrd"\n'), { mtime }),
    fileEntry('init', enc('#!/bin/sh\necho "lsvm sample initrd"\nexec /sbin/init\n'), { mode: 0o755, mtime }),
  ];
  return compress(serializeCpio(entries), 'gzip');
}
