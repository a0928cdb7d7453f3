import { MemoryDevice, toHex } from '@lsvm/core';
import {
  type LuksVolume,
  addKeyslot,
  addUnboundKeyslot,
  changePassphrase,
  defaultKeyslotEncryption,
  formatLuks,
  readLuks,
  unlockLuks,
} from '../src/index.js';
import { FAST_PBKDF2, enc } from './helpers.js';

const MiB = 1024 * 1024;
const OLD = enc('old passphrase');
const NEW = enc('new passphrase');
const WRONG = enc('not the passphrase');

jest.setTimeout(60_000);

type Luks2Volume = Extract<LuksVolume, { version: 2 }>;

async function luks2(cipher?: string, keySizeBits?: number): Promise<MemoryDevice> {
  const d = new MemoryDevice(2 * MiB);
  const r = await formatLuks(d, OLD, {
    kdf: FAST_PBKDF2,
    digestIterations: 1000,
    dataOffset: MiB,
    ...(cipher ? { cipher } : {}),
    ...(keySizeBits ? { keySizeBits } : {}),
  });
  r.volumeKey.fill(0);
  return d;
}

async function areaOf(d: MemoryDevice, slot: number) {
  const v = (await readLuks(d)) as Luks2Volume;
  const ks = v.active.metadata.keyslots.find((k) => k.id === slot);
  if (!ks) throw new Error(`no keyslot ${slot}`);
  return {
    keySize: ks.keySize,
    encryption: ks.area.encryption,
    areaKeySize: ks.area.keySize,
    size: ks.area.size,
  };
}

describe('keyslot area cipher and key size', () => {
  test('an unbound keyslot with a CBC area cipher gets a CBC-sized area key and unlocks', async () => {
    const d = await luks2();
    const { keyslot, key } = await addUnboundKeyslot(d, { passphrase: OLD }, NEW, {
      keySize: 16,
      kdf: FAST_PBKDF2,
      digestIterations: 1000,
      encryption: 'aes-cbc-essiv:sha256',
    });
    expect(await areaOf(d, keyslot)).toEqual({
      keySize: 16,
      encryption: 'aes-cbc-essiv:sha256',
      areaKeySize: 32,
      size: 65536,
    });
    const r = await unlockLuks(d, await readLuks(d), NEW);
    expect(r).toMatchObject({ keyslot, unbound: true });
    expect(toHex(r.volumeKey)).toBe(toHex(key));
  });

  test('by default an unbound keyslot uses the data cipher and volume key size, like cryptsetup', async () => {
    // cryptsetup 2.6.1: luksFormat --cipher aes-cbc-essiv:sha256 --key-size 256, then
    // luksAddKey --unbound -s 128 → area aes-cbc-essiv:sha256, key_size 32, size 65536.
    const d = await luks2('aes-cbc-essiv:sha256', 256);
    const { keyslot, key } = await addUnboundKeyslot(d, { passphrase: OLD }, NEW, {
      keySize: 16,
      kdf: FAST_PBKDF2,
      digestIterations: 1000,
    });
    key.fill(0);
    expect(await areaOf(d, keyslot)).toEqual({
      keySize: 16,
      encryption: 'aes-cbc-essiv:sha256',
      areaKeySize: 32,
      size: 65536,
    });
    expect((await unlockLuks(d, await readLuks(d), NEW)).keyslot).toBe(keyslot);
  });

  test('explicit keyslot cipher and key size (--keyslot-cipher / --keyslot-key-size)', async () => {
    const d = await luks2('aes-xts-plain64', 256);
    const s = await addKeyslot(d, { passphrase: OLD }, NEW, {
      kdf: FAST_PBKDF2,
      encryption: 'aes-cbc-plain64',
      areaKeySize: 24,
    });
    expect(await areaOf(d, s)).toMatchObject({ encryption: 'aes-cbc-plain64', areaKeySize: 24, keySize: 32 });
    const a = await unlockLuks(d, await readLuks(d), NEW);
    const b = await unlockLuks(d, await readLuks(d), OLD);
    expect(toHex(a.volumeKey)).toBe(toHex(b.volumeKey));
    // Without a key size the area key is the largest the mode takes.
    const t = await addKeyslot(d, { passphrase: OLD }, enc('third'), {
      kdf: FAST_PBKDF2,
      encryption: 'aes-cbc-essiv:sha256',
    });
    expect(await areaOf(d, t)).toMatchObject({ encryption: 'aes-cbc-essiv:sha256', areaKeySize: 32 });
    expect((await unlockLuks(d, await readLuks(d), enc('third'))).keyslot).toBe(t);
  });

  test('the default follows cryptsetup: data cipher when it can serve, else aes-xts-plain64 / 512', async () => {
    const d = await luks2('aes-cbc-plain', 128);
    const meta = ((await readLuks(d)) as Luks2Volume).active.metadata;
    expect(defaultKeyslotEncryption(meta)).toEqual({ encryption: 'aes-cbc-plain', keySize: 16 });
    const seg = meta.segments[0]!;
    const odd = { ...meta, segments: [{ ...seg, encryption: 'serpent-xts-plain64' }] };
    expect(defaultKeyslotEncryption(odd)).toEqual({ encryption: 'aes-xts-plain64', keySize: 64 });
  });
});

describe('options are checked before the unlock and the KDF', () => {
  // A wrong passphrase authorises nothing: if the unlock ran first the error would be an AuthError.
  const bad: Array<[string, Record<string, unknown>, object]> = [
    [
      'area key size not valid for the cipher',
      { encryption: 'aes-cbc-essiv:sha256', areaKeySize: 64 },
      { code: 'LUKS2_KEYSLOT_KEY_SIZE', kind: 'usage' },
    ],
    ['area key size without a cipher', { areaKeySize: 32 }, { code: 'LUKS2_KEYSLOT_CIPHER', kind: 'usage' }],
    ['unsupported area cipher', { encryption: 'serpent-cbc-plain64' }, { code: 'LUKS_UNSUPPORTED_CIPHER' }],
    ['keyslot out of range', { keyslot: 32 }, { code: 'LUKS2_BAD_KEYSLOT', kind: 'usage' }],
    ['keyslot in use', { keyslot: 0 }, { code: 'LUKS2_KEYSLOT_IN_USE', kind: 'usage' }],
    ['bad priority', { priority: 7 }, { code: 'LUKS2_KEYSLOT_PRIORITY', kind: 'usage' }],
    [
      'KDF cost above the limits',
      { kdf: { type: 'pbkdf2', iterations: 5000 }, limits: { maxPbkdf2Iterations: 2000 } },
      { code: 'LUKS_KDF_COST' },
    ],
    [
      'bad Argon2 memory',
      { kdf: { type: 'argon2id', iterations: 4, memoryKiB: 1, parallel: 1 } },
      { code: 'LUKS_KDF_OPTIONS' },
    ],
  ];
  test.each(bad)('addKeyslot: %s', async (_name, opts, want) => {
    const d = await luks2();
    const before = new Uint8Array(d.bytes);
    await expect(
      addKeyslot(d, { passphrase: WRONG }, NEW, { kdf: FAST_PBKDF2, ...opts }),
    ).rejects.toMatchObject(want);
    expect(Buffer.compare(d.bytes, before)).toBe(0);
  });
  test.each(bad)('addUnboundKeyslot: %s', async (_name, opts, want) => {
    const d = await luks2();
    const before = new Uint8Array(d.bytes);
    await expect(
      addUnboundKeyslot(d, { passphrase: WRONG }, NEW, {
        keySize: 32,
        digestIterations: 1000,
        kdf: FAST_PBKDF2,
        ...opts,
      }),
    ).rejects.toMatchObject(want);
    expect(Buffer.compare(d.bytes, before)).toBe(0);
  });
  test.each(bad.filter(([n]) => !n.startsWith('keyslot')))(
    'changePassphrase: %s',
    async (_name, opts, want) => {
      const d = await luks2();
      await expect(changePassphrase(d, WRONG, NEW, { kdf: FAST_PBKDF2, ...opts })).rejects.toMatchObject(
        want,
      );
    },
  );

  test('addUnboundKeyslot: key size and digest iterations', async () => {
    const d = await luks2();
    const base = { kdf: FAST_PBKDF2, digestIterations: 1000 };
    await expect(
      addUnboundKeyslot(d, { passphrase: WRONG }, NEW, { ...base, keySize: 0 }),
    ).rejects.toMatchObject({
      code: 'LUKS2_KEY_SIZE',
    });
    await expect(
      addUnboundKeyslot(d, { passphrase: WRONG }, NEW, { ...base, keySize: 32, digestIterations: 10 }),
    ).rejects.toMatchObject({ code: 'LUKS2_DIGEST_ITERATIONS' });
  });

  test('LUKS1 keyslots: slot, KDF type and cost before the unlock', async () => {
    const d = new MemoryDevice(3 * MiB);
    (await formatLuks(d, OLD, { type: 'luks1', kdf: FAST_PBKDF2, digestIterations: 1000 })).volumeKey.fill(0);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ keyslot: 8 }, 'LUKS1_BAD_KEYSLOT'],
      [{ keyslot: 0 }, 'LUKS1_KEYSLOT_IN_USE'],
      [{ kdf: { type: 'argon2id' } }, 'LUKS1_KDF'],
      [{ encryption: 'aes-cbc-plain' }, 'LUKS1_KEYSLOT_OPTIONS'],
      [{ kdf: { type: 'pbkdf2', iterations: 5000 }, limits: { maxPbkdf2Iterations: 2000 } }, 'LUKS_KDF_COST'],
    ];
    for (const [opts, code] of cases)
      await expect(
        addKeyslot(d, { passphrase: WRONG }, NEW, { kdf: FAST_PBKDF2, ...opts }),
      ).rejects.toMatchObject({
        code,
      });
  });

  test('LUKS1 format refuses a hash name too long for the header before it wipes the old volume', async () => {
    const d = new MemoryDevice(3 * MiB);
    (await formatLuks(d, OLD, { type: 'luks1', kdf: FAST_PBKDF2, digestIterations: 1000 })).volumeKey.fill(0);
    const before = new Uint8Array(d.bytes);
    // In node's getHashes(), but 34 bytes: LUKS1's hash-spec field holds 31.
    await expect(
      formatLuks(d, NEW, {
        type: 'luks1',
        hash: 'id-rsassa-pkcs1-v1_5-with-sha3-256',
        kdf: FAST_PBKDF2,
        digestIterations: 1000,
      }),
    ).rejects.toMatchObject({ code: 'LUKS1_STRING_TOO_LONG' });
    expect(Buffer.compare(d.bytes, before)).toBe(0);
  });

  test('the passphrase of an unbound keyslot does not authorise adding a data keyslot', async () => {
    const d = await luks2();
    const u = await addUnboundKeyslot(d, { passphrase: OLD }, enc('unbound'), {
      keySize: 32,
      kdf: FAST_PBKDF2,
      digestIterations: 1000,
    });
    u.key.fill(0);
    await expect(
      addKeyslot(d, { passphrase: enc('unbound') }, NEW, { kdf: FAST_PBKDF2 }),
    ).rejects.toMatchObject({
      kind: 'auth',
    });
    expect(((await readLuks(d)) as Luks2Volume).active.metadata.keyslots.map((k) => k.id)).toEqual([0, 1]);
  });
});

describe('format checks everything before it wipes', () => {
  const cases: Array<[string, object, string]> = [
    ['LUKS2 keyslot out of range', { keyslot: 40 }, 'LUKS2_BAD_KEYSLOT'],
    ['LUKS2 label too long', { label: 'x'.repeat(48) }, 'LUKS2_HEADER_STRING'],
    [
      'LUKS2 KDF over the limits',
      { kdf: { type: 'pbkdf2', iterations: 5000 }, limits: { maxPbkdf2Iterations: 2000 } },
      'LUKS_KDF_COST',
    ],
    ['LUKS2 unknown hash', { hash: 'nohash' }, 'LUKS_UNSUPPORTED_HASH'],
    [
      'LUKS1 KDF over the limits',
      {
        type: 'luks1',
        dataOffset: undefined,
        kdf: { type: 'pbkdf2', iterations: 5000 },
        limits: { maxPbkdf2Iterations: 2000 },
      },
      'LUKS_KDF_COST',
    ],
    ['LUKS1 keyslot out of range', { type: 'luks1', dataOffset: undefined, keyslot: 9 }, 'LUKS1_BAD_KEYSLOT'],
  ];
  test.each(cases)('%s', async (_name, opts, code) => {
    const d = new MemoryDevice(3 * MiB);
    d.bytes.fill(0x5a);
    await expect(
      formatLuks(d, OLD, { kdf: FAST_PBKDF2, digestIterations: 1000, dataOffset: MiB, ...opts }),
    ).rejects.toMatchObject({ code });
    expect(d.bytes.every((b) => b === 0x5a)).toBe(true);
  });
});
