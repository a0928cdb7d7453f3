import { createHash } from 'node:crypto';
import { type BlockDevice, FormatError, UsageError, constantTimeEqual } from '@lsvm/core';
import { LUKS_STRIPES } from './limits.js';
import { luks2AreaSize } from './keyslot-plan.js';
import type { KdfParams } from './luks2-metadata.js';

/**
 * The write-ahead journal of an offline re-encryption (see README "Re-encryption"). It lives on its
 * own device or file, never on the LUKS device, and holds no plaintext and no key in clear:
 *
 * ```
 * 0                      header block (4096): magic "LSVMRJH1", u32 JSON length, JSON, zeros,
 *                                            SHA-256 of bytes [0, 4064) at 4064
 * 4096                   wrapped new volume key: AF-split (4000 stripes) material encrypted like a
 *                        LUKS keyslot under a key derived (KDF in the header JSON) from the
 *                        passphrase the volume will end with; area size as LUKS2 gives a keyslot
 * 4096 + area            record slot 0: 4096-byte record header + chunkSize payload
 * 4096 + area + slot     record slot 1
 * ```
 *
 * The header block is written once, after the wrapped key, and never rewritten (a torn rewrite
 * would lose the only copy of the new key). Progress goes into the two record slots alternately:
 * record n (sequence number n) lands in slot n mod 2, so the previous record stays intact until
 * the new one is complete. A record is either `chunk` — the ORIGINAL ciphertext of chunk i, saved
 * before chunk i is overwritten — or `final` — every chunk is re-encrypted. Each record carries the
 * run id (so records of an earlier run on a reused journal are ignored), its sequence number and
 * SHA-256 checksums of its header and payload; a torn record fails its checksum.
 */

/** Size of the journal header block and of each record header. */
export const JOURNAL_BLOCK = 4096;
const HEADER_MAGIC = 'LSVMRJH1';
const RECORD_MAGIC = 'LSVMRJR1';
/** Offset of the SHA-256 in a header block or record header. */
const SUM_AT = JOURNAL_BLOCK - 32;
/** Largest volume key (bytes) a journal is sized for by {@link reencryptJournalSize}'s default. */
const MAX_KEY = 64;

/** What the journal header records about a run (JSON in the header block). */
export interface ReencryptJournalHeader {
  /** Random id of the run, 32 hex digits; every record repeats it. */
  runId: string;
  luksVersion: 1 | 2;
  /** UUID of the LUKS header being re-encrypted. */
  uuid: string;
  /** Data segment: offset and size on the LUKS device, encryption sector size, first IV. */
  dataOffset: number;
  dataSize: number;
  sectorSize: number;
  ivTweak: bigint;
  chunkSize: number;
  oldCipher: string;
  newCipher: string;
  /** Bytes of the new volume key. */
  newKeySize: number;
  /** KDF deriving the key that wraps the new volume key (from the final passphrase). */
  kdf: KdfParams;
  /** Cipher of the wrapped-key area (a LUKS keyslot's `area.encryption`). */
  wrapCipher: string;
  /** Bytes of the wrapped-key area after the header block. */
  wrapAreaSize: number;
  /** SHA-256 of the wrapped-key area as written (detects a torn or lost write). */
  wrapSha256: Uint8Array;
  /** PBKDF2 digest of the new volume key, LUKS-style, to check an unwrapped key. */
  digest: { hash: string; iterations: number; salt: Uint8Array; value: Uint8Array };
}

/** One progress record. */
export interface ReencryptRecord {
  seq: number;
  type: 'chunk' | 'final';
  /** `chunk`: the chunk whose original ciphertext `payload` holds. */
  chunk: number;
  /** `chunk`: the original ciphertext of the chunk (never plaintext). */
  payload: Uint8Array;
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function unb64(v: unknown, what: string, length?: number): Uint8Array {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0)
    throw bad(`${what} is not base64`);
  const b = new Uint8Array(Buffer.from(v, 'base64'));
  if (length !== undefined && b.length !== length) throw bad(`${what} has ${b.length} bytes, not ${length}`);
  return b;
}

function bad(message: string): FormatError {
  return new FormatError('REENCRYPT_JOURNAL_INVALID', `re-encryption journal: ${message}`, {
    structure: 'reencrypt journal',
  });
}

function int(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw bad(`${what} is not an integer in ${min}…${max}`);
  return v;
}

function str(v: unknown, what: string, max = 128): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !/^[\x20-\x7e]+$/.test(v))
    throw bad(`${what} is not a short ASCII string`);
  return v;
}

/** Bytes of the wrapped-key area for a key of `keySize` bytes (as LUKS2 sizes a keyslot area). */
export function journalWrapAreaSize(keySize: number): number {
  return luks2AreaSize(keySize);
}

/**
 * Bytes a journal needs for `chunkSize`-byte chunks and a new key of `keySize` bytes (default 64,
 * the largest: enough for any key).
 */
export function reencryptJournalSize(chunkSize: number, keySize = MAX_KEY): number {
  return JOURNAL_BLOCK + journalWrapAreaSize(keySize) + 2 * (JOURNAL_BLOCK + chunkSize);
}

/** A block with `magic`, a u32 length, the JSON text, zeros and the SHA-256 of the rest. */
function sealBlock(magic: string, json: unknown): Uint8Array {
  const b = new Uint8Array(JOURNAL_BLOCK);
  const text = new TextEncoder().encode(JSON.stringify(json));
  if (12 + text.length > SUM_AT) throw new UsageError('REENCRYPT_JOURNAL', 'journal record JSON too long');
  b.set(new TextEncoder().encode(magic), 0);
  new DataView(b.buffer).setUint32(8, text.length, true);
  b.set(text, 12);
  b.set(sha256(b.subarray(0, SUM_AT)), SUM_AT);
  return b;
}

/** The JSON of a block, or undefined when the magic or checksum does not match (torn, absent). */
function openBlock(b: Uint8Array, magic: string): Record<string, unknown> | undefined {
  if (b.length < JOURNAL_BLOCK) return undefined;
  if (new TextDecoder().decode(b.subarray(0, 8)) !== magic) return undefined;
  if (!constantTimeEqual(sha256(b.subarray(0, SUM_AT)), b.subarray(SUM_AT, JOURNAL_BLOCK))) return undefined;
  const len = new DataView(b.buffer, b.byteOffset).getUint32(8, true);
  if (12 + len > SUM_AT) throw bad('JSON length exceeds the block');
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(12, 12 + len)));
  } catch {
    throw bad('block JSON does not parse');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('block JSON is not an object');
  return v as Record<string, unknown>;
}

function kdfToJson(k: KdfParams): Record<string, unknown> {
  return k.type === 'pbkdf2'
    ? { type: k.type, hash: k.hash, iterations: k.iterations, salt: b64(k.salt) }
    : { type: k.type, time: k.time, memory: k.memory, cpus: k.cpus, salt: b64(k.salt) };
}

function kdfFromJson(v: unknown): KdfParams {
  if (typeof v !== 'object' || v === null) throw bad('kdf is not an object');
  const o = v as Record<string, unknown>;
  const salt = unb64(o.salt, 'kdf salt', 32);
  if (o.type === 'pbkdf2')
    return {
      type: 'pbkdf2',
      hash: str(o.hash, 'kdf hash', 32),
      iterations: int(o.iterations, 'iterations', 1, 0xffffffff),
      salt,
    };
  if (o.type === 'argon2i' || o.type === 'argon2id')
    return {
      type: o.type,
      time: int(o.time, 'argon2 time', 1, 0xffffffff),
      memory: int(o.memory, 'argon2 memory', 8, 0xffffffff),
      cpus: int(o.cpus, 'argon2 cpus', 1, 16),
      salt,
    };
  throw bad('unknown kdf type');
}

/** Serialises a journal header block (pure). */
export function serializeJournalHeader(h: ReencryptJournalHeader): Uint8Array {
  return sealBlock(HEADER_MAGIC, {
    version: 1,
    runId: h.runId,
    luksVersion: h.luksVersion,
    uuid: h.uuid,
    dataOffset: h.dataOffset,
    dataSize: h.dataSize,
    sectorSize: h.sectorSize,
    ivTweak: String(h.ivTweak),
    chunkSize: h.chunkSize,
    oldCipher: h.oldCipher,
    newCipher: h.newCipher,
    newKeySize: h.newKeySize,
    kdf: kdfToJson(h.kdf),
    wrapCipher: h.wrapCipher,
    wrapAreaSize: h.wrapAreaSize,
    wrapSha256: b64(h.wrapSha256),
    digest: {
      hash: h.digest.hash,
      iterations: h.digest.iterations,
      salt: b64(h.digest.salt),
      value: b64(h.digest.value),
    },
  });
}

/**
 * Parses a journal header block (pure). Returns undefined when there is none (no magic, or a bad
 * checksum: the header write never completed, so no data was touched yet).
 * @throws FormatError `REENCRYPT_JOURNAL_INVALID` for a checksummed header with impossible fields
 */
export function parseJournalHeader(block: Uint8Array): ReencryptJournalHeader | undefined {
  const o = openBlock(block, HEADER_MAGIC);
  if (!o) return undefined;
  if (o.version !== 1) throw bad(`version ${String(o.version)} is not 1`);
  const runId = str(o.runId, 'runId', 32);
  if (!/^[0-9a-f]{32}$/.test(runId)) throw bad('runId is not 32 hex digits');
  const luksVersion = int(o.luksVersion, 'luksVersion', 1, 2) as 1 | 2;
  const sectorSize = int(o.sectorSize, 'sectorSize', 512, 4096);
  if ((sectorSize & (sectorSize - 1)) !== 0) throw bad('sectorSize is not a power of two');
  const chunkSize = int(o.chunkSize, 'chunkSize', sectorSize, 64 * 1024 * 1024);
  if (chunkSize % sectorSize !== 0) throw bad('chunkSize is not whole sectors');
  const dataSize = int(o.dataSize, 'dataSize', 0);
  if (dataSize % sectorSize !== 0) throw bad('dataSize is not whole sectors');
  if (typeof o.ivTweak !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(o.ivTweak)) throw bad('ivTweak');
  const newKeySize = int(o.newKeySize, 'newKeySize', 16, 64);
  const wrapAreaSize = int(o.wrapAreaSize, 'wrapAreaSize', 512, 16 * 1024 * 1024);
  if (wrapAreaSize < newKeySize * LUKS_STRIPES || wrapAreaSize % 512 !== 0) throw bad('wrapAreaSize');
  const d = o.digest as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null) throw bad('digest is not an object');
  return {
    runId,
    luksVersion,
    uuid: str(o.uuid, 'uuid', 40),
    dataOffset: int(o.dataOffset, 'dataOffset', 0),
    dataSize,
    sectorSize,
    ivTweak: BigInt(o.ivTweak),
    chunkSize,
    oldCipher: str(o.oldCipher, 'oldCipher', 64),
    newCipher: str(o.newCipher, 'newCipher', 64),
    newKeySize,
    kdf: kdfFromJson(o.kdf),
    wrapCipher: str(o.wrapCipher, 'wrapCipher', 64),
    wrapAreaSize,
    wrapSha256: unb64(o.wrapSha256, 'wrapSha256', 32),
    digest: {
      hash: str(d.hash, 'digest hash', 32),
      iterations: int(d.iterations, 'digest iterations', 1, 0xffffffff),
      salt: unb64(d.salt, 'digest salt', 32),
      value: unb64(d.value, 'digest value'),
    },
  };
}

/** Serialises a record: header block then payload, written in one request (pure). */
export function serializeRecord(runId: string, r: ReencryptRecord): Uint8Array {
  const head = sealBlock(RECORD_MAGIC, {
    runId,
    seq: r.seq,
    type: r.type,
    chunk: r.chunk,
    length: r.payload.length,
    sha256: b64(sha256(r.payload)),
  });
  const out = new Uint8Array(JOURNAL_BLOCK + r.payload.length);
  out.set(head);
  out.set(r.payload, JOURNAL_BLOCK);
  return out;
}

/**
 * Parses a record slot (pure): undefined when it is empty, torn, or of another run.
 * @throws FormatError for a checksummed record with impossible fields
 */
export function parseRecord(slot: Uint8Array, runId: string, chunkSize: number): ReencryptRecord | undefined {
  const o = openBlock(slot, RECORD_MAGIC);
  if (!o || o.runId !== runId) return undefined;
  const type = o.type;
  if (type !== 'chunk' && type !== 'final') throw bad('record type');
  const length = int(o.length, 'record length', 0, chunkSize);
  if (JOURNAL_BLOCK + length > slot.length) return undefined;
  const payload = slot.slice(JOURNAL_BLOCK, JOURNAL_BLOCK + length);
  // A payload that does not match its checksum is a torn write: the record never completed.
  if (!constantTimeEqual(sha256(payload), unb64(o.sha256, 'record sha256', 32))) return undefined;
  return { seq: int(o.seq, 'seq', 0), type, chunk: int(o.chunk, 'chunk', 0), payload };
}

/** Byte offset of record slot `n` (0 or 1). */
export function recordSlotOffset(
  h: Pick<ReencryptJournalHeader, 'wrapAreaSize' | 'chunkSize'>,
  n: number,
): number {
  return JOURNAL_BLOCK + h.wrapAreaSize + n * (JOURNAL_BLOCK + h.chunkSize);
}

/** The journal on a BlockDevice: the few reads and writes a run needs, each flushed. */
export class ReencryptJournal {
  constructor(readonly device: BlockDevice) {}

  /**
   * The header, or undefined when the journal holds no run. `wrapIntact` is false when the
   * wrapped key no longer matches its checksum: {@link create} writes the header only after the
   * wrapped key, so that happens only when {@link wipe} stopped between zeroing the wrapped key
   * and the header (or the journal was damaged).
   */
  async readHeader(): Promise<{ header: ReencryptJournalHeader; wrapIntact: boolean } | undefined> {
    if (this.device.size < JOURNAL_BLOCK) return undefined;
    const header = parseJournalHeader(await this.device.read(0, JOURNAL_BLOCK));
    if (!header) return undefined;
    if (this.device.size < recordSlotOffset(header, 2))
      throw bad(`the journal device (${this.device.size} bytes) is smaller than its layout`);
    const wrapped = await this.device.read(JOURNAL_BLOCK, header.wrapAreaSize);
    return { header, wrapIntact: constantTimeEqual(sha256(wrapped), header.wrapSha256) };
  }

  /** Writes a new run: the wrapped key first, then the header that makes it count. */
  async create(header: ReencryptJournalHeader, wrapped: Uint8Array): Promise<void> {
    if (this.device.readOnly) throw new UsageError('READ_ONLY', 'the journal device is read-only');
    if (this.device.size < recordSlotOffset(header, 2))
      throw new UsageError(
        'REENCRYPT_JOURNAL_SIZE',
        `the journal needs ${recordSlotOffset(header, 2)} bytes, the device has ${this.device.size}`,
      );
    // Records of an earlier run are harmless (other run id) but cleared anyway.
    await this.device.write(0, new Uint8Array(JOURNAL_BLOCK));
    await this.device.write(JOURNAL_BLOCK, wrapped);
    for (const n of [0, 1])
      await this.device.write(recordSlotOffset(header, n), new Uint8Array(JOURNAL_BLOCK));
    await this.device.flush();
    await this.device.write(0, serializeJournalHeader(header));
    await this.device.flush();
  }

  /** The newest complete record of the run, if any. */
  async latest(header: ReencryptJournalHeader): Promise<ReencryptRecord | undefined> {
    let best: ReencryptRecord | undefined;
    for (const n of [0, 1]) {
      const slot = await this.device.read(recordSlotOffset(header, n), JOURNAL_BLOCK + header.chunkSize);
      const r = parseRecord(slot, header.runId, header.chunkSize);
      if (r && (!best || r.seq > best.seq)) best = r;
    }
    return best;
  }

  /** Appends record `r` (slot seq mod 2) and flushes it. */
  async append(header: ReencryptJournalHeader, r: ReencryptRecord): Promise<void> {
    await this.appendSerialized(header, r.seq, serializeRecord(header.runId, r));
  }

  /**
   * Appends a record already serialized by {@link serializeRecord} (so its checksum can be
   * computed ahead, while an earlier flush is in flight) and flushes it.
   */
  async appendSerialized(header: ReencryptJournalHeader, seq: number, record: Uint8Array): Promise<void> {
    await this.device.write(recordSlotOffset(header, seq % 2), record);
    await this.device.flush();
  }

  /**
   * Zeroes everything the run wrote: the records, the wrapped key, and the header last — until
   * then the journal still tells a resumed call that this run finished (see {@link readHeader}).
   */
  async wipe(header: ReencryptJournalHeader): Promise<void> {
    const zero = new Uint8Array(JOURNAL_BLOCK + header.chunkSize);
    for (const n of [1, 0]) await this.device.write(recordSlotOffset(header, n), zero);
    await this.device.flush();
    await this.device.write(JOURNAL_BLOCK, new Uint8Array(header.wrapAreaSize));
    await this.device.flush();
    await this.device.write(0, new Uint8Array(JOURNAL_BLOCK));
    await this.device.flush();
  }
}
