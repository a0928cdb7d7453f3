import {
  type BlockDevice,
  type LongOperationOptions,
  UsageError,
  VerificationError,
  isLsvmError,
  toHex,
} from '@lsvm/core';
import { FatFileSystem } from '@lsvm/fat';
import {
  type Catalog,
  type CatalogSigner,
  type SignatureVerdict,
  type VolumesReport,
  certificateThumbprint,
  createSignedCatalog,
  verifyCatalogSignature,
  verifyVolumes,
} from '@lsvm/vsc';
import { type CheckTemplateOptions, type TemplateCheckReport, checkTemplate } from './check.js';
import { withDisk } from './disk.js';
import { type TemplateLayout, VSC_PATH, locateTemplate, readLsvmConfFrom } from './layout.js';

/**
 * Protecting a template (the Template Disk Wizard's job): after a clean check, a Volume Signature
 * Catalog over the boot and root partitions — every block hashed, the catalog signed — is written
 * to the ESP at `\EFI\lsvm\template.vsc` ({@link VSC_PATH}). Only the ESP changes; boot and root
 * stay byte-identical (the ESP is not protected, since provisioning writes per-VM files there).
 */

/** Options of {@link protectTemplate}. */
export interface ProtectTemplateOptions extends CheckTemplateOptions, LongOperationOptions {
  signer: CatalogSigner;
  /** Template name, matched by VolumeIdQualifiers. */
  name: string;
  /** Template version `a.b.c.d`. */
  version: string;
  /** Hash block size (default 1 MiB). */
  blockSize?: number;
  /** Hashing worker threads (default: vsc's). */
  workers?: number;
  /** Creation time recorded (default now). */
  created?: Date;
}

/** Result of {@link protectTemplate}. */
export interface ProtectReport {
  check: TemplateCheckReport;
  vscPath: string;
  vscBytes: number;
  name: string;
  version: string;
  signerThumbprint: string;
  volumes: { index: number; role: string; length: number; blockSize: number; rootHash: string }[];
}

/**
 * Checks the template and, when clean, writes its signed catalog into the ESP.
 * @throws VerificationError `TEMPLATE_NOT_CLEAN` (with the findings in the message) when the check
 *   finds anything — nothing is written then.
 */
export async function protectTemplate(
  source: string | BlockDevice,
  options: ProtectTemplateOptions,
): Promise<ProtectReport> {
  const check = await checkTemplate(source, options.trust ? { trust: options.trust } : {});
  if (!check.clean) {
    throw new VerificationError(
      'TEMPLATE_NOT_CLEAN',
      `the template check found ${check.findings.length} problem(s): ${check.findings.map((f) => f.code).join(', ')}`,
    );
  }
  return withDisk(source, { writable: true }, async (disk) => {
    const layout = await locateWithConf(disk);
    const { boot, root } = layout;
    if (!boot || !root)
      throw new UsageError('TEMPLATE_PARTITIONS_MISSING', 'boot and root partitions not found');
    const signed = await createSignedCatalog(
      {
        name: options.name,
        version: options.version,
        disk: { diskGuid: layout.table.diskGuid, sectorSize: layout.table.sectorSize },
        volumes: [
          { ...boot, role: 'boot' },
          { ...root, role: 'root' },
        ],
        ...(options.created ? { created: options.created } : {}),
      },
      options.signer,
      {
        ...(options.blockSize !== undefined ? { blockSize: options.blockSize } : {}),
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    const esp = await FatFileSystem.open(layout.esps[0]!.device);
    try {
      await esp.writeFile(VSC_PATH, signed.file, { createParents: true });
    } finally {
      await esp.close();
    }
    return {
      check,
      vscPath: VSC_PATH,
      vscBytes: signed.file.length,
      name: signed.catalog.name,
      version: signed.catalog.version,
      signerThumbprint: certificateThumbprint(signed.catalog.certificates[0]!),
      volumes: signed.catalog.volumes.map((v) => ({
        index: v.index,
        role: v.role,
        length: v.length,
        blockSize: v.blockSize,
        rootHash: toHex(v.rootHash),
      })),
    };
  });
}

/** Locates boot/root by lsvmconf when the ESP has a valid one. */
export async function locateWithConf(disk: BlockDevice): Promise<TemplateLayout> {
  const first = await locateTemplate(disk);
  const esp = first.esps[0];
  if (first.esps.length !== 1 || !esp) return first;
  let conf: Awaited<ReturnType<typeof readLsvmConfFrom>>;
  try {
    const fs = await FatFileSystem.open(esp.device, {});
    try {
      conf = await readLsvmConfFrom(fs);
    } finally {
      await fs.close();
    }
  } catch (e) {
    if (isLsvmError(e)) return first;
    throw e;
  }
  return conf ? locateTemplate(disk, { conf }) : first;
}

/** Reads the catalog file from the template's ESP. */
export async function readTemplateCatalog(layout: TemplateLayout): Promise<Uint8Array> {
  const esp = layout.esps[0];
  if (layout.esps.length !== 1 || !esp)
    throw new VerificationError(
      'TEMPLATE_ESP_COUNT',
      `found ${layout.esps.length} EFI System Partitions, expected 1`,
    );
  const fs = await FatFileSystem.open(esp.device);
  try {
    if (!(await fs.exists(VSC_PATH)))
      throw new VerificationError(
        'TEMPLATE_NOT_PROTECTED',
        `${VSC_PATH} not found: the template is not protected`,
      );
    return await fs.readFile(VSC_PATH);
  } finally {
    await fs.close();
  }
}

/** Options of {@link verifyTemplate}. */
export interface VerifyTemplateOptions extends LongOperationOptions {
  /** CA or signer certificates (DER) the catalog's signer must chain to. */
  trustAnchors?: Uint8Array[];
  /** Pinned signer thumbprint (SHA-256 of its DER, hex). */
  signerThumbprint?: string;
  workers?: number;
}

/** Result of {@link verifyTemplate}. */
export interface TemplateVerification {
  /** Signature trusted and every protected block unchanged. */
  valid: boolean;
  signature: Omit<SignatureVerdict, 'catalog'>;
  catalog?: Pick<Catalog, 'name' | 'version' | 'created' | 'targetType'>;
  volumes?: VolumesReport;
}

/**
 * Verifies a protected template: the catalog's signature and trust, then every block of boot and
 * root. Never throws for a mismatch — `valid` is false and the report names the signature reason
 * or the changed byte ranges.
 */
export async function verifyTemplate(
  source: string | BlockDevice,
  options: VerifyTemplateOptions,
): Promise<TemplateVerification> {
  return withDisk(source, { writable: false }, async (disk) => {
    const layout = await locateTemplate(disk, { readOnly: true });
    const file = await readTemplateCatalog(layout);
    return verifyCatalogAndVolumes(file, layout, options);
  });
}

/** The two verification steps on an already located disk (shared with provisioning). */
export async function verifyCatalogAndVolumes(
  file: Uint8Array,
  layout: TemplateLayout,
  options: VerifyTemplateOptions,
): Promise<TemplateVerification & { fullCatalog?: Catalog }> {
  const verdict = verifyCatalogSignature(file, {
    ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    ...(options.signerThumbprint ? { signerThumbprint: options.signerThumbprint } : {}),
  });
  const { catalog, ...signature } = verdict;
  if (!verdict.valid || !catalog) return { valid: false, signature };
  const volumes = await verifyVolumes(
    catalog,
    { diskGuid: layout.table.diskGuid, sectorSize: layout.table.sectorSize },
    layout.partitions,
    {
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  return {
    valid: volumes.match,
    signature,
    catalog: {
      name: catalog.name,
      version: catalog.version,
      created: catalog.created,
      targetType: catalog.targetType,
    },
    volumes,
    fullCatalog: catalog,
  };
}

/** One line per changed range, e.g. `root (partition 3): bytes 1048576..2097151 (blocks 1..1)`. */
export function describeMismatch(v: TemplateVerification): string[] {
  const out: string[] = [];
  if (!v.signature.valid) out.push(`catalog signature: ${v.signature.reason}: ${v.signature.message}`);
  for (const p of v.volumes?.diskProblems ?? []) out.push(`disk: ${p}`);
  for (const vol of v.volumes?.volumes ?? []) {
    if (vol.status === 'match') continue;
    const where = `${vol.role} (partition ${vol.index})`;
    for (const p of vol.problems) out.push(`${where}: ${p}`);
    for (const r of vol.changed)
      out.push(
        `${where}: bytes ${r.offset}..${r.offset + r.length - 1} changed (blocks ${r.firstBlock}..${r.lastBlock})`,
      );
    if (vol.problems.length === 0 && vol.changed.length === 0) out.push(`${where}: ${vol.status}`);
  }
  return out;
}
