import { type BlockDevice, FormatError } from '@lsvm/core';
import { luks2Identity, writeLuks2Headers } from './header-write.js';
import {
  LUKS1_HEADER_SIZE,
  checkLuks1DeviceSize,
  parseLuks1Header,
  serializeLuks1Header,
} from './luks1-header.js';
import { type JsonObject, cloneJson, isJsonObject, jsonObject } from './luks2-json.js';
import { LUKS1_REENCRYPT_MAGIC, type LuksVolume, readLuks } from './luks-volume.js';

/**
 * While an offline re-encryption runs, part of the data is under the old key and part under the
 * new one: nobody may open the volume. The header is marked for that time, so that cryptsetup,
 * this library and a fresh re-encryption all refuse it until the run is resumed and finished:
 *
 * - LUKS2: the mandatory requirement {@link REENCRYPT_REQUIREMENT} in `config.requirements`
 *   (LUKS2 spec §3.6: a reader must refuse a volume whose mandatory requirements it does not
 *   know; cryptsetup refuses to activate it, @lsvm/luks2 refuses to unlock it).
 * - LUKS1 has no such field: the magic becomes `SKUL\xba\xbe` (LUKS reversed), which no LUKS
 *   reader recognises. The LUKS1 header fits in its first sector, so the mark is set and
 *   cleared by a single-sector write.
 */

/** The LUKS2 mandatory requirement of a volume in the middle of an offline re-encryption. */
export const REENCRYPT_REQUIREMENT = 'lsvm-offline-reencrypt';
const LUKS1_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe];
const LUKS1_MARKED_MAGIC = LUKS1_REENCRYPT_MAGIC;

/** A volume as a re-encryption sees it: the header, and whether it carries the mark. */
export interface MarkedVolume {
  volume: LuksVolume;
  marked: boolean;
}

function startsWith(b: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((v, i) => b[i] === v);
}

/** Reads a LUKS header that may carry the re-encryption mark. */
export async function readLuksForReencrypt(device: BlockDevice): Promise<MarkedVolume> {
  if (device.size >= LUKS1_HEADER_SIZE) {
    const head = await device.read(0, Math.min(device.size, 4096));
    if (startsWith(head, LUKS1_MARKED_MAGIC) && head[6] === 0 && head[7] === 1) {
      head.set(LUKS1_MAGIC, 0);
      const header = parseLuks1Header(head);
      checkLuks1DeviceSize(header, device.size);
      return { volume: { version: 1, header }, marked: true };
    }
  }
  const volume = await readLuks(device);
  const marked =
    volume.version === 2 && volume.active.metadata.config.requirements.includes(REENCRYPT_REQUIREMENT);
  return { volume, marked };
}

/** The same volume with the LUKS2 mark left out of the parsed requirements (for unlocking). */
export function withoutMark(volume: LuksVolume): LuksVolume {
  if (volume.version === 1) return volume;
  const m = volume.active.metadata;
  return {
    ...volume,
    active: {
      ...volume.active,
      metadata: {
        ...m,
        config: {
          ...m.config,
          requirements: m.config.requirements.filter((r) => r !== REENCRYPT_REQUIREMENT),
        },
      },
    },
  };
}

/** LUKS2 JSON with the mark added (`add`) or removed, other requirements kept. */
export function setMarkInJson(json: JsonObject, add: boolean): JsonObject {
  const next = cloneJson(json);
  const config = next.config;
  if (!isJsonObject(config)) throw new FormatError('LUKS2_METADATA', 'config is missing');
  const req = isJsonObject(config.requirements) ? config.requirements : jsonObject();
  const mandatory = (Array.isArray(req.mandatory) ? req.mandatory : []).filter(
    (r) => r !== REENCRYPT_REQUIREMENT,
  );
  if (add) mandatory.push(REENCRYPT_REQUIREMENT);
  if (mandatory.length > 0) req.mandatory = mandatory;
  else delete req.mandatory;
  if (Object.keys(req).length > 0) config.requirements = req;
  else delete config.requirements;
  return next;
}

/** Sets the mark (one header update: both LUKS2 copies in the safe order, or one LUKS1 sector). */
export async function markLuks(device: BlockDevice, volume: LuksVolume): Promise<void> {
  if (volume.version === 1) {
    const bytes = serializeLuks1Header(volume.header);
    bytes.set(LUKS1_MARKED_MAGIC, 0);
    await device.write(0, bytes);
    await device.flush();
    return;
  }
  const { id, nextSeqid } = luks2Identity(volume);
  await writeLuks2Headers(device, id, setMarkInJson(volume.active.json, true), nextSeqid);
}
