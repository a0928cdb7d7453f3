import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, MemoryDevice, toHex } from '@lsvm/core';
import { readXz, runOk, sharedVectors, tempDir } from '@lsvm/testkit';
import { openLuks, parseLuks1Header, readLuks, unlockLuks, checkLuks1DeviceSize } from '../src/index.js';
import { enc } from './helpers.js';

const V = join(sharedVectors, 'luks');
jest.setTimeout(120_000);
const mem = (name: string): MemoryDevice =>
  new MemoryDevice(new Uint8Array(readXz(join(V, name))), { readOnly: true });

describe('shared LUKS test vectors', () => {
  test('compatimage: LUKS1 aes-cbc-essiv:sha256 opens with compatkey to the documented key', async () => {
    const d = mem('compatimage.img.xz');
    const v = await readLuks(d);
    expect(v.version).toBe(1);
    const r = await unlockLuks(d, v, enc('compatkey'));
    expect(toHex(r.volumeKey)).toBe('e1a851c034ed7993b276608a45842b7b');
    expect(r.keyslot).toBe(0);
    await expect(unlockLuks(d, v, enc('wrong'))).rejects.toMatchObject({
      code: 'LUKS_WRONG_KEY',
      kind: 'auth',
    });
  });

  test('compatv10image: LUKS 1.0 layout (aes-cbc-plain, sha1, keyslot at sector 2) unlocks', async () => {
    const d = mem('compatv10image.img.xz');
    const v = await readLuks(d);
    if (v.version !== 1) throw new Error('expected LUKS1');
    expect(v.header.keyslots[0]!.keyMaterialOffset).toBe(2);
    const r = await unlockLuks(d, v, enc('compatkey'));
    expect(r.keyslot).toBe(0);
    expect(r.volumeKey.length).toBe(16);
  });

  test('compatimage2: LUKS2 slot 0 PBKDF2 opens with compatkey; slot 1 argon2id is tried and fails', async () => {
    const d = mem('compatimage2.img.xz');
    const v = await readLuks(d);
    if (v.version !== 2) throw new Error('expected LUKS2');
    expect(v.primary.valid && v.secondary.valid).toBe(true);
    expect(v.active.metadata.keyslots.map((k) => k.kdf.type)).toEqual(['pbkdf2', 'argon2id']);
    const r = await unlockLuks(d, v, enc('compatkey'));
    expect(toHex(r.volumeKey)).toBe('d47ee2cdc40f39be9a3e8d72a149cc4d');
    expect(r.keyslot).toBe(0);
    await expect(unlockLuks(d, v, enc('compatkey'), { keyslot: 1 })).rejects.toMatchObject({
      code: 'LUKS_WRONG_KEY',
    });
  });

  describe('luks1-images', () => {
    const dir = tempDir('lsvm-luks1img-');
    afterAll(() => dir.cleanup());
    beforeAll(() => runOk('tar', ['-xJf', join(V, 'luks1-images.tar.xz'), '-C', dir.path]));
    const kf = (): Uint8Array => new Uint8Array(readFileSync(join(dir.path, 'luks1-images', 'keyfile1')));
    const open = async (name: string) => {
      const d = await FileDevice.open(join(dir.path, 'luks1-images', name));
      try {
        const v = await readLuks(d);
        return await unlockLuks(d, v, kf());
      } finally {
        await d.close();
      }
    };
    test('aes-xts-plain64-sha256 gives the documented key', async () => {
      const r = await open('luks1_aes-xts-plain64-sha256.img');
      expect(toHex(r.volumeKey)).toBe('b1c4a7c0f69cbfd1ef32ec65ada15a0aa41fa940ade5289911a64d31bcd07b30');
    });
    test.each(['luks1_aes-xts-plain64-sha1.img', 'luks1_aes-cbc-essiv-sha256-sha1.img'])(
      '%s opens (keyfile1)',
      async (n) => {
        const r = await open(n);
        expect(r.keyslot).toBe(0);
      },
    );
    test.each([
      ['luks1_twofish-xts-plain64-sha256.img', /twofish/],
      ['luks1_twofish-xts-plain64-sha1.img', /twofish/],
      ['luks1_serpent-xts-plain64-sha256.img', /serpent/],
      ['luks1_serpent-xts-plain64-whirlpool.img', /serpent/],
      ['luks1_aes-lrw-plain64-sha1.img', /lrw/],
    ])('%s: unsupported cipher, never a wrong key', async (n, re) => {
      await expect(open(n)).rejects.toMatchObject({
        kind: 'unsupported',
        code: 'LUKS_UNSUPPORTED_CIPHER',
        message: expect.stringMatching(re),
      });
    });
    test.each(['luks1_aes-xts-plain64-whirlpool.img', 'luks1_aes-xts-essiv-wp256-whirlpool.img'])(
      '%s: whirlpool is unsupported (Node has no whirlpool), never a wrong key',
      async (n) => {
        await expect(open(n)).rejects.toMatchObject({ kind: 'unsupported' });
      },
    );
  });

  test('luks2_valid_hdr: parses and validates; draft "argon2" keyslots cannot be unlocked', async () => {
    const d = mem('luks2_valid_hdr.img.xz');
    const v = await readLuks(d);
    if (v.version !== 2) throw new Error('expected LUKS2');
    expect(v.active.binary.seqid).toBe(10n);
    expect(v.active.metadata.keyslots[0]!.kdf.type).toBe('argon2');
    await expect(unlockLuks(d, v, enc('x'))).rejects.toMatchObject({
      kind: 'unsupported',
      code: 'LUKS_UNSUPPORTED_KDF',
    });
  });

  test('luks2_header_requirements: readable, refuses to unlock and to write', async () => {
    const dir = tempDir();
    try {
      runOk('tar', ['-xJf', join(V, 'luks2_header_requirements.tar.xz'), '-C', dir.path]);
      const d = new MemoryDevice(new Uint8Array(readFileSync(join(dir.path, 'luks2_header_requirements'))));
      const v = await readLuks(d);
      if (v.version !== 2) throw new Error('expected LUKS2');
      expect(v.active.metadata.config.requirements).toEqual(['req0', 'req1']);
      expect(v.active.metadata.tokens.map((t) => t.type)).toEqual([
        'user_type',
        'luks2-keyring',
        'luks2-reserved',
      ]);
      await expect(unlockLuks(d, v, enc('x'))).rejects.toMatchObject({ code: 'LUKS2_UNMET_REQUIREMENT' });
      const { addToken, removeKeyslot } = await import('../src/index.js');
      await expect(addToken(d, { type: 'x', keyslots: [] })).rejects.toMatchObject({
        code: 'LUKS2_UNMET_REQUIREMENT',
      });
      await expect(removeKeyslot(d, 0, { allowLast: true })).rejects.toMatchObject({
        code: 'LUKS2_UNMET_REQUIREMENT',
      });
    } finally {
      dir.cleanup();
    }
  });

  test('luks2_invalid_cipher: the key unlocks but the capi: data cipher is a clear unsupported error', async () => {
    const d = mem('luks2_invalid_cipher.img.xz');
    const v = await readLuks(d);
    const r = await unlockLuks(d, v, enc('93R4P4pIqAH8'));
    expect(toHex(r.volumeKey)).toBe('edaa40709797973715e572bf7d86fcbb9cfe2051083c33c28d58fe4e1e7ff642');
    await expect(openLuks(d, enc('93R4P4pIqAH8'))).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringContaining('capi:'),
    });
  });

  test('valid_header_file: a detached LUKS1 header parses', async () => {
    const b = new Uint8Array(readXz(join(V, 'valid_header_file.xz')));
    const h = parseLuks1Header(b);
    expect(h.cipherName).toBe('aes');
    checkLuks1DeviceSize(h, b.length);
  });

  test.each([
    ['evil_hdr-keyslot_overlap.xz', 'LUKS1_KEYSLOT_INVALID', /keyslot 1 is invalid/],
    ['evil_hdr-luks_hdr_damage.xz', 'LUKS1_KEYSLOT_INVALID', /keyslot 2 is invalid/],
    ['evil_hdr-payload_overwrite.xz', 'LUKS1_KEYSLOT_INVALID', /keyslot 3 is invalid/],
    ['evil_hdr-stripes_payload_dmg.xz', 'LUKS1_KEYSLOT_INVALID', /keyslot 5 is invalid/],
    ['evil_hdr-small_luks_device.xz', 'LUKS1_DEVICE_TOO_SMALL', /device too small/],
  ])('%s is rejected like cryptsetup rejects it', async (name, code, re) => {
    await expect(readLuks(mem(name))).rejects.toMatchObject({
      code,
      kind: 'format',
      message: expect.stringMatching(re),
    });
  });

  test.each(['img_fs_ext4.img.xz', 'img_fs_vfat.img.xz'])(
    '%s (plain filesystem) is not LUKS',
    async (name) => {
      await expect(readLuks(mem(name))).rejects.toMatchObject({ code: 'LUKS_BAD_MAGIC' });
    },
  );
});
