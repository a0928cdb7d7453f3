import { randomBytes } from 'node:crypto';
import { MemoryDevice } from '@lsvm/core';
import { LuksDevice, SectorCipher } from '../src/index.js';

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
