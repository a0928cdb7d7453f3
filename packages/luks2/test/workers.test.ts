import { randomBytes } from 'node:crypto';
import { MemoryDevice } from '@lsvm/core';
import { LuksDevice, SectorCipher, XtsWorkerPool } from '../src/index.js';

jest.setTimeout(120_000);

describe('worker-thread XTS', () => {
  test.each([512, 4096])(
    'threaded reads give the plaintext and equal single-thread reads (sector %i)',
    async (ss) => {
      const key = new Uint8Array(randomBytes(64));
      const plain = new Uint8Array(randomBytes(9 * 1024 * 1024 + 3 * ss));
      // ciphertext made by the single-thread cipher with iv_tweak 77
      const ct = new Uint8Array(plain);
      new SectorCipher('aes-xts-plain64', key).encrypt(ct, 77n, ss);
      const backing = new MemoryDevice(new Uint8Array(4096 + ct.length));
      backing.bytes.set(ct, 4096);
      const layout = {
        offset: 4096,
        size: ct.length,
        sectorSize: ss,
        ivTweak: 77n,
        encryption: 'aes-xts-plain64',
      };
      const threaded = new LuksDevice(backing, layout, key, { threads: 3, readOnly: true });
      const single = new LuksDevice(backing, layout, key, { readOnly: true });
      try {
        const a = await threaded.read(0, ct.length);
        expect(Buffer.from(a).equals(Buffer.from(plain))).toBe(true);
        // unaligned large read through the pool
        const off = ss + 100;
        const b = await threaded.read(off, 5 * 1024 * 1024 + 7);
        expect(Buffer.from(b).equals(Buffer.from(await single.read(off, b.length)))).toBe(true);
      } finally {
        await threaded.close();
        await single.close();
      }
    },
  );

  test('reads spanning several 16 MiB chunks (double-buffered pipeline) equal single-thread reads; a failing read surfaces', async () => {
    const ss = 4096;
    const key = new Uint8Array(randomBytes(64));
    const plain = new Uint8Array(randomBytes(40 * 1024 * 1024 + 5 * ss));
    const ct = new Uint8Array(plain);
    new SectorCipher('aes-xts-plain64', key).encrypt(ct, 5n, ss);
    const backing = new MemoryDevice(new Uint8Array(8192 + ct.length));
    backing.bytes.set(ct, 8192);
    const layout = {
      offset: 8192,
      size: ct.length,
      sectorSize: ss,
      ivTweak: 5n,
      encryption: 'aes-xts-plain64',
    };
    const threaded = new LuksDevice(backing, layout, key, { threads: 2, readOnly: true });
    try {
      const all = await threaded.read(0, ct.length);
      expect(Buffer.from(all).equals(Buffer.from(plain))).toBe(true);
      const off = 3 * ss + 17;
      const part = await threaded.read(off, 33 * 1024 * 1024 + 5);
      expect(Buffer.from(part).equals(Buffer.from(plain.subarray(off, off + part.length)))).toBe(true);
      // The parent fails on the third chunk's read: the error reaches the caller.
      const failing = Object.create(backing) as MemoryDevice;
      failing.readInto = async (t: Uint8Array, o: number) => {
        if (o >= 8192 + 32 * 1024 * 1024) throw new Error('disk gone');
        return backing.readInto(t, o);
      };
      const broken = new LuksDevice(failing, layout, key, { threads: 2, readOnly: true });
      await expect(broken.read(0, ct.length)).rejects.toThrow('disk gone');
      await broken.close();
    } finally {
      await threaded.close();
    }
  });

  test('thread counts are validated', () => {
    expect(
      () =>
        new LuksDevice(
          new MemoryDevice(8192),
          { offset: 0, size: 8192, sectorSize: 512, ivTweak: 0n, encryption: 'aes-xts-plain64' },
          new Uint8Array(64),
          { threads: 0 },
        ),
    ).toThrow(expect.objectContaining({ kind: 'usage' }));
  });
});

test('when the worker pool cannot start, large reads fall back to one thread and close still wipes', async () => {
  const key = new Uint8Array(randomBytes(64));
  const plain = new Uint8Array(randomBytes(6 * 1024 * 1024));
  const ct = new Uint8Array(plain);
  new SectorCipher('aes-xts-plain64', key).encrypt(ct, 0n, 512);
  const layout = { offset: 0, size: ct.length, sectorSize: 512, ivTweak: 0n, encryption: 'aes-xts-plain64' };
  const spy = jest.spyOn(XtsWorkerPool, 'create').mockRejectedValue(new Error('no worker_threads here'));
  const dev = new LuksDevice(new MemoryDevice(ct), layout, key, { threads: 2, readOnly: true });
  try {
    expect(Buffer.from(await dev.read(0, ct.length)).equals(Buffer.from(plain))).toBe(true);
    expect(
      Buffer.from(await dev.read(4096, 5 << 20)).equals(Buffer.from(plain.subarray(4096, 4096 + (5 << 20)))),
    ).toBe(true);
    expect(spy).toHaveBeenCalledTimes(1);
  } finally {
    await dev.close();
    spy.mockRestore();
  }
});
