import { createDecipheriv } from 'node:crypto';
import { MemoryDevice, toHex } from '@lsvm/core';
import {
  type LuksVolume,
  addKeyslot,
  addUnboundKeyslot,
  addToken,
  backupHeader,
  changePassphrase,
  cloneJson,
  formatLuks,
  luks2Identity,
  openLuks,
  readLuks,
  removeKeyslot,
  removeToken,
  restoreHeader,
  scanLuksHeaders,
  unlockLuks,
  writeLuks2Headers,
  type JsonObject,
} from '../src/index.js';
import { FAST_PBKDF2, FaultyDevice, countWrites, enc } from './helpers.js';

const MiB = 1024 * 1024;
const OLD = enc('old passphrase');
const NEW = enc('new passphrase');

jest.setTimeout(120_000);

/** A small volume: LUKS2 with a 1 MiB data offset (room for 3 keyslots), LUKS1 with its 2 MiB layout. */
async function fresh(type: 'luks1' | 'luks2', size = 3 * MiB): Promise<MemoryDevice> {
  const d = new MemoryDevice(size);
  const r = await formatLuks(d, OLD, {
    type,
    kdf: FAST_PBKDF2,
    digestIterations: 1000,
    ...(type === 'luks2' ? { dataOffset: MiB } : {}),
  });
  r.volumeKey.fill(0);
  return d;
}

async function opens(d: MemoryDevice, pass: Uint8Array): Promise<boolean> {
  const copy = new MemoryDevice(new Uint8Array(d.bytes), { readOnly: true });
  try {
    const v = await readLuks(copy);
    await unlockLuks(copy, v, pass);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'LUKS_WRONG_KEY') return false;
    throw e;
  }
}

describe('format', () => {
  test('LUKS2 layout like cryptsetup: 16 KiB metadata ×2, 16 MiB data offset, seqid 1 in both copies', async () => {
    const d = new MemoryDevice(18 * MiB);
    (await formatLuks(d, OLD, { kdf: FAST_PBKDF2, digestIterations: 1000 })).volumeKey.fill(0);
    const v = await readLuks(d);
    if (v.version !== 2) throw new Error('expected LUKS2');
    expect(v.active.binary.hdrSize).toBe(16384);
    expect(v.primary).toMatchObject({ valid: true, seqid: 1n });
    expect(v.secondary).toMatchObject({ valid: true, seqid: 1n, offset: 16384 });
    const m = v.active.metadata;
    expect(m.segments[0]).toMatchObject({
      offset: 16 * MiB,
      size: 'dynamic',
      encryption: 'aes-xts-plain64',
      sectorSize: 512,
    });
    expect(m.keyslots[0]).toMatchObject({ keySize: 64, area: { offset: 32768, size: 258048 } });
    expect(m.config.keyslotsSize).toBe(16 * MiB - 32768);
  });

  test('LUKS1 layout like cryptsetup: keyslots 4 KiB aligned, payload at 2 MiB', async () => {
    const d = await fresh('luks1');
    const v = await readLuks(d);
    if (v.version !== 1) throw new Error('expected LUKS1');
    expect(v.header.payloadOffset).toBe(4096);
    expect(v.header.keyslots.map((k) => k.keyMaterialOffset)).toEqual([
      8, 512, 1016, 1520, 2024, 2528, 3032, 3536,
    ]);
  });

  test('refuses bad options with UsageError', async () => {
    const d = new MemoryDevice(18 * MiB);
    await expect(formatLuks(d, OLD, { sectorSize: 8192 })).rejects.toMatchObject({ kind: 'usage' });
    await expect(formatLuks(d, OLD, { keySizeBits: 100 })).rejects.toMatchObject({ kind: 'usage' });
    await expect(formatLuks(new MemoryDevice(MiB), OLD, { kdf: FAST_PBKDF2 })).rejects.toMatchObject({
      kind: 'usage',
    });
    await expect(formatLuks(d, OLD, { cipher: 'twofish-xts-plain64' })).rejects.toMatchObject({
      kind: 'unsupported',
    });
  });
});

describe.each(['luks1', 'luks2'] as const)('%s keyslot edits', (type) => {
  test('add from passphrase and from volume key, remove, change; wrong key is an AuthError', async () => {
    const d = await fresh(type);
    const s1 = await addKeyslot(d, { passphrase: OLD }, NEW, { kdf: FAST_PBKDF2 });
    expect(s1).toBe(1);
    const v = await readLuks(d);
    const { volumeKey } = await unlockLuks(d, v, NEW);
    const s2 = await addKeyslot(d, { volumeKey }, enc('third'), { kdf: FAST_PBKDF2, keyslot: 5 });
    expect(s2).toBe(5);
    expect((await unlockLuks(d, await readLuks(d), enc('third'))).keyslot).toBe(5);
    await expect(
      addKeyslot(d, { volumeKey }, enc('x'), { kdf: FAST_PBKDF2, keyslot: 5 }),
    ).rejects.toMatchObject({ kind: 'usage' });
    await removeKeyslot(d, 1);
    expect(await opens(d, NEW)).toBe(false);
    expect(await opens(d, OLD)).toBe(true);
    await expect(addKeyslot(d, { passphrase: enc('nope') }, NEW)).rejects.toMatchObject({ kind: 'auth' });
    await expect(addKeyslot(d, { volumeKey: new Uint8Array(volumeKey.length) }, NEW)).rejects.toMatchObject({
      kind: 'auth',
    });
    const c = await changePassphrase(d, OLD, NEW, { kdf: FAST_PBKDF2 });
    expect(await opens(d, OLD)).toBe(false);
    expect((await unlockLuks(d, await readLuks(d), NEW)).keyslot).toBe(c);
    await removeKeyslot(d, 5);
    await expect(removeKeyslot(d, c)).rejects.toMatchObject({ code: 'LUKS_LAST_KEYSLOT' });
  });

  test('crash after every write (clean and torn): opens with the old passphrase, and with the new once done', async () => {
    const base = await fresh(type);
    const add = (dev: MemoryDevice) => addKeyslot(dev, { passphrase: OLD }, NEW, { kdf: FAST_PBKDF2 });
    const total = await countWrites(base.bytes, add);
    expect(total).toBeGreaterThanOrEqual(type === 'luks2' ? 3 : 2);
    for (let i = 0; i < total; i++) {
      for (const torn of [false, true]) {
        const d = new FaultyDevice(new Uint8Array(base.bytes), i, torn);
        await expect(add(d)).rejects.toMatchObject({ code: 'INJECTED' });
        const state = new MemoryDevice(d.bytes);
        expect(await opens(state, OLD)).toBe(true);
        // once the header write is complete (the last write for LUKS1, the secondary copy for LUKS2) the new key works
        if (type === 'luks2' && i === total - 1) expect(await opens(state, NEW)).toBe(true);
      }
    }
    // and the removal of the old slot after the new one exists: one of the two always opens
    const withNew = new MemoryDevice(new Uint8Array(base.bytes));
    await add(withNew);
    const rm = (dev: MemoryDevice) => removeKeyslot(dev, 0);
    const rmWrites = await countWrites(withNew.bytes, rm);
    for (let i = 0; i < rmWrites; i++) {
      for (const torn of [false, true]) {
        const d = new FaultyDevice(new Uint8Array(withNew.bytes), i, torn);
        await expect(rm(d)).rejects.toMatchObject({ code: 'INJECTED' });
        const state = new MemoryDevice(d.bytes);
        expect(await opens(state, NEW)).toBe(true);
      }
    }
  });

  test('header backup and restore bring a removed keyslot back', async () => {
    const d = await fresh(type);
    await addKeyslot(d, { passphrase: OLD }, NEW, { kdf: FAST_PBKDF2 });
    const backup = await backupHeader(d);
    await removeKeyslot(d, 1);
    expect(await opens(d, NEW)).toBe(false);
    await restoreHeader(d, backup);
    expect(await opens(d, NEW)).toBe(true);
    const other = await fresh(type);
    await expect(restoreHeader(other, backup)).rejects.toMatchObject({ code: 'LUKS_BACKUP_UUID' });
    await restoreHeader(other, backup, { force: true });
    expect(await opens(other, NEW)).toBe(true);
  });
});

describe('LUKS2 header copies', () => {
  test('a damaged primary is reported, the secondary is used, the next write repairs both', async () => {
    const d = await fresh('luks2');
    d.bytes[4096 + 10] = d.bytes[4096 + 10]! ^ 0xff; // JSON area of the primary
    const v = await readLuks(d);
    if (v.version !== 2) throw new Error('expected LUKS2');
    expect(v.primary).toMatchObject({ valid: false, problem: { code: 'LUKS2_HEADER_CHECKSUM' } });
    expect(v.secondary.valid).toBe(true);
    expect(await opens(d, OLD)).toBe(true);
    expect(d.bytes[4096 + 10]).not.toBe(0); // we did not silently repair on read
    await addToken(d, { type: 'x', keyslots: [] });
    const v2 = (await readLuks(d)) as Extract<LuksVolume, { version: 2 }>;
    expect(v2.primary).toMatchObject({ valid: true, seqid: 2n });
    expect(v2.secondary).toMatchObject({ valid: true, seqid: 2n });
  });

  test('primary gone entirely: the secondary is found by scanning the allowed offsets', async () => {
    const d = await fresh('luks2');
    d.bytes.fill(0, 0, 4096);
    const v = await readLuks(d);
    if (v.version !== 2) throw new Error('expected LUKS2');
    expect(v.active.binary.kind).toBe('secondary');
    expect(await opens(d, OLD)).toBe(true);
  });

  test('the higher seqid wins; the stale copy is reported', async () => {
    const d = await fresh('luks2');
    const v = (await readLuks(d)) as Extract<LuksVolume, { version: 2 }>;
    const json = cloneJson(v.active.json) as JsonObject;
    (json.tokens as JsonObject)['3'] = cloneJson({ type: 'marker', keyslots: [] } as never);
    const { id } = luks2Identity(v);
    // write only the secondary with seqid 7 by writing both then restoring the old primary
    const oldPrimary = d.bytes.slice(0, 16384);
    await writeLuks2Headers(
      d,
      id,
      (await import('../src/index.js')).toJsonValue({
        ...JSON.parse(JSON.stringify((await import('../src/index.js')).fromJsonValue(json))),
      }) as JsonObject,
      7n,
    );
    d.bytes.set(oldPrimary, 0);
    const v2 = (await readLuks(d)) as Extract<LuksVolume, { version: 2 }>;
    expect(v2.active.binary.seqid).toBe(7n);
    expect(v2.active.binary.kind).toBe('secondary');
    expect(v2.primary.problem?.code).toBe('LUKS2_STALE_COPY');
    expect(v2.active.metadata.tokens.map((t) => t.type)).toEqual(['marker']);
  });

  test('tokens: add, remove, refuse unknown keyslots', async () => {
    const d = await fresh('luks2');
    expect(await addToken(d, { type: 'a', keyslots: ['0'] })).toBe(0);
    expect(await addToken(d, { type: 'b', keyslots: [] }, { id: 7 })).toBe(7);
    await expect(addToken(d, { type: 'c', keyslots: ['9'] })).rejects.toMatchObject({ kind: 'usage' });
    await expect(addToken(d, { type: 'c', keyslots: [] }, { id: 7 })).rejects.toMatchObject({
      code: 'LUKS2_TOKEN_IN_USE',
    });
    await removeToken(d, 0);
    const v = (await readLuks(d)) as Extract<LuksVolume, { version: 2 }>;
    expect(v.active.metadata.tokens.map((t) => t.id)).toEqual([7]);
    expect(v.active.binary.seqid).toBe(4n);
  });

  test('scan finds the primary and the secondary inside a larger image', async () => {
    const d = await fresh('luks2');
    const disk = new MemoryDevice(d.size + MiB);
    disk.bytes.set(d.bytes.subarray(0, 64 * 1024), MiB);
    const found = await scanLuksHeaders(disk, { end: 2 * MiB });
    expect(found.map((f) => [f.offset, f.kind])).toEqual([
      [MiB, 'primary'],
      [MiB + 16384, 'secondary'],
    ]);
    expect(found.every((f) => f.valid)).toBe(true);
  });
});

describe('encrypted device', () => {
  test('unaligned read/write round trip, close, and a wrong volume key', async () => {
    const d = new MemoryDevice(18 * MiB);
    const r = await formatLuks(d, OLD, { kdf: FAST_PBKDF2, digestIterations: 1000, sectorSize: 4096 });
    const vol = await openLuks(d, { volumeKey: r.volumeKey });
    expect(vol.size).toBe(2 * MiB);
    expect(vol.sectorSize).toBe(4096);
    const data = enc('hello, encrypted world');
    await vol.write(5000, data);
    expect(new TextDecoder().decode(await vol.read(5000, data.length))).toBe('hello, encrypted world');
    // never-written sectors are ciphertext zeros: they decrypt to noise, not to zeros
    expect(toHex(await vol.read(0, 16))).not.toBe('00'.repeat(16));
    await expect(openLuks(d, { volumeKey: new Uint8Array(64) })).rejects.toMatchObject({ kind: 'auth' });
    await vol.close();
    await expect(vol.read(0, 1)).rejects.toMatchObject({ code: 'DEVICE_CLOSED' });
  });

  test.each([512, 4096])(
    'non-zero iv_tweak (sector %i): ciphertext matches an independent XTS with IV = tweak + offset/512',
    async (sectorSize) => {
      const d = new MemoryDevice(2 * MiB);
      const r = await formatLuks(d, OLD, {
        kdf: FAST_PBKDF2,
        digestIterations: 1000,
        dataOffset: MiB,
        sectorSize,
      });
      const v = (await readLuks(d)) as Extract<LuksVolume, { version: 2 }>;
      const json = cloneJson(v.active.json);
      const seg = (json.segments as JsonObject)['0'] as JsonObject;
      seg.iv_tweak = '1000000007';
      const { id, nextSeqid } = luks2Identity(v);
      await writeLuks2Headers(d, id, json, nextSeqid);
      const vol = await openLuks(d, OLD);
      expect(vol.unlock?.keyslot).toBe(0);
      const plain = new Uint8Array(3 * sectorSize).map((_, i) => (i * 13) & 0xff);
      await vol.write(sectorSize, plain);
      const ct = d.bytes.subarray(MiB + sectorSize, MiB + 4 * sectorSize);
      for (let s = 0; s < 3; s++) {
        const iv = Buffer.alloc(16);
        iv.writeBigUInt64LE(1000000007n + BigInt(((s + 1) * sectorSize) / 512));
        const out = createDecipheriv('aes-256-xts', r.volumeKey, iv).update(
          ct.subarray(s * sectorSize, (s + 1) * sectorSize),
        );
        expect(
          Buffer.from(out).equals(Buffer.from(plain.subarray(s * sectorSize, (s + 1) * sectorSize))),
        ).toBe(true);
      }
    },
  );

  test('format calibrated to a target time (PBKDF2 and Argon2id) produces openable keyslots', async () => {
    for (const kdf of [
      { type: 'pbkdf2' as const, iterTimeMs: 30 },
      { type: 'argon2id' as const, iterTimeMs: 30, memoryKiB: 8192, parallel: 1 },
    ]) {
      const d = new MemoryDevice(2 * MiB);
      (await formatLuks(d, OLD, { kdf, dataOffset: MiB })).volumeKey.fill(0);
      const v = (await readLuks(d)) as Extract<LuksVolume, { version: 2 }>;
      const k = v.active.metadata.keyslots[0]!.kdf;
      expect(k.type).toBe(kdf.type);
      if (k.type === 'pbkdf2') expect(k.iterations).toBeGreaterThanOrEqual(1000);
      else expect(k.time).toBeGreaterThanOrEqual(4);
      expect(v.active.metadata.digests[0]!.iterations).toBeGreaterThanOrEqual(1000);
      expect((await unlockLuks(d, v, OLD)).keyslot).toBe(0);
    }
  });

  test('unbound keys unlock as such and are skipped when opening the data segment', async () => {
    const d = new MemoryDevice(2 * MiB);
    (await formatLuks(d, OLD, { kdf: FAST_PBKDF2, digestIterations: 1000, dataOffset: MiB })).volumeKey.fill(
      0,
    );
    const { keyslot, key } = await addUnboundKeyslot(d, { passphrase: OLD }, NEW, {
      keySize: 32,
      kdf: FAST_PBKDF2,
      digestIterations: 1000,
    });
    expect(keyslot).toBe(1);
    const r = await unlockLuks(d, await readLuks(d), NEW);
    expect(r).toMatchObject({ keyslot: 1, unbound: true, segments: [], digest: 1 });
    expect(toHex(r.volumeKey)).toBe(toHex(key));
    await expect(openLuks(d, NEW)).rejects.toMatchObject({ code: 'LUKS_WRONG_KEY' });
    expect((await openLuks(d, OLD)).unlock?.keyslot).toBe(0);
  });
});
