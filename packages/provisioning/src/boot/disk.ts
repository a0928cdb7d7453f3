import { type BlockDevice, FormatError, isLsvmError } from '@lsvm/core';
import { FatFileSystem } from '@lsvm/fat';
import { type GptEntry, type GptTable, partitionSlice, readGpt, usedPartitions } from '@lsvm/gpt';
import { type LuksVolume, readLuks } from '@lsvm/luks2';
import { luksUuid } from '../check.js';
import { type LsvmConf, parseLsvmConf } from '../lsvmconf.js';

/**
 * A provisioned (or template) disk as lsvmload sees it: the GPT, the EFI System Partition with its
 * FAT file system, and the partitions lsvmconf names. Everything composes through BlockDevices:
 * disk → GPT slice → FAT.
 */

/** EFI System Partition type GUID (UEFI 2.10 §5.3.3). */
export const ESP_TYPE_GUID = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';

/** ESP paths lsvmload reads and provisioning writes. */
export const ESP_PATHS = {
  loader: '/EFI/boot/bootx64.efi',
  lsvmconf: '/EFI/boot/lsvmconf',
  sealedkeys: '/EFI/boot/sealedkeys',
  specialization: '/EFI/boot/specialization.aes',
} as const;

/** Boot file system paths of the chain lsvmload hands over to. */
export const BOOT_FS_PATHS = {
  shim: '/lsvmload/shimx64.efi',
  grub: '/lsvmload/grubx64.efi',
  grubCfg: ['/grub/grub.cfg', '/grub2/grub.cfg'],
  specializeDir: '/lsvmload/specialize',
} as const;

/** An opened disk; `close()` flushes and releases the ESP (not the disk, which the caller owns). */
export interface VmDisk {
  disk: BlockDevice;
  table: GptTable;
  esp: { entry: GptEntry; device: BlockDevice; fs: FatFileSystem };
  close(): Promise<void>;
}

/** Opens the GPT and the (single) ESP of `disk`. */
export async function openVmDisk(disk: BlockDevice, options: { writable?: boolean } = {}): Promise<VmDisk> {
  const { table } = await readGpt(disk);
  const esps = usedPartitions(table).filter((e) => e.typeGuid === ESP_TYPE_GUID);
  if (esps.length !== 1)
    throw new FormatError(
      'BOOT_ESP_COUNT',
      `the disk has ${esps.length} EFI System Partitions, lsvmload needs one`,
      {
        structure: 'GPT',
      },
    );
  const entry = esps[0]!;
  const readOnly = !options.writable;
  const device = partitionSlice(disk, table, entry.index, { readOnly });
  const fs = await FatFileSystem.open(device, { readOnly });
  return {
    disk,
    table,
    esp: { entry, device, fs },
    close: async () => {
      await fs.close();
    },
  };
}

/** Reads and parses `\EFI\boot\lsvmconf`. */
export async function readLsvmConf(vm: VmDisk): Promise<LsvmConf> {
  return parseLsvmConf(await vm.esp.fs.readFile(ESP_PATHS.lsvmconf));
}

/** Reads an ESP file, or undefined when it does not exist. */
export async function readEspFile(vm: VmDisk, path: string): Promise<Uint8Array | undefined> {
  return (await vm.esp.fs.exists(path)) ? vm.esp.fs.readFile(path) : undefined;
}

/** A LUKS volume found on a partition. */
export interface LuksPartition {
  entry: GptEntry;
  device: BlockDevice;
  volume: LuksVolume;
  uuid: string;
}

/**
 * Finds the partition whose LUKS header carries `uuid` — lsvmload looks volumes up by LUKS UUID
 * (`BootDeviceLUKS`, `RootDeviceLUKS`), not by partition GUID.
 * @throws FormatError `BOOT_LUKS_NOT_FOUND` when no partition has it.
 */
export async function findLuksPartition(
  vm: VmDisk,
  uuid: string,
  options: { writable?: boolean } = {},
): Promise<LuksPartition> {
  const want = uuid.toLowerCase();
  for (const entry of usedPartitions(vm.table)) {
    const device = partitionSlice(vm.disk, vm.table, entry.index, { readOnly: !options.writable });
    try {
      const volume = await readLuks(device);
      const got = luksUuid(volume);
      if (got === want) return { entry, device, volume, uuid: got };
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  }
  throw new FormatError('BOOT_LUKS_NOT_FOUND', `no partition holds the LUKS volume ${want}`, {
    structure: 'GPT',
  });
}
