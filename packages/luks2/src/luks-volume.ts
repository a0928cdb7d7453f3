import { type BlockDevice, FormatError, UnsupportedError } from '@lsvm/core';
import {
  LUKS1_HEADER_SIZE,
  type Luks1Header,
  checkLuks1DeviceSize,
  looksLikeLuks1,
  parseLuks1Header,
} from './luks1-header.js';
import { type Luks2CopyStatus, type Luks2HeaderCopy, readLuks2Headers } from './luks2-header.js';
import { KNOWN_REQUIREMENTS } from './luks2-metadata.js';

/** Magic of a LUKS1 header marked by an unfinished offline re-encryption (see reencrypt-mark.ts). */
export const LUKS1_REENCRYPT_MAGIC: readonly number[] = Object.freeze([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]);

/** A LUKS1 volume as read from a device. */
export interface Luks1Volume {
  version: 1;
  header: Luks1Header;
}

/** A LUKS2 volume as read from a device: the copy in force and how both copies looked. */
export interface Luks2Volume {
  version: 2;
  active: Luks2HeaderCopy;
  primary: Luks2CopyStatus;
  secondary: Luks2CopyStatus;
}

/** Either version. */
export type LuksVolume = Luks1Volume | Luks2Volume;

/**
 * Reads and validates the LUKS header(s) of a device, version 1 or 2. Pure parsers for each
 * piece are exported separately (`parseLuks1Header`, `parseLuks2HeaderCopy`).
 * @throws FormatError `LUKS_BAD_MAGIC` when the device holds no LUKS header.
 */
export async function readLuks(device: BlockDevice): Promise<LuksVolume> {
  if (device.size < LUKS1_HEADER_SIZE)
    throw new FormatError('LUKS_BAD_MAGIC', 'device too small for a LUKS header');
  const head = await device.read(0, Math.min(device.size, 4096));
  if (LUKS1_REENCRYPT_MAGIC.every((v, i) => head[i] === v))
    throw new UnsupportedError(
      'LUKS_REENCRYPT_IN_PROGRESS',
      'this LUKS1 volume is in the middle of an offline re-encryption (magic "SKUL"): resume it with its journal',
    );
  if (looksLikeLuks1(head)) {
    const header = parseLuks1Header(head);
    checkLuks1DeviceSize(header, device.size);
    return { version: 1, header };
  }
  const h = await readLuks2Headers(device);
  return { version: 2, active: h.active, primary: h.primary, secondary: h.secondary };
}

/** Mandatory requirement flags of a LUKS2 volume this library does not implement. */
export function unknownRequirements(volume: LuksVolume): string[] {
  if (volume.version === 1) return [];
  return volume.active.metadata.config.requirements.filter((r) => !KNOWN_REQUIREMENTS.includes(r));
}
