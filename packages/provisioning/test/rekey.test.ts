import { createHash, randomBytes } from 'node:crypto';
import { BaseBlockDevice, type BlockDevice, IoError, MemoryDevice, forEachChunk } from '@lsvm/core';
import { formatLuks, openLuks, readLuks, reencryptJournalSize } from '@lsvm/luks2';
import { newVolumePassphrase, reencryptVolume, rekeyVolume } from '../src/index.js';
import { enc } from './helpers.js';

const MiB = 1024 * 1024;
const OLD = enc('passphrase');

/** A LUKS1 volume (aes-xts-plain64, 256-bit key) of `size` bytes with random plaintext. */
async function volume(size: number): Promise<{ dev: MemoryDevice; plainHash: string }> {
  const dev = new MemoryDevice(size);
  await formatLuks(dev, OLD, {
    type: 'luks1',
    keySizeBits: 256,
    kdf: { type: 'pbkdf2', iterations: 1000 },
    digestIterations: 1000,
  });
  const plain = await openLuks(dev, OLD, { readOnly: false });
  await plain.write(0, randomBytes(plain.size));
  await plain.close();
  return { dev, plainHash: await hashPlain(dev, OLD) };
}

async function hashPlain(dev: BlockDevice, pass: Uint8Array): Promise<string> {
  const plain = await openLuks(dev, pass);
  const h = createHash('sha256');
  await forEachChunk(plain, (c) => {
    h.update(c);
  });
  await plain.close();
  return h.digest('hex');
}

/** Passes writes through until `budget` is spent, then fails every write: a crash, as seen on disk. */
class CrashingDevice extends BaseBlockDevice {
  writes = 0;
  readonly size: number;
  readonly sectorSize: number;
  readonly readOnly = false;
  constructor(
    private readonly inner: MemoryDevice,
    private budget: number,
  ) {
    super();
    this.size = inner.size;
    this.sectorSize = inner.sectorSize;
  }
  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    await this.inner.readInto(target, offset);
  }
  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    if (this.budget-- <= 0) throw new IoError('CRASH', 'simulated power loss');
    this.writes++;
    await this.inner.write(offset, data);
  }
}

describe('re-keying volumes', () => {
  test('keyslot mode: new passphrase opens, the well-known one does not, same volume key', async () => {
    const { dev, plainHash } = await volume(4 * MiB);
    const before = await readLuks(dev);
    const pass = newVolumePassphrase();
    expect(new TextDecoder().decode(pass)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const r = await rekeyVolume(dev, OLD, pass);
    expect(r.result).toMatchObject({ luksVersion: 1, removedKeyslot: 0, addedKeyslot: 1 });
    expect(r.volumeKey).toHaveLength(32);
    const after = await readLuks(dev);
    expect(after.version === 1 && before.version === 1 && after.header.mkDigest).toEqual(
      before.version === 1 && before.header.mkDigest,
    );
    expect(await hashPlain(dev, pass)).toBe(plainHash);
    await expect(openLuks(dev, OLD)).rejects.toMatchObject({ kind: 'auth' });
  });

  test('reencrypt mode: new key, same plaintext, journal reusable', async () => {
    const { dev, plainHash } = await volume(6 * MiB);
    const before = await readLuks(dev);
    const journal = new MemoryDevice(reencryptJournalSize(MiB));
    const pass = newVolumePassphrase();
    const r = await reencryptVolume(dev, OLD, pass, { journal, chunkSize: MiB });
    expect(r.result.reencrypted).toMatchObject({
      resumed: false,
      cipher: 'aes-xts-plain64',
      keySizeBits: 256,
    });
    const after = await readLuks(dev);
    expect(
      after.version === 1 &&
        before.version === 1 &&
        Buffer.from(after.header.mkDigest).equals(before.header.mkDigest),
    ).toBe(false);
    expect(await hashPlain(dev, pass)).toBe(plainHash);
    await expect(openLuks(dev, OLD)).rejects.toMatchObject({ kind: 'auth' });
  });

  test('reencrypt mode: a crash after every possible number of writes resumes to the same result', async () => {
    const { dev: pristine, plainHash } = await volume(3 * MiB);
    const pass = newVolumePassphrase();
    // Count the writes of an uninterrupted run on a copy.
    const probe = new CrashingDevice(new MemoryDevice(pristine.bytes.slice()), Number.MAX_SAFE_INTEGER);
    const probeJournal = new MemoryDevice(reencryptJournalSize(MiB));
    await reencryptVolume(probe, OLD, pass, { journal: probeJournal, chunkSize: MiB });
    const total = probe.writes;
    expect(total).toBeGreaterThan(5);
    let resumed = 0;
    for (let n = 0; n < total; n++) {
      const disk = new MemoryDevice(pristine.bytes.slice());
      const journal = new MemoryDevice(reencryptJournalSize(MiB));
      const crashing = new CrashingDevice(disk, n);
      await expect(reencryptVolume(crashing, OLD, pass, { journal, chunkSize: MiB })).rejects.toThrow();
      // "Reboot": the same bytes, a healthy device, the same journal and passphrases.
      const r = await reencryptVolume(disk, OLD, pass, { journal, chunkSize: MiB });
      if (r.result.reencrypted!.resumed) resumed++;
      expect(await hashPlain(disk, pass)).toBe(plainHash);
      await expect(openLuks(disk, OLD)).rejects.toMatchObject({ kind: 'auth' });
    }
    expect(resumed).toBeGreaterThan(0);
  });

  test('reencrypt mode: an abort leaves a resumable run', async () => {
    const { dev, plainHash } = await volume(6 * MiB);
    const journal = new MemoryDevice(reencryptJournalSize(MiB));
    const pass = newVolumePassphrase();
    const ac = new AbortController();
    let calls = 0;
    await expect(
      reencryptVolume(dev, OLD, pass, {
        journal,
        chunkSize: MiB,
        signal: ac.signal,
        onProgress: () => {
          if (++calls === 2) ac.abort();
        },
      }),
    ).rejects.toMatchObject({ kind: 'aborted' });
    const r = await reencryptVolume(dev, OLD, pass, { journal, chunkSize: MiB });
    expect(r.result.reencrypted).toMatchObject({ resumed: true });
    expect(r.result.reencrypted!.chunksWritten).toBeLessThan(r.result.reencrypted!.chunks);
    expect(await hashPlain(dev, pass)).toBe(plainHash);
  });
});
