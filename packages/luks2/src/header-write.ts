import { randomBytes } from 'node:crypto';
import type { BlockDevice } from '@lsvm/core';
import { buildLuks2HeaderCopy } from './luks2-binary-header.js';
import { type JsonObject, stringifyJson } from './luks2-json.js';
import { type Luks1Header, serializeLuks1Header } from './luks1-header.js';
import { type Luks2HeaderCopy, parseLuks2HeaderCopy } from './luks2-header.js';
import type { Luks2Volume } from './luks-volume.js';

/** Identity fields of a LUKS2 volume that every header write carries over. */
export interface Luks2Identity {
  hdrSize: number;
  uuid: string;
  label: string;
  subsystem: string;
  checksumAlgorithm: string;
}

/**
 * Writes both LUKS2 header copies with `seqid`, in the order that keeps one valid copy at every
 * instant (DESIGN.md rule 5): the secondary first, flushed, then the primary, flushed. While the
 * secondary is being written the old primary is intact; once it is written it carries the higher
 * seqid and wins; a torn primary write then leaves the new secondary in force.
 *
 * The metadata is validated by reparsing the exact bytes before anything is written, so an update
 * can never store a header our own reader (or cryptsetup) would refuse.
 * @returns the new copy in force.
 */
export async function writeLuks2Headers(
  device: BlockDevice,
  id: Luks2Identity,
  json: JsonObject,
  seqid: bigint,
): Promise<Luks2HeaderCopy> {
  const text = stringifyJson(json);
  const make = (kind: 'primary' | 'secondary'): Uint8Array =>
    buildLuks2HeaderCopy(
      {
        kind,
        hdrSize: id.hdrSize,
        seqid,
        label: id.label,
        subsystem: id.subsystem,
        uuid: id.uuid,
        // Spec §2.1: the salt is unique per copy; a fresh one per write costs nothing.
        salt: new Uint8Array(randomBytes(64)),
        hdrOffset: kind === 'primary' ? 0 : id.hdrSize,
        checksumAlgorithm: id.checksumAlgorithm,
      },
      text,
    );
  const secondary = make('secondary');
  const primary = make('primary');
  const parsed = parseLuks2HeaderCopy(primary, 0);
  parseLuks2HeaderCopy(secondary, id.hdrSize);
  await device.write(id.hdrSize, secondary);
  await device.flush();
  await device.write(0, primary);
  await device.flush();
  return parsed;
}

/** The identity and next seqid of an existing LUKS2 volume. */
export function luks2Identity(volume: Luks2Volume): { id: Luks2Identity; nextSeqid: bigint } {
  const b = volume.active.binary;
  const seqids = [volume.primary.seqid ?? 0n, volume.secondary.seqid ?? 0n, b.seqid];
  const max = seqids.reduce((a, c) => (c > a ? c : a), 0n);
  return {
    id: {
      hdrSize: b.hdrSize,
      uuid: b.uuid,
      label: b.label,
      subsystem: b.subsystem,
      checksumAlgorithm: b.checksumAlgorithm,
    },
    nextSeqid: max + 1n,
  };
}

/** Writes the LUKS1 header (one sector-sized write, so it lands whole or not at all on 512-byte media). */
export async function writeLuks1Header(device: BlockDevice, hdr: Luks1Header): Promise<void> {
  await device.write(0, serializeLuks1Header(hdr));
  await device.flush();
}
