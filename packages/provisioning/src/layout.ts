import { type BlockDevice, FormatError, type SliceDevice, isLsvmError } from '@lsvm/core';
import type { FatFileSystem } from '@lsvm/fat';
import {
  type GptDisk,
  type GptEntry,
  type GptTable,
  openGpt,
  partitionSlice,
  usedPartitions,
} from '@lsvm/gpt';
import { type LsvmConf, parseLsvmConf } from './lsvmconf.js';

/**
 * Where the pieces of a Linux template are on its disk: the EFI System Partition (by type GUID),
 * and the boot and root partitions — named by lsvmconf's `BootDevice`/`RootDevice` GUIDs when the
 * ESP holds a valid lsvmconf, else the first and second non-ESP partitions in slot order (the
 * layout lsvmprep and the sample leave: 1 ESP, 2 boot, 3 root).
 */

/** GPT type GUID of the EFI System Partition. */
export const ESP_TYPE_GUID = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
/** Path of lsvmload on the ESP. */
export const LOADER_PATH = '/EFI/boot/bootx64.efi';
/** Path of lsvmconf on the ESP. */
export const LSVMCONF_PATH = '/EFI/boot/lsvmconf';
/** Path of the sealed keys file lsvmload reads. */
export const SEALEDKEYS_PATH = '/EFI/boot/sealedkeys';
/** Path of the specialization file lsvmload reads. */
export const SPECIALIZATION_PATH = '/EFI/boot/specialization.aes';
/** Where `protect` writes the Volume Signature Catalog (lsvm's choice; lsvmload ignores it). */
export const VSC_PATH = '/EFI/lsvm/template.vsc';
/** The passphrase lsvmprep leaves on both volumes of a template (lsvmload's convention). */
export const WELL_KNOWN_PASSPHRASE = 'passphrase';

/** One partition with its identity, as @lsvm/vsc's PartitionSource wants it. */
export interface LocatedPartition {
  index: number;
  partitionGuid: string;
  typeGuid: string;
  firstLba: number;
  lastLba: number;
  device: SliceDevice;
}

/** The located template. */
export interface TemplateLayout {
  gpt: GptDisk;
  table: GptTable;
  /** Every used partition. */
  partitions: LocatedPartition[];
  /** ESPs found (exactly one is expected). */
  esps: LocatedPartition[];
  boot?: LocatedPartition;
  root?: LocatedPartition;
  /** How boot and root were chosen. */
  roleSource: 'lsvmconf' | 'order' | 'none';
}

export function located(
  disk: BlockDevice,
  table: GptTable,
  e: GptEntry,
  readOnly: boolean,
): LocatedPartition {
  return {
    index: e.index,
    partitionGuid: e.uniqueGuid,
    typeGuid: e.typeGuid,
    firstLba: e.firstLba,
    lastLba: e.lastLba,
    device: partitionSlice(disk, table, e.index, { readOnly }),
  };
}

/**
 * Reads the GPT and locates the parts. `conf` is lsvmconf when the caller already read it.
 * Throws FormatError `GPT_NOT_FOUND` (from @lsvm/gpt) when there is no usable table.
 */
export async function locateTemplate(
  disk: BlockDevice,
  options: { conf?: LsvmConf; readOnly?: boolean } = {},
): Promise<TemplateLayout> {
  const gpt = await openGpt(disk);
  if (!gpt.table) {
    throw new FormatError('TEMPLATE_NO_GPT', 'neither GPT copy is intact', { structure: 'GPT' });
  }
  const table = gpt.table;
  const ro = options.readOnly ?? disk.readOnly;
  const partitions = usedPartitions(table).map((e) => located(disk, table, e, ro));
  const esps = partitions.filter((p) => p.typeGuid === ESP_TYPE_GUID);
  const others = partitions.filter((p) => p.typeGuid !== ESP_TYPE_GUID);
  const conf = options.conf;
  if (conf) {
    const boot = partitions.find((p) => p.partitionGuid === conf.bootDevice);
    const root = partitions.find((p) => p.partitionGuid === conf.rootDevice);
    if (boot && root) return { gpt, table, partitions, esps, boot, root, roleSource: 'lsvmconf' };
  }
  if (others.length >= 2)
    return { gpt, table, partitions, esps, boot: others[0]!, root: others[1]!, roleSource: 'order' };
  return { gpt, table, partitions, esps, roleSource: 'none' };
}

/** Reads lsvmconf from an open ESP; undefined when absent or invalid. */
export async function readLsvmConfFrom(fs: FatFileSystem): Promise<LsvmConf | undefined> {
  try {
    return parseLsvmConf(await fs.readFile(LSVMCONF_PATH));
  } catch (e) {
    if (isLsvmError(e)) return undefined;
    throw e;
  }
}
