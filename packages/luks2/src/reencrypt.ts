import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AuthError,
  type BlockDevice,
  FormatError,
  LimitError,
  type LongOperationOptions,
  UnsupportedError,
  UsageError,
  VerificationError,
  constantTimeEqual,
  throwIfAborted,
  toHex,
  zeroize,
} from '@lsvm/core';
import { afMerge, afSplit } from './af.js';
import { SectorCipher, parseCipherSpec, validKeySizes } from './cipher.js';
import { luks2Identity, writeLuks2Headers } from './header-write.js';
import { calibratePbkdf2, type KdfOptions, resolveKdf } from './kdf-params.js';
import { encryptKeyslotMaterial, keyMaterialSize, readKeyslotArea } from './keyslot-area.js';
import { allocateLuks2Area, luks2AreaSize } from './keyslot-plan.js';
import { LUKS_STRIPES, luksLimits, type LuksLimits } from './limits.js';
import { LUKS1_HEADER_SIZE, luks1KeyslotSectors } from './luks1-header.js';
import type { KdfParams } from './luks2-metadata.js';
import { dataSegmentLayout } from './luks-device.js';
import { type LuksVolume, readLuks } from './luks-volume.js';
import { checkKdfCost, deriveKey, pbkdf2 } from './pbkdf.js';
import {
  copiesAgree,
  finalizeHeader,
  luks1SlotOffsets,
  luks2BoundDigest,
  wipeUnusedKeyMaterial,
} from './reencrypt-header.js';
import {
  ReencryptJournal,
  type ReencryptJournalHeader,
  type ReencryptRecord,
  journalWrapAreaSize,
  serializeRecord,
} from './reencrypt-journal.js';
import { markLuks, readLuksForReencrypt, withoutMark } from './reencrypt-mark.js';
import { assertRequirementsMet, unlockLuks, volumeKeyMatches } from './unlock.js';

/**
 * Offline re-encryption of a LUKS1 or LUKS2 volume in place: a new random volume key, every data
 * sector decrypted with the old key and encrypted with the new one, the data offset and size
 * unchanged, and at the end a header holding only the new key's keyslot. Crash-safe and
 * resumable through a write-ahead journal on a separate device ({@link ReencryptJournal}); the
 * protocol is described in the package README ("Re-encryption") and summarised here:
 *
 * 1. Start: unlock the old key; draw the new key; write it to the journal wrapped like a LUKS
 *    keyslot under the final passphrase, then the journal header (flushed). Mark the LUKS header
 *    ({@link markLuks}) so nothing opens a half re-encrypted volume.
 * 2. Chunk i (in order): journal record {seq, i, ORIGINAL ciphertext of chunk i} (flushed) →
 *    decrypt/encrypt in memory → overwrite chunk i (flushed) → read back and compare. Records
 *    alternate between two slots, so the previous one survives a torn record write.
 * 3. A `final` record (flushed): all data is under the new key.
 * 4. One header update: the new digest and keyslot, the old keyslots and the mark removed (LUKS2:
 *    both copies in the safe order; LUKS1: one sector). Then the old key material and every
 *    unused keyslot byte is zeroed, the header is re-read and unlocked with the final passphrase,
 *    and the journal is zeroed.
 *
 * Resume (any crash point): a journal without a valid header means step 1 never completed — the
 * volume is untouched. Otherwise the new key is unwrapped from the journal; a header already
 * opened by it means step 4 completed its header write (only the zeroing is redone); the newest
 * record tells the rest — `chunk i`: chunk i is redone from the saved ciphertext (idempotent:
 * whatever mix of old and new sectors a torn write left, it is rewritten from the original) and
 * the run continues at i + 1; `final`: step 4 is redone from the journal alone (the old key is no
 * longer needed); no record: nothing was overwritten, start at chunk 0.
 */

/** Options of {@link reencryptLuks} and {@link resumeReencrypt}. */
export interface ReencryptOptions extends LongOperationOptions {
  /** A passphrase or key-file content that opens a keyslot now (before the run). */
  key: Uint8Array;
  /** The passphrase the re-encrypted volume will have (default: `key`). */
  newPassphrase?: Uint8Array;
  /** New data cipher (default: the current one). */
  cipher?: string;
  /** New key size in bits (default: the current one, or 512 for XTS and 256 otherwise when the cipher changes). */
  keySizeBits?: number;
  /** KDF of the new keyslot and of the journal's key wrap (LUKS2 default argon2id, LUKS1 PBKDF2). */
  kdf?: KdfOptions;
  /** PBKDF2 iterations of the new volume-key digest (default: calibrated to 125 ms). */
  digestIterations?: number;
  /** Where the journal lives: a device of at least {@link reencryptJournalSize} bytes. */
  journal: BlockDevice;
  /** Bytes re-encrypted per journal record (default 1 MiB; whole sectors). */
  chunkSize?: number;
  limits?: Partial<LuksLimits>;
}

/** What a re-encryption did. */
export interface ReencryptResult {
  version: 1 | 2;
  /** True when an interrupted run was found in the journal and finished. */
  resumed: boolean;
  /** Keyslot holding the new volume key. */
  keyslot: number;
  cipher: string;
  keySizeBits: number;
  /** Bytes of data re-encrypted (the whole data segment). */
  dataSize: number;
  chunks: number;
  /** Chunks written by this call (fewer than `chunks` when resuming). */
  chunksWritten: number;
}

/** Default bytes per chunk. */
export const REENCRYPT_DEFAULT_CHUNK = 1024 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
const AF_HASH = 'sha256';
const DIGEST_HASH = 'sha256';

/**
 * Re-encrypts a LUKS volume with a new random volume key (offline: nothing else may use the
 * device meanwhile). When the journal already holds an interrupted run of this volume, that run is
 * resumed instead (the same options must be given). See the module comment for the protocol.
 * @throws AuthError when `key` (or, resuming, the final passphrase) opens nothing;
 *   UsageError `REENCRYPT_INTERRUPTED` when the volume is marked but the journal holds no run;
 *   UnsupportedError for detached headers, several segments or ciphers we lack;
 *   AbortedError when `signal` fires (the run stays resumable)
 */
export async function reencryptLuks(
  device: BlockDevice,
  options: ReencryptOptions,
): Promise<ReencryptResult> {
  if (device.readOnly) throw new UsageError('READ_ONLY', 'cannot re-encrypt a read-only device');
  const journal = new ReencryptJournal(options.journal);
  const existing = await journal.readHeader();
  if (existing) return continueRun(device, journal, existing.header, options, true, existing.wrapIntact);
  return startRun(device, journal, options);
}

/**
 * Finishes an interrupted re-encryption from its journal, whatever the crash point.
 * @throws UsageError `REENCRYPT_NO_RUN` when the journal holds no run
 */
export async function resumeReencrypt(
  device: BlockDevice,
  options: ReencryptOptions,
): Promise<ReencryptResult> {
  if (device.readOnly) throw new UsageError('READ_ONLY', 'cannot re-encrypt a read-only device');
  const journal = new ReencryptJournal(options.journal);
  const existing = await journal.readHeader();
  if (!existing) throw new UsageError('REENCRYPT_NO_RUN', 'the journal holds no interrupted re-encryption');
  return continueRun(device, journal, existing.header, options, true, existing.wrapIntact);
}

/** State of a journal, for status displays: no secrets, no passphrase needed. */
export interface ReencryptJournalStatus {
  runId: string;
  uuid: string;
  luksVersion: 1 | 2;
  chunks: number;
  /** `data`: chunks in progress; `final`: all data re-encrypted, the header update may be pending. */
  phase: 'data' | 'final';
  /** Chunks known to be complete. */
  chunksDone: number;
}

/** Reads the state of a journal (undefined when it holds no run). */
export async function reencryptJournalStatus(
  device: BlockDevice,
): Promise<ReencryptJournalStatus | undefined> {
  const journal = new ReencryptJournal(device);
  const j = await journal.readHeader();
  if (!j) return undefined;
  const h = j.header;
  const latest = await journal.latest(h);
  const chunks = chunkCount(h);
  return {
    runId: h.runId,
    uuid: h.uuid,
    luksVersion: h.luksVersion,
    chunks,
    phase: latest?.type === 'final' ? 'final' : 'data',
    chunksDone: latest ? (latest.type === 'final' ? chunks : latest.chunk) : 0,
  };
}

function chunkCount(h: Pick<ReencryptJournalHeader, 'dataSize' | 'chunkSize'>): number {
  return Math.ceil(h.dataSize / h.chunkSize);
}

function uuidOf(v: LuksVolume): string {
  return v.version === 1 ? v.header.uuid : v.active.binary.uuid;
}

/** End of the LUKS metadata (headers and keyslots): data must not start before it. */
function metadataEnd(v: LuksVolume): number {
  if (v.version === 2) return 2 * v.active.binary.hdrSize + v.active.metadata.config.keyslotsSize;
  let end = LUKS1_HEADER_SIZE;
  for (const k of v.header.keyslots)
    end = Math.max(end, (k.keyMaterialOffset + luks1KeyslotSectors(v.header.keyBytes, k.stripes)) * 512);
  return end;
}

/** The data key's size as the header records it (LUKS2: a keyslot of the data segment's digest). */
function dataKeySize(volume: LuksVolume): number | undefined {
  if (volume.version === 1) return volume.header.keyBytes;
  const meta = volume.active.metadata;
  const { digest } = luks2BoundDigest(meta);
  return meta.keyslots.find((k) => digest.keyslots.includes(k.id) && k.type === 'luks2')?.keySize;
}

async function startRun(
  device: BlockDevice,
  journal: ReencryptJournal,
  o: ReencryptOptions,
): Promise<ReencryptResult> {
  const limits = luksLimits(o.limits);
  const { volume, marked } = await readLuksForReencrypt(device);
  if (marked)
    throw new UsageError(
      'REENCRYPT_INTERRUPTED',
      'the volume is in the middle of a re-encryption: resume it with the journal of that run',
    );
  assertRequirementsMet(volume, 're-encrypt');
  if (volume.version === 2) luks2BoundDigest(volume.active.metadata);
  const layout = dataSegmentLayout(volume, device.size);
  if (layout.offset < metadataEnd(volume))
    throw new UnsupportedError(
      'REENCRYPT_DETACHED',
      'the data segment overlaps the header area (detached header?): not re-encrypted in place',
    );
  const chunkSize = o.chunkSize ?? REENCRYPT_DEFAULT_CHUNK;
  if (
    !Number.isSafeInteger(chunkSize) ||
    chunkSize < layout.sectorSize ||
    chunkSize > MAX_CHUNK ||
    chunkSize % layout.sectorSize !== 0
  )
    throw new UsageError(
      'REENCRYPT_CHUNK_SIZE',
      `chunk size ${chunkSize} must be whole ${layout.sectorSize}-byte sectors, at most 64 MiB`,
    );
  const newCipher = o.cipher ?? layout.encryption;
  const spec = parseCipherSpec(newCipher);
  parseCipherSpec(layout.encryption);
  if (volume.version === 1 && newCipher.indexOf('-') <= 0)
    throw new UsageError('LUKS_CIPHER', `cipher ${JSON.stringify(newCipher)} is not cipher-mode`);
  // Everything about the new key is checked before the old key's (memory-hard) unlock runs:
  // its size, room for its keyslot in the final header, and the KDF and its cost.
  const planKey = async (oldKeySize: number): Promise<{ keySize: number; kdf: KdfParams }> => {
    const bits =
      o.keySizeBits ?? (newCipher === layout.encryption ? oldKeySize * 8 : spec.mode === 'xts' ? 512 : 256);
    if (bits % 8 !== 0 || !validKeySizes(spec).includes(bits / 8))
      throw new UsageError('LUKS_KEY_SIZE', `${bits}-bit keys are not valid for ${newCipher}`);
    const keySize = bits / 8;
    // Check that the final header will fit before touching anything.
    if (volume.version === 1) luks1SlotOffsets(volume.header, keySize);
    else {
      const meta = volume.active.metadata;
      const { digest } = luks2BoundDigest(meta);
      const rest = { ...meta, keyslots: meta.keyslots.filter((k) => !digest.keyslots.includes(k.id)) };
      allocateLuks2Area(rest, volume.active.binary.hdrSize, luks2AreaSize(keySize));
    }
    let kdfOpt = o.kdf ?? {};
    if (volume.version === 1) {
      if (kdfOpt.type !== undefined && kdfOpt.type !== 'pbkdf2')
        throw new UsageError('LUKS1_KDF', 'LUKS1 keyslots use PBKDF2 only');
      kdfOpt = { ...kdfOpt, type: 'pbkdf2', hash: volume.header.hashSpec };
    }
    const kdf = await resolveKdf(kdfOpt, keySize, volume.version === 1 ? 'pbkdf2' : 'argon2id');
    checkKdfCost(kdf, limits, 'journal key wrap');
    return { keySize, kdf };
  };
  const recordedSize = dataKeySize(volume);
  let planned = recordedSize !== undefined ? await planKey(recordedSize) : undefined;
  const unlocked = await unlockLuks(device, volume, o.key, { boundOnly: true, limits });
  const oldVk = unlocked.volumeKey;
  let newVk: Uint8Array | undefined;
  try {
    if (unlocked.unbound)
      throw new UsageError('LUKS2_UNBOUND_KEY', `keyslot ${unlocked.keyslot} holds an unbound key`);
    if (!planned || oldVk.length !== recordedSize) planned = await planKey(oldVk.length);
    const { keySize, kdf } = planned;
    const target = o.newPassphrase ?? o.key;
    newVk = new Uint8Array(randomBytes(keySize));
    // The new key, wrapped exactly like a LUKS keyslot (AF split, area cipher = the data cipher).
    const dk = await deriveKey(kdf, target, keySize, limits, 'journal key wrap');
    const material = afSplit(newVk, LUKS_STRIPES, AF_HASH);
    const enc = encryptKeyslotMaterial(material, newCipher, dk);
    zeroize(dk, material);
    const wrapped = new Uint8Array(journalWrapAreaSize(keySize));
    wrapped.set(enc);
    const digestIterations = o.digestIterations ?? calibratePbkdf2(DIGEST_HASH, keySize, 125);
    const digestSalt = new Uint8Array(randomBytes(32));
    const header: ReencryptJournalHeader = {
      runId: toHex(new Uint8Array(randomBytes(16))),
      luksVersion: volume.version,
      uuid: uuidOf(volume),
      dataOffset: layout.offset,
      dataSize: layout.size,
      sectorSize: layout.sectorSize,
      ivTweak: layout.ivTweak,
      chunkSize,
      oldCipher: layout.encryption,
      newCipher,
      newKeySize: keySize,
      kdf,
      wrapCipher: newCipher,
      wrapAreaSize: wrapped.length,
      wrapSha256: new Uint8Array(0),
      digest: {
        hash: DIGEST_HASH,
        iterations: digestIterations,
        salt: digestSalt,
        value: await pbkdf2(newVk, digestSalt, digestIterations, DIGEST_HASH, 32),
      },
    };
    header.wrapSha256 = new Uint8Array(createHash('sha256').update(wrapped).digest());
    await journal.create(header, wrapped);
    await markLuks(device, volume);
    return await continueRun(device, journal, header, o, false, true, { oldVk, newVk });
  } finally {
    zeroize(oldVk, newVk);
  }
}

/** Recovers the new volume key from the journal with the final passphrase. */
async function unwrapNewKey(
  journal: ReencryptJournal,
  h: ReencryptJournalHeader,
  passphrase: Uint8Array,
  limits: LuksLimits,
): Promise<Uint8Array> {
  // The digest's cost comes from the journal too: capped like a keyslot's PBKDF2 before any work.
  if (h.digest.iterations > limits.maxPbkdf2Iterations)
    throw new LimitError(
      'LUKS_KDF_COST',
      `journal digest: ${h.digest.iterations} PBKDF2 iterations exceed the limit of ${limits.maxPbkdf2Iterations}`,
    );
  const dk = await deriveKey(h.kdf, passphrase, h.newKeySize, limits, 'journal key wrap');
  const material = await readKeyslotArea(
    journal.device,
    4096,
    keyMaterialSize(h.newKeySize, LUKS_STRIPES),
    h.wrapCipher,
    dk,
    limits.maxKeyslotAreaBytes,
  );
  zeroize(dk);
  const key = afMerge(material, h.newKeySize, LUKS_STRIPES, AF_HASH);
  zeroize(material);
  const check = await pbkdf2(key, h.digest.salt, h.digest.iterations, h.digest.hash, h.digest.value.length);
  if (!constantTimeEqual(check, h.digest.value)) {
    zeroize(key);
    throw new AuthError(
      'LUKS_WRONG_KEY',
      'the new passphrase does not open the journal (resume with the same key and new key as the run)',
    );
  }
  return key;
}

async function continueRun(
  device: BlockDevice,
  journal: ReencryptJournal,
  h: ReencryptJournalHeader,
  o: ReencryptOptions,
  resumed: boolean,
  wrapIntact: boolean,
  keys?: { oldVk: Uint8Array; newVk: Uint8Array },
): Promise<ReencryptResult> {
  const limits = luksLimits(o.limits);
  const target = o.newPassphrase ?? o.key;
  let { volume, marked } = await readLuksForReencrypt(device);
  if (volume.version !== h.luksVersion || uuidOf(volume) !== h.uuid)
    throw new UsageError(
      'REENCRYPT_WRONG_JOURNAL',
      `the journal belongs to LUKS${h.luksVersion} volume ${h.uuid}, not to this one (${uuidOf(volume)})`,
    );
  if (!wrapIntact) return finishJournalWipe(device, journal, h, volume, marked, target, limits);
  const newVk = keys ? new Uint8Array(keys.newVk) : await unwrapNewKey(journal, h, target, limits);
  const chunks = chunkCount(h);
  let written = 0;
  let oldVk: Uint8Array | undefined;
  try {
    const finished = !marked && (await volumeKeyMatches(volume, newVk));
    if (!finished) {
      const layout = dataSegmentLayout(withoutMark(volume), device.size);
      if (
        layout.offset !== h.dataOffset ||
        layout.size !== h.dataSize ||
        layout.sectorSize !== h.sectorSize ||
        layout.ivTweak !== h.ivTweak ||
        layout.encryption !== h.oldCipher
      )
        throw new FormatError(
          'REENCRYPT_STATE',
          'the data segment no longer matches the journal (offset, size, sector size, IV or cipher changed)',
        );
      let latest = await journal.latest(h);
      if (!marked) {
        // The run stopped between writing the journal and marking the header: nothing was
        // overwritten yet. Anything else with an unmarked header is not ours to touch.
        if (latest)
          throw new FormatError(
            'REENCRYPT_STATE',
            'the journal records progress but the volume is neither marked nor re-encrypted',
          );
        await markLuks(device, volume);
        ({ volume, marked } = await readLuksForReencrypt(device));
        latest = undefined;
      }
      if (latest?.type !== 'final') {
        oldVk = keys ? new Uint8Array(keys.oldVk) : await unlockOld(device, volume, o.key, limits);
        written = await runChunks(device, journal, h, latest, oldVk, newVk, o);
      }
      await finalizeHeader(device, volume, h, newVk, target, limits);
    }
    let after = await readLuks(device);
    if (after.version === 2 && !copiesAgree(after)) {
      // Stopped between the two copies of the final header: make the stale copy current too.
      const { id, nextSeqid } = luks2Identity(after);
      await writeLuks2Headers(device, id, after.active.json, nextSeqid);
      after = await readLuks(device);
    }
    await wipeUnusedKeyMaterial(device, after);
    // Verify by reading back: the header as stored opens with the final passphrase to the new key.
    const check = await unlockLuks(device, after, target, { boundOnly: true, limits });
    const ok = constantTimeEqual(check.volumeKey, newVk);
    zeroize(check.volumeKey);
    if (!ok)
      throw new VerificationError('REENCRYPT_VERIFY', 'the final header does not open to the new volume key');
    await journal.wipe(h);
    return {
      version: h.luksVersion,
      resumed,
      keyslot: check.keyslot,
      cipher: h.newCipher,
      keySizeBits: h.newKeySize * 8,
      dataSize: h.dataSize,
      chunks,
      chunksWritten: written,
    };
  } finally {
    zeroize(newVk, oldVk);
  }
}

/**
 * The run had finished and was zeroing its journal: the wrapped key is (partly) gone, so the new
 * key is checked through the header, which must be final (unmarked, opened by the final
 * passphrase); then the journal wipe is completed.
 */
async function finishJournalWipe(
  device: BlockDevice,
  journal: ReencryptJournal,
  h: ReencryptJournalHeader,
  volume: LuksVolume,
  marked: boolean,
  target: Uint8Array,
  limits: LuksLimits,
): Promise<ReencryptResult> {
  if (marked)
    throw new FormatError(
      'REENCRYPT_JOURNAL_INVALID',
      're-encryption journal: the wrapped volume key is damaged and the run has not finished',
    );
  const check = await unlockLuks(device, volume, target, { boundOnly: true, limits });
  zeroize(check.volumeKey);
  await journal.wipe(h);
  return {
    version: h.luksVersion,
    resumed: true,
    keyslot: check.keyslot,
    cipher: h.newCipher,
    keySizeBits: h.newKeySize * 8,
    dataSize: h.dataSize,
    chunks: chunkCount(h),
    chunksWritten: 0,
  };
}

async function unlockOld(
  device: BlockDevice,
  volume: LuksVolume,
  key: Uint8Array,
  limits: LuksLimits,
): Promise<Uint8Array> {
  const v = withoutMark(volume);
  assertRequirementsMet(v, 're-encrypt');
  const r = await unlockLuks(device, v, key, { boundOnly: true, limits });
  if (r.unbound) {
    zeroize(r.volumeKey);
    throw new UsageError('LUKS2_UNBOUND_KEY', `keyslot ${r.keyslot} holds an unbound key`);
  }
  return r.volumeKey;
}

/** Steps 2 and 3: every chunk from the newest record on, then the `final` record. */
async function runChunks(
  device: BlockDevice,
  journal: ReencryptJournal,
  h: ReencryptJournalHeader,
  latest: ReencryptRecord | undefined,
  oldVk: Uint8Array,
  newVk: Uint8Array,
  o: ReencryptOptions,
): Promise<number> {
  const oldC = new SectorCipher(h.oldCipher, oldVk);
  const newC = new SectorCipher(h.newCipher, newVk);
  const chunks = chunkCount(h);
  const lengthOf = (i: number): number => Math.min(h.chunkSize, h.dataSize - i * h.chunkSize);
  let written = 0;
  try {
    let seq = 0;
    let next = 0;
    if (latest) {
      if (latest.chunk >= chunks || latest.payload.length !== lengthOf(latest.chunk))
        throw new FormatError(
          'REENCRYPT_JOURNAL_INVALID',
          `journal record of chunk ${latest.chunk} does not fit`,
        );
      // Redo the chunk that may be half written, from its saved original ciphertext.
      await rewriteChunk(device, h, latest.chunk, latest.payload, oldC, newC);
      written++;
      seq = latest.seq + 1;
      next = latest.chunk + 1;
      o.onProgress?.(Math.min(h.dataSize, next * h.chunkSize), h.dataSize);
    }
    // Each chunk: its record (flushed), then its new ciphertext (flushed), then the read-back —
    // the same writes in the same order as ever. What overlaps is only reading and computing:
    // the next chunk's original is read, hashed into its record and re-encrypted in memory while
    // the current chunk's data flush is in flight (the fsync runs on libuv's thread pool).
    const prepare = async (i: number, s: number): Promise<PreparedChunk> => {
      const original = await device.read(h.dataOffset + i * h.chunkSize, lengthOf(i));
      return {
        record: serializeRecord(h.runId, { seq: s, type: 'chunk', chunk: i, payload: original }),
        ciphertext: reencryptChunk(h, i, original, oldC, newC),
      };
    };
    let pending: Promise<PreparedChunk> | undefined;
    try {
      if (next < chunks) pending = prepare(next, seq);
      for (let i = next; i < chunks; i++) {
        throwIfAborted(o.signal);
        const c = await pending!;
        pending = undefined;
        await journal.appendSerialized(h, seq++, c.record);
        const at = h.dataOffset + i * h.chunkSize;
        await device.write(at, c.ciphertext);
        const flushed = device.flush();
        // Handled here: a failure of the read ahead is reported when it is awaited (or dropped
        // with the flush's failure).
        if (i + 1 < chunks) {
          pending = prepare(i + 1, seq);
          pending.catch(() => undefined);
        }
        await flushed;
        await verifyChunk(device, at, c.ciphertext, i);
        written++;
        o.onProgress?.(Math.min(h.dataSize, (i + 1) * h.chunkSize), h.dataSize);
      }
    } finally {
      // Let an abandoned read ahead settle before the caller closes the device.
      await pending?.catch(() => undefined);
    }
    await journal.append(h, { seq, type: 'final', chunk: chunks, payload: new Uint8Array(0) });
    return written;
  } finally {
    oldC.destroy();
    newC.destroy();
  }
}

/** A chunk ready to be written: its serialized journal record and its new ciphertext. */
interface PreparedChunk {
  record: Uint8Array;
  ciphertext: Uint8Array;
}

/** Chunk i's original ciphertext under the new key (a copy; `original` is kept for the journal). */
function reencryptChunk(
  h: ReencryptJournalHeader,
  i: number,
  original: Uint8Array,
  oldC: SectorCipher,
  newC: SectorCipher,
): Uint8Array {
  // dm-crypt IVs count 512-byte units from iv_tweak, whatever the sector size.
  const iv = h.ivTweak + BigInt((i * h.chunkSize) / 512);
  const buf = new Uint8Array(original);
  oldC.decrypt(buf, iv, h.sectorSize);
  newC.encrypt(buf, iv, h.sectorSize);
  return buf;
}

/** Reads chunk i back and compares it with what was written. */
async function verifyChunk(device: BlockDevice, at: number, written: Uint8Array, i: number): Promise<void> {
  const back = await device.read(at, written.length);
  // Ciphertext, not a secret; timingSafeEqual is simply the native comparison (a JavaScript byte
  // loop cost 10% of a run).
  if (!timingSafeEqual(back, written))
    throw new VerificationError('REENCRYPT_READBACK', `chunk ${i} did not read back as written`, {
      offset: at,
    });
}

/** Chunk i from its original ciphertext to the new key, written, flushed and read back. */
async function rewriteChunk(
  device: BlockDevice,
  h: ReencryptJournalHeader,
  i: number,
  original: Uint8Array,
  oldC: SectorCipher,
  newC: SectorCipher,
): Promise<void> {
  const buf = reencryptChunk(h, i, original, oldC, newC);
  const at = h.dataOffset + i * h.chunkSize;
  await device.write(at, buf);
  await device.flush();
  await verifyChunk(device, at, buf, i);
}
