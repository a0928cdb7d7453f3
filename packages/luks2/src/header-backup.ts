import { type BlockDevice, FormatError, MemoryDevice, UsageError } from '@lsvm/core';
import { luks1RequiredDeviceSize } from './luks1-header.js';
import { type LuksVolume, readLuks } from './luks-volume.js';

/**
 * Header backup and restore (cryptsetup luksHeaderBackup / luksHeaderRestore): the whole
 * metadata region — LUKS2 both header copies and the keyslots area, LUKS1 the header and every
 * keyslot area — so a restored backup opens with the passphrases it had.
 */

/** Bytes of the metadata region of a volume. */
export function metadataRegionSize(volume: LuksVolume): number {
  if (volume.version === 1) return luks1RequiredDeviceSize(volume.header);
  const m = volume.active.metadata;
  return 2 * volume.active.binary.hdrSize + m.config.keyslotsSize;
}

/** Reads the metadata region of a LUKS device, after validating it. */
export async function backupHeader(device: BlockDevice): Promise<Uint8Array> {
  const volume = await readLuks(device);
  return device.read(0, Math.min(device.size, metadataRegionSize(volume)));
}

/**
 * Writes a backup made by {@link backupHeader} (or `cryptsetup luksHeaderBackup`) over the
 * metadata region. The backup is validated first; when the device already holds a LUKS header,
 * its UUID must match unless `force` is set.
 */
export async function restoreHeader(
  device: BlockDevice,
  backup: Uint8Array,
  options: { force?: boolean } = {},
): Promise<void> {
  const fromBackup = await readLuks(new MemoryDevice(backup, { readOnly: true }));
  const size = metadataRegionSize(fromBackup);
  if (backup.length < size)
    throw new FormatError(
      'LUKS_BACKUP_TRUNCATED',
      `backup of ${backup.length} bytes lacks its keyslot areas`,
    );
  if (size > device.size)
    throw new UsageError('LUKS_DEVICE_TOO_SMALL', 'device is smaller than the backup’s metadata');
  if (!options.force) {
    let current: LuksVolume | undefined;
    try {
      current = await readLuks(device);
    } catch {
      current = undefined;
    }
    const uuid = (v: LuksVolume): string => (v.version === 1 ? v.header.uuid : v.active.binary.uuid);
    if (current && uuid(current) !== uuid(fromBackup))
      throw new UsageError(
        'LUKS_BACKUP_UUID',
        'the device holds a LUKS header with another UUID; pass force to replace it',
      );
  }
  await device.write(0, backup.subarray(0, size));
  await device.flush();
}
