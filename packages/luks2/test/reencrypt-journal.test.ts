import { createHash } from 'node:crypto';
import { MemoryDevice, isLsvmError } from '@lsvm/core';
import fc from 'fast-check';
import {
  type ReencryptJournalHeader,
  ReencryptJournal,
  parseJournalHeader,
  parseRecord,
  reencryptJournalSize,
  serializeJournalHeader,
  serializeRecord,
} from '../src/index.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const headerArb: fc.Arbitrary<ReencryptJournalHeader> = fc.record({
  runId: fc.stringMatching(/^[0-9a-f]{32}$/),
  luksVersion: fc.constantFrom(1 as const, 2 as const),
  uuid: fc.uuid(),
  dataOffset: fc.nat({ max: 2 ** 40 }).map((n) => n * 512),
  dataSize: fc.nat({ max: 2 ** 30 }).map((n) => n * 4096),
  sectorSize: fc.constantFrom(512, 1024, 2048, 4096),
  ivTweak: fc.bigInt({ min: 0n, max: 2n ** 63n }),
  chunkSize: fc.integer({ min: 1, max: 16 }).map((n) => n * 4096),
  oldCipher: fc.constantFrom('aes-xts-plain64', 'aes-cbc-essiv:sha256'),
  newCipher: fc.constantFrom('aes-xts-plain64', 'aes-cbc-plain64'),
  newKeySize: fc.constantFrom(16, 32, 64),
  kdf: fc.oneof(
    fc.record({
      type: fc.constant('pbkdf2' as const),
      hash: fc.constantFrom('sha1', 'sha256', 'sha512'),
      iterations: fc.integer({ min: 1, max: 0xffffffff }),
      salt: bytes(32),
    }),
    fc.record({
      type: fc.constantFrom('argon2i' as const, 'argon2id' as const),
      time: fc.integer({ min: 1, max: 1000 }),
      memory: fc.integer({ min: 8, max: 4 * 1024 * 1024 }),
      cpus: fc.integer({ min: 1, max: 16 }),
      salt: bytes(32),
    }),
  ),
  wrapCipher: fc.constant('aes-xts-plain64'),
  wrapAreaSize: fc.constant(258048),
  wrapSha256: bytes(32),
  digest: fc.record({
    hash: fc.constant('sha256'),
    iterations: fc.integer({ min: 1, max: 0xffffffff }),
    salt: bytes(32),
    value: bytes(32),
  }),
});

describe('re-encryption journal format', () => {
  test('header: serialize → parse is the identity (property)', () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        expect(parseJournalHeader(serializeJournalHeader(h))).toEqual(h);
      }),
      { numRuns: 200 },
    );
  });

  test('record: serialize → parse is the identity; other run ids and torn payloads are no record', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1e6 }),
        fc.constantFrom('chunk' as const, 'final' as const),
        fc.nat({ max: 1e6 }),
        fc.uint8Array({ maxLength: 8192 }),
        (seq, type, chunk, payload) => {
          const rec = serializeRecord('a'.repeat(32), { seq, type, chunk, payload });
          expect(parseRecord(rec, 'a'.repeat(32), 8192)).toEqual({ seq, type, chunk, payload });
          expect(parseRecord(rec, 'b'.repeat(32), 8192)).toBeUndefined();
          if (payload.length > 0) {
            const torn = new Uint8Array(rec);
            torn[torn.length - 1]! ^= 1;
            expect(parseRecord(torn, 'a'.repeat(32), 8192)).toBeUndefined();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('any flipped bit of a header block makes it "no run", never a different run', () => {
    const h = serializeJournalHeader(fc.sample(headerArb, { numRuns: 1, seed: 7 })[0]!);
    for (let i = 0; i < h.length; i += 37) {
      const b = new Uint8Array(h);
      b[i]! ^= 0x10;
      expect(parseJournalHeader(b)).toBeUndefined();
    }
  });

  test('checksummed but impossible fields are FormatErrors naming the field', () => {
    const seal = (json: unknown): Uint8Array => {
      const b = new Uint8Array(4096);
      b.set(new TextEncoder().encode('LSVMRJH1'));
      const t = new TextEncoder().encode(JSON.stringify(json));
      new DataView(b.buffer).setUint32(8, t.length, true);
      b.set(t, 12);
      b.set(createHash('sha256').update(b.subarray(0, 4064)).digest(), 4064);
      return b;
    };
    const good = JSON.parse(
      new TextDecoder()
        .decode(serializeJournalHeader(fc.sample(headerArb, { numRuns: 1, seed: 3 })[0]!).subarray(12))
        .replace(/\0+[\s\S]*$/, ''),
    ) as Record<string, unknown>;
    expect(parseJournalHeader(seal(good))).toBeDefined();
    for (const [field, value, msg] of [
      ['version', 2, /version/],
      ['runId', 'xyz', /runId/],
      ['sectorSize', 3000, /sectorSize/],
      ['chunkSize', 1000, /chunkSize/],
      ['dataSize', 1.5, /dataSize/],
      ['ivTweak', '-1', /ivTweak/],
      ['newKeySize', 65, /newKeySize/],
      ['wrapAreaSize', 100, /wrapAreaSize/],
      ['kdf', { type: 'scrypt' }, /kdf/],
      ['digest', null, /digest/],
      ['uuid', '\u00e9', /uuid/],
    ] as const) {
      expect(() => parseJournalHeader(seal({ ...good, [field]: value }))).toThrow(msg);
    }
    expect(() => parseJournalHeader(seal([1, 2]))).toThrow(/not an object/);
  });

  test('a journal device: too small, torn wrapped key, random bytes', async () => {
    expect(await new ReencryptJournal(new MemoryDevice(100)).readHeader()).toBeUndefined();
    const h = fc.sample(headerArb, { numRuns: 1, seed: 11 })[0]!;
    const wrapped = new Uint8Array(h.wrapAreaSize).fill(7);
    h.wrapSha256 = new Uint8Array(createHash('sha256').update(wrapped).digest());
    const dev = new MemoryDevice(reencryptJournalSize(h.chunkSize));
    const j = new ReencryptJournal(dev);
    await j.create(h, wrapped);
    expect(await j.readHeader()).toMatchObject({ wrapIntact: true });
    dev.bytes[5000]! ^= 1;
    expect(await j.readHeader()).toMatchObject({ wrapIntact: false });
    const small = new MemoryDevice(dev.bytes.slice(0, 8192));
    await expect(new ReencryptJournal(small).readHeader()).rejects.toMatchObject({
      code: 'REENCRYPT_JOURNAL_INVALID',
    });
    await expect(
      j.create(h, wrapped).then(() => new ReencryptJournal(new MemoryDevice(4096)).create(h, wrapped)),
    ).rejects.toMatchObject({
      code: 'REENCRYPT_JOURNAL_SIZE',
    });
    fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 4096, maxLength: 9000 }), async (b) => {
        try {
          const r = await new ReencryptJournal(new MemoryDevice(b)).readHeader();
          expect(r).toBeUndefined();
        } catch (e) {
          expect(isLsvmError(e)).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});
