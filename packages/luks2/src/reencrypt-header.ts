import { randomBytes } from 'node:crypto';
import { type BlockDevice, FormatError, UnsupportedError, UsageError } from '@lsvm/core';
import { luks2Identity, writeLuks1Header, writeLuks2Headers } from './header-write.js';
import type { KdfOptions } from './kdf-params.js';
import { writeLuks1KeyslotMaterial } from './keyslot-edit.js';
import { planLuks2Keyslot, stageLuks2Keyslot } from './keyslot-plan.js';
import { LUKS_STRIPES, type LuksLimits } from './limits.js';
import { LUKS1_KEYSLOTS, type Luks1Header, type Luks1Keyslot, luks1KeyslotSectors } from './luks1-header.js';
import { JsonNumber, type JsonObject, cloneJson, isJsonObject, jsonObject } from './luks2-json.js';
import type { KdfParams, Luks2Metadata } from './luks2-metadata.js';
import type { Luks2Volume, LuksVolume } from './luks-volume.js';
import { pbkdf2 } from './pbkdf.js';
import type { ReencryptJournalHeader } from './reencrypt-journal.js';
import { setMarkInJson } from './reencrypt-mark.js';

/**
 * The header side of an offline re-encryption (see reencrypt.ts): checks that the final header
 * will fit, the one header update that swaps the old key for the new one and clears the mark,
 * and the zeroing of every keyslot byte the final header does not use.
 */

const DIGEST_HASH = 'sha256';
const WIPE_CHUNK = 1024 * 1024;

/** LUKS2 checks: one crypt segment, bound by one digest. */
export function luks2BoundDigest(meta: Luks2Metadata) {
  if (meta.segments.length !== 1)
    throw new UnsupportedError(
      'REENCRYPT_SEGMENTS',
      `re-encryption needs exactly one data segment, the header has ${meta.segments.length}`,
    );
  const seg = meta.segments[0]!;
  const digest = meta.digests.find((d) => d.segments.includes(seg.id));
  if (!digest) throw new FormatError('LUKS2_METADATA', 'no digest covers the data segment');
  return { seg, digest };
}

/** LUKS1 keyslot offsets for a key of `keyBytes` (cryptsetup's layout when the size changes). */
export function luks1SlotOffsets(hdr: Luks1Header, keyBytes: number): number[] {
  if (keyBytes === hdr.keyBytes) return hdr.keyslots.map((k) => k.keyMaterialOffset);
  const slotSectors = Math.ceil(luks1KeyslotSectors(keyBytes) / 8) * 8;
  const offsets = Array.from({ length: LUKS1_KEYSLOTS }, (_, i) => 8 + i * slotSectors);
  if (8 + LUKS1_KEYSLOTS * slotSectors > hdr.payloadOffset)
    throw new UsageError(
      'REENCRYPT_NO_ROOM',
      `keyslots for a ${keyBytes * 8}-bit key do not fit before the data at sector ${hdr.payloadOffset}`,
    );
  return offsets;
}

export function kdfOptionsOf(k: KdfParams): KdfOptions {
  if (k.type === 'pbkdf2') return { type: 'pbkdf2', hash: k.hash, iterations: k.iterations };
  if (k.type === 'argon2') throw new UnsupportedError('LUKS_UNSUPPORTED_KDF', 'draft argon2 KDF');
  return { type: k.type, iterations: k.time, memoryKiB: k.memory, parallel: k.cpus };
}

/** Step 4: the header with only the new key, the mark gone — one atomic header update. */
export async function finalizeHeader(
  device: BlockDevice,
  volume: LuksVolume,
  h: ReencryptJournalHeader,
  newVk: Uint8Array,
  target: Uint8Array,
  limits: LuksLimits,
): Promise<void> {
  if (volume.version === 1) return finalizeLuks1(device, volume.header, h, newVk, target, limits);
  return finalizeLuks2(device, volume, h, newVk, target, limits);
}

async function finalizeLuks1(
  device: BlockDevice,
  hdr: Luks1Header,
  h: ReencryptJournalHeader,
  newVk: Uint8Array,
  target: Uint8Array,
  limits: LuksLimits,
): Promise<void> {
  const kdf = h.kdf;
  if (kdf.type !== 'pbkdf2') throw new FormatError('REENCRYPT_JOURNAL_INVALID', 'LUKS1 needs a PBKDF2 wrap');
  const offsets = luks1SlotOffsets(hdr, h.newKeySize);
  const dash = h.newCipher.indexOf('-');
  const salt = new Uint8Array(randomBytes(32));
  const mkDigestSalt = new Uint8Array(randomBytes(32));
  const keyslots: Luks1Keyslot[] = offsets.map((keyMaterialOffset, index) => ({
    index,
    active: index === 0,
    iterations: index === 0 ? kdf.iterations : 0,
    salt: index === 0 ? salt : new Uint8Array(32),
    keyMaterialOffset,
    stripes: LUKS_STRIPES,
  }));
  const next: Luks1Header = {
    ...hdr,
    cipherName: h.newCipher.slice(0, dash),
    cipherMode: h.newCipher.slice(dash + 1),
    keyBytes: h.newKeySize,
    mkDigestSalt,
    mkDigestIterations: h.digest.iterations,
    mkDigest: await pbkdf2(newVk, mkDigestSalt, h.digest.iterations, hdr.hashSpec, 20),
    keyslots,
  };
  // Key material first (the header in force does not need it: the journal holds the new key),
  // then the one-sector header write that also clears the mark.
  await writeLuks1KeyslotMaterial(device, next, 0, newVk, target, kdf.iterations, salt, limits);
  await writeLuks1Header(device, next);
}

async function finalizeLuks2(
  device: BlockDevice,
  volume: Luks2Volume,
  h: ReencryptJournalHeader,
  newVk: Uint8Array,
  target: Uint8Array,
  limits: LuksLimits,
): Promise<void> {
  const meta = volume.active.metadata;
  const { seg, digest } = luks2BoundDigest(meta);
  const old = new Set(digest.keyslots);
  const json = setMarkInJson(cloneJson(volume.active.json), false);
  const keyslots = json.keyslots as JsonObject;
  for (const s of old) delete keyslots[String(s)];
  const segJson = (json.segments as JsonObject)[String(seg.id)];
  if (!isJsonObject(segJson)) throw new FormatError('LUKS2_METADATA', 'segment is missing');
  segJson.encryption = h.newCipher;
  const salt = new Uint8Array(randomBytes(32));
  const value = await pbkdf2(newVk, salt, h.digest.iterations, DIGEST_HASH, 32);
  (json.digests as JsonObject)[String(digest.id)] = jsonObject({
    type: 'pbkdf2',
    keyslots: [],
    segments: digest.segments.map(String),
    hash: DIGEST_HASH,
    iterations: JsonNumber.of(h.digest.iterations),
    salt: Buffer.from(salt).toString('base64'),
    digest: Buffer.from(value).toString('base64'),
  });
  // Tokens (e.g. systemd-tpm2) that named the old keyslots lose those references.
  const tokens = json.tokens as JsonObject;
  for (const k of Object.keys(tokens)) {
    const t = tokens[k];
    if (isJsonObject(t) && Array.isArray(t.keyslots))
      t.keyslots = t.keyslots.filter((x) => !old.has(Number(x)));
  }
  const rest: Luks2Metadata = { ...meta, keyslots: meta.keyslots.filter((k) => !old.has(k.id)) };
  const { id, nextSeqid } = luks2Identity(volume);
  const plan = await planLuks2Keyslot(rest, id.hdrSize, newVk.length, {
    kdf: kdfOptionsOf(h.kdf),
    encryption: h.newCipher,
    areaKeySize: newVk.length,
    limits,
  });
  const staged = await stageLuks2Keyslot(device, json, plan, newVk, target, digest.id, limits);
  await writeLuks2Headers(device, id, staged.json, nextSeqid);
}

export function copiesAgree(v: Luks2Volume): boolean {
  return v.primary.valid && v.secondary.valid && v.primary.seqid === v.secondary.seqid;
}

/** Byte ranges [start, end) of `[from, to)` not covered by `used`. */
function gaps(from: number, to: number, used: Array<readonly [number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = from;
  for (const [s, e] of [...used].sort((a, b) => a[0] - b[0])) {
    if (s > at) out.push([at, Math.min(s, to)]);
    at = Math.max(at, e);
    if (at >= to) break;
  }
  if (at < to) out.push([at, to]);
  return out.filter(([s, e]) => e > s);
}

/**
 * Zeroes every byte of the keyslot region that the header in force does not use: the old key's
 * material (anti-forensic: the old key must be gone) and any leftover. Idempotent.
 */
export async function wipeUnusedKeyMaterial(device: BlockDevice, v: LuksVolume): Promise<void> {
  let ranges: Array<[number, number]>;
  if (v.version === 2) {
    const start = 2 * v.active.binary.hdrSize;
    const used = v.active.metadata.keyslots.map((k) => [k.area.offset, k.area.offset + k.area.size] as const);
    ranges = gaps(start, start + v.active.metadata.config.keyslotsSize, used);
  } else {
    const hdr = v.header;
    const used = hdr.keyslots
      .filter((k) => k.active)
      .map(
        (k) =>
          [
            k.keyMaterialOffset * 512,
            (k.keyMaterialOffset + luks1KeyslotSectors(hdr.keyBytes)) * 512,
          ] as const,
      );
    // From the second 512-byte sector (the header takes 592 bytes) to the payload.
    ranges = gaps(1024, hdr.payloadOffset * 512, used);
  }
  const zero = new Uint8Array(WIPE_CHUNK);
  for (const [s, e] of ranges)
    for (let o = s; o < e; o += WIPE_CHUNK)
      await device.write(o, zero.subarray(0, Math.min(WIPE_CHUNK, e - o)));
  await device.flush();
}
