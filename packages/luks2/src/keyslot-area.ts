import { type BlockDevice, FormatError, LimitError } from '@lsvm/core';
import { SectorCipher } from './cipher.js';

/**
 * Keyslot areas hold the AF-split key material encrypted with the keyslot's derived key
 * (LUKS1 spec §2.4; LUKS2 spec §3.2 "area"). The cipher runs on 512-byte sectors whose IVs count
 * from 0 at the start of the area, whatever the data segment's sector size.
 */

/** Bytes of AF material rounded up to whole 512-byte sectors. */
export function keyMaterialSize(keySize: number, stripes: number): number {
  return Math.ceil((keySize * stripes) / 512) * 512;
}

/** Reads and decrypts `length` bytes (whole sectors) of a keyslot area. */
export async function readKeyslotArea(
  device: BlockDevice,
  offset: number,
  length: number,
  encryption: string,
  derivedKey: Uint8Array,
  maxBytes: number,
): Promise<Uint8Array> {
  if (length > maxBytes)
    throw new LimitError(
      'LUKS_AREA_LIMIT',
      `keyslot area of ${length} bytes exceeds the limit of ${maxBytes}`,
    );
  if (length % 512 !== 0)
    throw new FormatError('LUKS_AREA_SIZE', `keyslot area length ${length} is not whole sectors`);
  if (offset + length > device.size)
    throw new FormatError(
      'LUKS_AREA_OUTSIDE',
      `keyslot area [${offset}, +${length}) lies beyond the device end`,
      {
        offset,
      },
    );
  const cipher = new SectorCipher(encryption, derivedKey);
  const data = await device.read(offset, length);
  cipher.decrypt(data, 0n, 512);
  cipher.destroy();
  return data;
}

/** Encrypts AF material (padded with zeros to whole sectors) for writing into a keyslot area. */
export function encryptKeyslotMaterial(
  material: Uint8Array,
  encryption: string,
  derivedKey: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(Math.ceil(material.length / 512) * 512);
  out.set(material);
  const cipher = new SectorCipher(encryption, derivedKey);
  cipher.encrypt(out, 0n, 512);
  cipher.destroy();
  return out;
}
