import { createDecipheriv } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, toHex } from '@lsvm/core';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  openLuks,
  readLuks,
  reencryptJournalSize,
  reencryptLuks,
  resumeReencrypt,
  unlockLuks,
} from '../src/index.js';
import { FAST_PBKDF2, cryptsetupVolumeKey, enc, makeImage } from './helpers.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
jest.setTimeout(120_000);

/** AES-XTS decryption of one 512-byte sector by OpenSSL (plain64 IV = sector number, LE). */
function opensslXtsSector(key: Uint8Array, sector: number, data: Uint8Array): Uint8Array {
  const iv = Buffer.alloc(16);
  iv.writeUInt32LE(sector, 0);
  const d = createDecipheriv(`aes-${(key.length / 2) * 8}-xts`, key, iv);
  return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
}

describeWithPeers(['cryptsetup'], 'offline re-encryption: cryptsetup sees the new key', () => {
  const dir = tempDir('lsvm-luks-reenc-');
  afterAll(() => dir.cleanup());
  const oldKf = join(dir.path, 'old.key');
  const newKf = join(dir.path, 'new.key');
  beforeAll(() => {
    writeFileSync(oldKf, 'old key file');
    writeFileSync(newKf, new Uint8Array([0x6e, 0x00, 0x0a, 0xff]));
  });

  test.each([
    ['luks1', 3 * MiB, ['--type', 'luks1', '--key-size', '256', '--pbkdf-force-iterations', '1000']],
    [
      'luks2',
      2 * MiB,
      ['--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--offset', '2048'],
    ],
  ] as const)(
    '%s formatted by cryptsetup, re-encrypted by us, checked by cryptsetup and OpenSSL',
    async (type, size, args) => {
      const img = makeImage(dir.path, `${type}.img`, size);
      runOk('cryptsetup', ['luksFormat', '-q', ...args, '--key-file', oldKf, img]);
      const oldHex = cryptsetupVolumeKey(img, oldKf);
      const jpath = join(dir.path, `${type}.journal`);
      const dev = await FileDevice.open(img, { readOnly: false });
      const journal = await FileDevice.open(jpath, { create: true, size: reencryptJournalSize(CHUNK) });
      const plain = new Uint8Array(MiB).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
      try {
        const p = await openLuks(dev, enc('old key file'));
        await p.write(0, plain);
        await p.close();
        // Interrupt half-way, check cryptsetup sees the mark, then resume.
        const ac = new AbortController();
        let n = 0;
        const o = {
          key: enc('old key file'),
          newPassphrase: new Uint8Array([0x6e, 0x00, 0x0a, 0xff]),
          kdf: FAST_PBKDF2,
          digestIterations: 1000,
          chunkSize: CHUNK,
          journal,
        };
        await expect(
          reencryptLuks(dev, { ...o, signal: ac.signal, onProgress: () => ++n === 8 && ac.abort() }),
        ).rejects.toMatchObject({ code: 'ABORTED' });
        if (type === 'luks2')
          expect(runOk('cryptsetup', ['luksDump', img])).toMatch(/Requirements:\s*lsvm-offline-reencrypt/);
        else expect(run('cryptsetup', ['isLuks', img]).status).not.toBe(0);
        const r = await resumeReencrypt(dev, o);
        expect(r).toMatchObject({ resumed: true, chunksWritten: 16 - 7 });
        const vol = await readLuks(dev);
        const ours = await unlockLuks(dev, vol, o.newPassphrase);
        const newHex = cryptsetupVolumeKey(img, newKf);
        expect(newHex).toBe(toHex(ours.volumeKey));
        expect(newHex).not.toBe(oldHex);
        expect(newHex).toHaveLength(type === 'luks1' ? 64 : 128);
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', newKf, img]).status).toBe(0);
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', oldKf, img]).status).not.toBe(0);
        // Exactly one keyslot left, as cryptsetup lists them.
        const dump = runOk('cryptsetup', ['luksDump', img]);
        if (type === 'luks1') expect(dump.match(/: ENABLED/g)).toHaveLength(1);
        else {
          expect(dump).not.toMatch(/Requirements:\s*lsvm/);
          expect(dump.match(/^\s+\d+: luks2$/gm)).toHaveLength(1);
        }
        // An independent XTS (OpenSSL) under the key cryptsetup reports decrypts our plaintext.
        const key = Buffer.from(newHex, 'hex');
        const dataOffset = type === 'luks1' ? 2 * MiB : MiB;
        for (const sector of [0, 1, 777, 2047]) {
          const ct = await dev.read(dataOffset + sector * 512, 512);
          expect(Buffer.from(opensslXtsSector(key, sector, ct))).toEqual(
            Buffer.from(plain.subarray(sector * 512, (sector + 1) * 512)),
          );
        }
        ours.volumeKey.fill(0);
      } finally {
        await dev.close();
        await journal.close();
      }
    },
  );
});
