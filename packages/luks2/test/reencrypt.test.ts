import { IoError, MemoryDevice, isLsvmError } from '@lsvm/core';
import {
  type LuksVolume,
  type ReencryptOptions,
  REENCRYPT_REQUIREMENT,
  addToken,
  formatLuks,
  openLuks,
  parseJournalHeader,
  readLuks,
  readLuksForReencrypt,
  reencryptJournalSize,
  reencryptJournalStatus,
  reencryptLuks,
  resumeReencrypt,
  serializeJournalHeader,
  unlockLuks,
} from '../src/index.js';
import { FAST_PBKDF2, enc } from './helpers.js';

const MiB = 1024 * 1024;
const KiB = 1024;
const OLD = enc('old passphrase');
const NEW = enc('new passphrase');
const CHUNK = 64 * KiB;

jest.setTimeout(120_000);

/** Recognisable plaintext: a marker string repeated with the sector number, so a scan finds any leak. */
function plaintext(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const te = new TextEncoder();
  for (let o = 0; o < size; o += 32)
    out.set(
      te.encode(`PLAINTEXT-MARKER-${String(o).padStart(14, '0')}`).subarray(0, Math.min(32, size - o)),
      o,
    );
  return out;
}

interface Volume {
  bytes: Uint8Array;
  plain: Uint8Array;
  oldKey: Uint8Array;
}

/** A small formatted volume holding {@link plaintext}: LUKS2 with a 1 MiB data offset, LUKS1 at 2 MiB. */
async function volume(
  type: 'luks1' | 'luks2',
  opts: { size?: number; sectorSize?: number; keySizeBits?: number; cipher?: string } = {},
): Promise<Volume> {
  const d = new MemoryDevice(opts.size ?? (type === 'luks2' ? 2 * MiB : 3 * MiB));
  const r = await formatLuks(d, OLD, {
    type,
    kdf: FAST_PBKDF2,
    digestIterations: 1000,
    ...(type === 'luks2' ? { dataOffset: MiB } : {}),
    ...(opts.sectorSize ? { sectorSize: opts.sectorSize } : {}),
    ...(opts.keySizeBits ? { keySizeBits: opts.keySizeBits } : {}),
    ...(opts.cipher ? { cipher: opts.cipher } : {}),
  });
  const plain = plaintext(r.dataSize);
  const dev = await openLuks(d, OLD);
  await dev.write(0, plain);
  await dev.close();
  return { bytes: d.bytes, plain, oldKey: r.volumeKey };
}

function journalFor(chunk = CHUNK): MemoryDevice {
  return new MemoryDevice(reencryptJournalSize(chunk));
}

const opts = (journal: MemoryDevice, extra: Partial<ReencryptOptions> = {}): ReencryptOptions => ({
  key: OLD,
  newPassphrase: NEW,
  kdf: FAST_PBKDF2,
  digestIterations: 1000,
  chunkSize: CHUNK,
  journal,
  ...extra,
});

async function readPlain(bytes: Uint8Array, pass: Uint8Array): Promise<Uint8Array> {
  const d = await openLuks(new MemoryDevice(new Uint8Array(bytes), { readOnly: true }), pass);
  const out = await d.read(0, d.size);
  await d.close();
  return out;
}

async function opens(bytes: Uint8Array, pass: Uint8Array): Promise<boolean> {
  const d = new MemoryDevice(new Uint8Array(bytes), { readOnly: true });
  try {
    const r = await unlockLuks(d, await readLuks(d), pass);
    r.volumeKey.fill(0);
    return true;
  } catch (e) {
    if (isLsvmError(e)) return false;
    throw e;
  }
}

async function volumeKey(bytes: Uint8Array, pass: Uint8Array): Promise<Uint8Array> {
  const d = new MemoryDevice(new Uint8Array(bytes), { readOnly: true });
  return (await unlockLuks(d, await readLuks(d), pass)).volumeKey;
}

/** Asserts the final state: data intact under the new key, header holds only it, journal zeroed. */
async function expectDone(
  v: Volume,
  finalPass: Uint8Array,
  journal: Uint8Array,
  oldPassDead = true,
): Promise<void> {
  const vol: LuksVolume = await readLuks(new MemoryDevice(v.bytes, { readOnly: true }));
  if (vol.version === 2) {
    expect(vol.primary.valid && vol.secondary.valid).toBe(true);
    expect(vol.primary.seqid).toBe(vol.secondary.seqid);
    expect(vol.active.metadata.keyslots).toHaveLength(1);
    expect(vol.active.metadata.config.requirements).not.toContain(REENCRYPT_REQUIREMENT);
  } else {
    expect(vol.header.keyslots.filter((k) => k.active)).toHaveLength(1);
  }
  const vk = await volumeKey(v.bytes, finalPass);
  expect(Buffer.from(vk).equals(Buffer.from(v.oldKey))).toBe(false);
  expect(Buffer.from(await readPlain(v.bytes, finalPass)).equals(Buffer.from(v.plain))).toBe(true);
  if (oldPassDead) expect(await opens(v.bytes, OLD)).toBe(false);
  // The old key must be gone: no keyslot opens it, no digest matches it.
  const dev = new MemoryDevice(v.bytes, { readOnly: true });
  await expect(openLuks(dev, { volumeKey: v.oldKey })).rejects.toMatchObject({ code: 'LUKS_WRONG_KEY' });
  expect(journal.every((b) => b === 0)).toBe(true);
}

/** No plaintext, no new volume key (nor either XTS half) in the journal bytes. */
function expectNoSecrets(journal: Uint8Array, newKey: Uint8Array): void {
  const j = Buffer.from(journal);
  expect(j.includes(Buffer.from('PLAINTEXT-MARKER'))).toBe(false);
  const half = newKey.length / 2;
  for (const part of [newKey, newKey.subarray(0, half), newKey.subarray(half)])
    expect(j.includes(Buffer.from(part))).toBe(false);
}

describe('reencryptLuks: full runs', () => {
  test.each(['luks1', 'luks2'] as const)(
    '%s: new passphrase, data reads back, old key and passphrase gone',
    async (type) => {
      const v = await volume(type);
      const journal = journalFor();
      const progress: number[] = [];
      const r = await reencryptLuks(
        new MemoryDevice(v.bytes),
        opts(journal, { onProgress: (d) => progress.push(d) }),
      );
      expect(r).toMatchObject({
        version: type === 'luks1' ? 1 : 2,
        resumed: false,
        cipher: 'aes-xts-plain64',
        keySizeBits: 512,
        chunks: Math.ceil(v.plain.length / CHUNK),
        chunksWritten: Math.ceil(v.plain.length / CHUNK),
      });
      expect(progress.at(-1)).toBe(v.plain.length);
      await expectDone(v, NEW, journal.bytes);
    },
  );

  test('LUKS1 boot volume: keeps a 256-bit aes-xts-plain64 key and the same passphrase', async () => {
    const v = await volume('luks1', { keySizeBits: 256 });
    const journal = journalFor();
    const r = await reencryptLuks(new MemoryDevice(v.bytes), opts(journal, { newPassphrase: undefined }));
    expect(r.keySizeBits).toBe(256);
    await expectDone(v, OLD, journal.bytes, false);
    const vol = await readLuks(new MemoryDevice(v.bytes));
    expect(vol.version === 1 && vol.header.keyBytes).toBe(32);
  });

  test('LUKS2 4096-byte sectors and a cipher change (xts-512 → cbc-essiv-256)', async () => {
    const v = await volume('luks2', { sectorSize: 4096 });
    const journal = journalFor();
    const r = await reencryptLuks(
      new MemoryDevice(v.bytes),
      opts(journal, { cipher: 'aes-cbc-essiv:sha256', keySizeBits: 256 }),
    );
    expect(r).toMatchObject({ cipher: 'aes-cbc-essiv:sha256', keySizeBits: 256 });
    await expectDone(v, NEW, journal.bytes);
    const vol = await readLuks(new MemoryDevice(v.bytes));
    expect(vol.version === 2 && vol.active.metadata.segments[0]).toMatchObject({
      encryption: 'aes-cbc-essiv:sha256',
      sectorSize: 4096,
      offset: MiB,
    });
  });

  test('LUKS1 key size change 256 → 512 bits relays the keyslots out before the same payload', async () => {
    const v = await volume('luks1', { keySizeBits: 256 });
    const journal = journalFor();
    await reencryptLuks(new MemoryDevice(v.bytes), opts(journal, { keySizeBits: 512 }));
    await expectDone(v, NEW, journal.bytes);
    const vol = await readLuks(new MemoryDevice(v.bytes));
    expect(vol.version === 1 && [vol.header.keyBytes, vol.header.payloadOffset]).toEqual([64, 4096]);
  });

  test('LUKS2 tokens lose references to the removed keyslot; the data size is a non-multiple of the chunk', async () => {
    const v = await volume('luks2', { size: 2 * MiB + 3 * 512 });
    await addToken(new MemoryDevice(v.bytes), { type: 'x-test', keyslots: ['0'], note: 'kept' });
    const journal = journalFor();
    await reencryptLuks(new MemoryDevice(v.bytes), opts(journal));
    await expectDone(v, NEW, journal.bytes);
    const vol = await readLuks(new MemoryDevice(v.bytes));
    expect(vol.version === 2 && vol.active.metadata.tokens[0]).toMatchObject({
      type: 'x-test',
      keyslots: [],
    });
  });
});

describe('reencryptLuks: refusals', () => {
  test('wrong key: AuthError, nothing written to device or journal', async () => {
    const v = await volume('luks2');
    const before = new Uint8Array(v.bytes);
    const journal = journalFor();
    await expect(
      reencryptLuks(new MemoryDevice(v.bytes), opts(journal, { key: enc('nope') })),
    ).rejects.toMatchObject({
      code: 'LUKS_WRONG_KEY',
    });
    expect(Buffer.from(v.bytes).equals(Buffer.from(before))).toBe(true);
    expect(journal.bytes.every((b) => b === 0)).toBe(true);
  });

  test('bad chunk size, bad key size, journal too small', async () => {
    const v = await volume('luks2');
    const dev = new MemoryDevice(v.bytes);
    await expect(reencryptLuks(dev, opts(journalFor(), { chunkSize: 1000 }))).rejects.toMatchObject({
      code: 'REENCRYPT_CHUNK_SIZE',
    });
    await expect(reencryptLuks(dev, opts(journalFor(), { keySizeBits: 384 + 8 }))).rejects.toMatchObject({
      code: 'LUKS_KEY_SIZE',
    });
    await expect(reencryptLuks(dev, opts(new MemoryDevice(8192)))).rejects.toMatchObject({
      code: 'REENCRYPT_JOURNAL_SIZE',
    });
    await expect(opens(v.bytes, OLD)).resolves.toBe(true);
  });

  test('the new key and KDF are checked before the old key is unlocked (a wrong passphrase is never reached)', async () => {
    for (const type of ['luks1', 'luks2'] as const) {
      const v = await volume(type);
      const dev = new MemoryDevice(v.bytes);
      const wrong = { key: enc('not the passphrase') };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ keySizeBits: 392 }, 'LUKS_KEY_SIZE'],
        [
          { kdf: { type: 'pbkdf2', iterations: 5000 }, limits: { maxPbkdf2Iterations: 2000 } },
          'LUKS_KDF_COST',
        ],
        [
          { kdf: { type: 'argon2id', iterations: 4, memoryKiB: 1, parallel: 1 } },
          type === 'luks1' ? 'LUKS1_KDF' : 'LUKS_KDF_OPTIONS',
        ],
      ];
      for (const [extra, code] of cases)
        await expect(reencryptLuks(dev, opts(journalFor(), { ...wrong, ...extra }))).rejects.toMatchObject({
          code,
        });
      await expect(opens(v.bytes, OLD)).resolves.toBe(true);
    }
  });

  test('mid-run: nothing opens the volume; a run without its journal or with another volume’s journal is refused', async () => {
    for (const type of ['luks1', 'luks2'] as const) {
      const v = await volume(type);
      const journal = journalFor();
      const ac = new AbortController();
      let n = 0;
      await expect(
        reencryptLuks(
          new MemoryDevice(v.bytes),
          opts(journal, { signal: ac.signal, onProgress: () => ++n === 3 && ac.abort() }),
        ),
      ).rejects.toMatchObject({ code: 'ABORTED' });
      const marked = await readLuksForReencrypt(new MemoryDevice(v.bytes));
      expect(marked.marked).toBe(true);
      await expect(openLuks(new MemoryDevice(v.bytes), OLD)).rejects.toMatchObject({
        code: type === 'luks1' ? 'LUKS_REENCRYPT_IN_PROGRESS' : 'LUKS2_UNMET_REQUIREMENT',
      });
      await expect(reencryptLuks(new MemoryDevice(v.bytes), opts(journalFor()))).rejects.toMatchObject({
        code: 'REENCRYPT_INTERRUPTED',
      });
      await expect(resumeReencrypt(new MemoryDevice(v.bytes), opts(journalFor()))).rejects.toMatchObject({
        code: 'REENCRYPT_NO_RUN',
      });
      const other = await volume(type);
      await expect(reencryptLuks(new MemoryDevice(other.bytes), opts(journal))).rejects.toMatchObject({
        code: 'REENCRYPT_WRONG_JOURNAL',
      });
      const status = await reencryptJournalStatus(journal);
      expect(status).toMatchObject({ phase: 'data', chunksDone: 2, chunks: 16 });
      await expect(
        resumeReencrypt(new MemoryDevice(v.bytes), opts(journal, { newPassphrase: enc('x') })),
      ).rejects.toMatchObject({
        code: 'LUKS_WRONG_KEY',
      });
      const midRun = new Uint8Array(journal.bytes);
      const r = await resumeReencrypt(new MemoryDevice(v.bytes), opts(journal));
      // Chunk 2 was journaled when the abort came after its progress report? No: the abort fires
      // before chunk 3 starts, so chunks 0–2 are done and chunk 2 is redone from its record.
      expect(r).toMatchObject({ resumed: true, chunksWritten: 16 - 2 });
      await expectDone(v, NEW, journal.bytes);
      expectNoSecrets(midRun, await volumeKey(v.bytes, NEW));
    }
  });
});

describe('reencryptLuks: hostile or mismatched journals', () => {
  test('a journal whose recorded segment differs from the header is refused before any write', async () => {
    const v = await volume('luks2');
    const journal = journalFor();
    const ac = new AbortController();
    await expect(
      reencryptLuks(
        new MemoryDevice(v.bytes),
        opts(journal, { signal: ac.signal, onProgress: () => ac.abort() }),
      ),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    {
      // A hostile cost in the journal is capped before any work, like a keyslot's.
      const j = new MemoryDevice(new Uint8Array(journal.bytes));
      const h = parseJournalHeader(j.bytes.subarray(0, 4096));
      if (!h) throw new Error('no journal header');
      j.bytes.set(serializeJournalHeader({ ...h, digest: { ...h.digest, iterations: 0xffffffff } }), 0);
      await expect(resumeReencrypt(new MemoryDevice(v.bytes), opts(j))).rejects.toMatchObject({
        code: 'LUKS_KDF_COST',
      });
    }
    for (const change of [{ oldCipher: 'aes-cbc-plain64' }, { dataSize: 512 * KiB }, { ivTweak: 8n }]) {
      const j = new MemoryDevice(new Uint8Array(journal.bytes));
      const h = parseJournalHeader(j.bytes.subarray(0, 4096));
      if (!h) throw new Error('no journal header');
      j.bytes.set(serializeJournalHeader({ ...h, ...change }), 0);
      const before = new Uint8Array(v.bytes);
      await expect(resumeReencrypt(new MemoryDevice(v.bytes), opts(j))).rejects.toMatchObject({
        code: 'REENCRYPT_STATE',
      });
      expect(Buffer.from(v.bytes).equals(Buffer.from(before))).toBe(true);
    }
    await resumeReencrypt(new MemoryDevice(v.bytes), opts(journal));
    await expectDone(v, NEW, journal.bytes);
  });
});

/** A memory device whose writes are counted across devices; write number `failAt` is the crash. */
class Crash {
  writes = 0;
  constructor(
    readonly failAt: number,
    readonly torn: boolean,
  ) {}
}

class CrashDevice extends MemoryDevice {
  constructor(
    bytes: Uint8Array,
    readonly crash: Crash,
  ) {
    super(bytes);
  }
  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    const i = this.crash.writes++;
    if (i === this.crash.failAt) {
      // A torn write lands whole 512-byte sectors only (what disks guarantee), here half of them.
      if (this.crash.torn)
        await super.writeAt(data.subarray(0, Math.floor(data.length / 1024) * 512), offset);
      throw new IoError('INJECTED', `injected crash at write ${i}`);
    }
    if (i > this.crash.failAt) throw new IoError('INJECTED', 'device is gone');
    await super.writeAt(data, offset);
  }
}

describe('crash at every write, then resume', () => {
  // 512 KiB of data in 64 KiB chunks, 256-bit keys (the boot volume's size): every write of the
  // run — journal, mark, each chunk, final record, header, wipes — is a crash point, clean or torn.
  test.each([
    ['luks1', false],
    ['luks2', false],
    ['luks2', true],
  ] as const)('%s (torn writes: %s)', async (type, torn) => {
    const size = (type === 'luks2' ? MiB : 2 * MiB) + 512 * KiB;
    const base = await volume(type, { size, keySizeBits: 256 });
    const chunks = (512 * KiB) / CHUNK;
    const count = new Crash(Number.MAX_SAFE_INTEGER, false);
    await reencryptLuks(
      new CrashDevice(new Uint8Array(base.bytes), count),
      opts(new CrashDevice(journalFor().bytes, count)),
    );
    const total = count.writes;
    expect(total).toBeGreaterThan(2 * chunks);
    const outcomes = { fresh: 0, resumed: 0, done: 0 };
    for (let n = 0; n < total; n++) {
      const bytes = new Uint8Array(base.bytes);
      const jBytes = journalFor().bytes;
      const crash = new Crash(n, torn);
      await expect(
        reencryptLuks(new CrashDevice(bytes, crash), opts(new CrashDevice(jBytes, crash))),
      ).rejects.toMatchObject({ code: 'INJECTED' });
      const crashed = new Uint8Array(jBytes);
      const journal = new MemoryDevice(jBytes);
      // What a user does: resume when the journal holds a run; otherwise the volume is either
      // untouched (start again) or already finished (the crash hit the last journal zeroing).
      if (await reencryptJournalStatus(journal)) {
        await resumeReencrypt(new MemoryDevice(bytes), opts(journal));
        outcomes.resumed++;
      } else if ((await readLuksForReencrypt(new MemoryDevice(bytes))).marked) {
        throw new Error(`crash at write ${n}: marked volume without a journal`);
      } else if (await opens(bytes, OLD)) {
        expect(Buffer.from(bytes).equals(Buffer.from(base.bytes))).toBe(true);
        await reencryptLuks(new MemoryDevice(bytes), opts(journal));
        outcomes.fresh++;
      } else {
        // The crash hit the zeroing of the journal header after the run had finished: what is
        // left of that block holds no run (and no secret, checked below).
        outcomes.done++;
      }
      // Final state, checked cheaply: both header copies, one keyslot, data under the new key.
      const vol = await readLuks(new MemoryDevice(bytes));
      if (vol.version === 2) {
        expect([vol.primary.valid, vol.secondary.valid]).toEqual([true, true]);
        expect(vol.active.metadata.keyslots).toHaveLength(1);
      } else expect(vol.header.keyslots.filter((k) => k.active)).toHaveLength(1);
      const r = await unlockLuks(new MemoryDevice(bytes), vol, NEW);
      const dev = await openLuks(new MemoryDevice(bytes), { volumeKey: r.volumeKey });
      const data = await dev.read(0, dev.size);
      await dev.close();
      if (!Buffer.from(data).equals(Buffer.from(base.plain)))
        throw new Error(`crash at write ${n} (torn ${torn}): data differs after resume`);
      await expect(openLuks(new MemoryDevice(bytes), { volumeKey: base.oldKey })).rejects.toMatchObject({
        code: 'LUKS_WRONG_KEY',
      });
      if (outcomes.done === 0) expect(jBytes.every((b) => b === 0)).toBe(true);
      expectNoSecrets(crashed, r.volumeKey);
      expectNoSecrets(jBytes, r.volumeKey);
      r.volumeKey.fill(0);
    }
    expect(outcomes.resumed).toBeGreaterThan(total - 10);
    expect(outcomes.done).toBeLessThanOrEqual(1);
  });
});
