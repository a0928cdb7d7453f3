import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LsvmError, fromHex, toHex } from '@lsvm/core';
import { describeWithPeers, runBytes, tempDir } from '@lsvm/testkit';
import fc from 'fast-check';
import {
  decodeClearData,
  decryptSpecialization,
  deterministicRandom,
  encodeClearData,
  encryptSpecialization,
  packSpecialization,
  parseSpecializationHeader,
  unpackSpecialization,
} from '../src/index.js';
import { thrown } from './helpers.js';

const enc = new TextEncoder();
const key256 = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const files = [
  { name: 'unattend.xml', data: enc.encode('<unattend/>') },
  { name: 'a.txt', data: enc.encode('hello') },
];

describe('SPECIALIZATION_CLEAR_DATA', () => {
  test('the 98-byte vector, field by field', () => {
    const b = encodeClearData(files);
    expect(b.length).toBe(98);
    expect(toHex(b)).toBe(
      '62000000' +
        '02000000' +
        // entry 1: type 0, name 24 bytes at 20, payload 11 bytes at 44
        '00000000' +
        '18000000' +
        '14000000' +
        '0b000000' +
        '2c000000' +
        toHex(Buffer.from('unattend.xml', 'utf16le')) +
        toHex(enc.encode('<unattend/>')) +
        // entry 2 starts at 8 + 55 = 63: name 10 bytes at 20, payload 5 bytes at 30
        '00000000' +
        '0a000000' +
        '14000000' +
        '05000000' +
        '1e000000' +
        toHex(Buffer.from('a.txt', 'utf16le')) +
        toHex(enc.encode('hello')),
    );
    expect(decodeClearData(b)).toEqual({ length: 98, files: files.map((f) => ({ ...f, type: 0 })) });
  });

  test('round trip (property)', () => {
    const name = fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(
        fc.array(fc.record({ name, data: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 8 }),
        (fs) => {
          const b = encodeClearData(fs);
          const back = decodeClearData(b);
          expect(back.files.map((f) => ({ name: f.name, data: f.data }))).toEqual(fs);
          expect(encodeClearData(back.files)).toEqual(b);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('hostile entries are typed errors', () => {
    const b = encodeClearData(files);
    const v = new DataView(b.buffer);
    const mutate = (off: number, val: number) => {
      const c = b.slice();
      new DataView(c.buffer).setUint32(off, val, true);
      return c;
    };
    expect(thrown(() => decodeClearData(mutate(4, 0xffffffff))).code).toBe('SPEC_TOO_MANY_FILES');
    expect(thrown(() => decodeClearData(mutate(4, 3))).code).toBe('TRUNCATED');
    expect(thrown(() => decodeClearData(mutate(12, 25))).code).toBe('SPEC_ENTRY'); // odd name size
    expect(thrown(() => decodeClearData(mutate(16, 0))).code).toBe('SPEC_ENTRY'); // offset inside entry
    expect(thrown(() => decodeClearData(mutate(20, 1000))).code).toBe('SPEC_ENTRY'); // payload past end
    expect(thrown(() => decodeClearData(mutate(12 + 63, 0x7ffffffe))).code).toBe('SPEC_ENTRY');
    expect(v.getUint32(0, true)).toBe(98);
    expect(() => encodeClearData([{ name: '../etc/passwd', data: new Uint8Array() }])).toThrow(LsvmError);
    expect(() => encodeClearData([{ name: 'é', data: new Uint8Array() }])).toThrow(LsvmError);
  });
});

describe('specialization.aes', () => {
  test('mode 2 layout: header, IV, HMAC, ciphertext', () => {
    const f = packSpecialization(files, key256, { random: deterministicRandom('t') });
    const h = parseSpecializationHeader(f);
    expect(h).toEqual({
      length: 36,
      version: 1,
      mode: 2,
      ivLength: 16,
      ivOffset: 36,
      hmacLength: 32,
      hmacOffset: 52,
      cipherLength: 112,
      cipherOffset: 84,
    });
    expect(f.length).toBe(84 + 112);
    const out = unpackSpecialization(f, key256);
    expect(out.authenticated).toBe(true);
    expect(out.files.map((x) => x.name)).toEqual(['unattend.xml', 'a.txt']);
  });

  test.each([16, 24, 32])('AES-%i-byte keys round trip in both modes', (n) => {
    const key = new Uint8Array(n).map((_, i) => i * 7 + 1);
    for (const mode of [1, 2] as const) {
      const f = packSpecialization(files, key, { mode });
      expect(unpackSpecialization(f, key).files[1]!.data).toEqual(enc.encode('hello'));
    }
  });

  test('a 512-bit (aes-xts-256 × 2) key is unsupported, as in lsvmload', () => {
    expect(thrown(() => packSpecialization(files, new Uint8Array(64))).code).toBe('SPEC_KEY_SIZE');
  });

  test('every single flipped byte of a mode-2 file is a typed failure', () => {
    const f = packSpecialization(files, key256);
    for (let i = 0; i < f.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const c = f.slice();
        c[i]! ^= bit;
        const e = thrown(() => unpackSpecialization(c, key256));
        expect(e).toBeInstanceOf(LsvmError);
        expect(['verification', 'format', 'unsupported']).toContain(e.kind);
      }
    }
  });

  test('a wrong key fails the HMAC (mode 2)', () => {
    const f = packSpecialization(files, key256);
    const wrong = key256.slice();
    wrong[0]! ^= 1;
    expect(thrown(() => unpackSpecialization(f, wrong)).code).toBe('SPEC_HMAC');
  });

  test('header bounds are checked like lsvmload (and tighter)', () => {
    const f = packSpecialization(files, key256);
    const set = (off: number, v: number) => {
      const c = f.slice();
      new DataView(c.buffer).setUint32(off, v, true);
      return c;
    };
    expect(thrown(() => parseSpecializationHeader(f.subarray(0, 35))).code).toBe('TRUNCATED');
    expect(thrown(() => parseSpecializationHeader(set(4, 2))).code).toBe('SPEC_VERSION');
    expect(thrown(() => parseSpecializationHeader(set(8, 3))).code).toBe('SPEC_MODE');
    expect(thrown(() => parseSpecializationHeader(set(16, 0xfffffff0))).code).toBe('SPEC_IV');
    expect(thrown(() => parseSpecializationHeader(set(16, 8))).code).toBe('SPEC_IV');
    expect(thrown(() => parseSpecializationHeader(set(28, 113))).code).toBe('SPEC_CIPHER');
    expect(thrown(() => parseSpecializationHeader(set(32, 0xffffffff))).code).toBe('SPEC_CIPHER');
    expect(thrown(() => parseSpecializationHeader(set(24, 190))).code).toBe('SPEC_HMAC_FIELD');
  });
});

describeWithPeers(['openssl'], 'specialization.aes interop with openssl enc', () => {
  const clear = encodeClearData(files);
  const iv = fromHex('0f0e0d0c0b0a09080706050403020100');

  test('a mode-1 file whose ciphertext openssl made decrypts to our clear data', () => {
    const t = tempDir();
    try {
      const p = join(t.path, 'clear.bin');
      writeFileSync(p, clear);
      const ct = runBytes('openssl', [
        'enc',
        '-aes-256-cbc',
        '-K',
        toHex(key256),
        '-iv',
        toHex(iv),
        '-in',
        p,
      ]);
      // Wrap openssl's ciphertext in a mode-1 header by hand (not with our writer).
      const head = Buffer.alloc(52);
      for (const [i, v] of [36, 1, 1, 16, 36, 0, 0, ct.length, 52].entries()) head.writeUInt32LE(v, 4 * i);
      head.set(iv, 36);
      const file = new Uint8Array(Buffer.concat([head, ct]));
      const out = unpackSpecialization(file, key256);
      expect(out.mode).toBe(1);
      expect(out.authenticated).toBe(false);
      expect(encodeClearData(out.files)).toEqual(clear);
    } finally {
      t.cleanup();
    }
  });

  test('openssl decrypts the ciphertext of our mode-2 file', () => {
    const t = tempDir();
    try {
      const f = encryptSpecialization(clear, key256, { random: () => iv.slice() });
      const h = parseSpecializationHeader(f);
      const p = join(t.path, 'ct.bin');
      writeFileSync(p, f.subarray(h.cipherOffset, h.cipherOffset + h.cipherLength));
      const pt = runBytes('openssl', [
        'enc',
        '-d',
        '-aes-256-cbc',
        '-K',
        toHex(key256),
        '-iv',
        toHex(iv),
        '-in',
        p,
      ]);
      expect(new Uint8Array(pt)).toEqual(clear);
      expect(decryptSpecialization(f, key256).clear).toEqual(clear);
    } finally {
      t.cleanup();
    }
  });

  test('the HMAC of mode 2 matches openssl dgst over header ‖ IV ‖ ciphertext with the HKDF key', () => {
    const t = tempDir();
    try {
      const f = packSpecialization(files, key256);
      const h = parseSpecializationHeader(f);
      const macKey = runBytes('openssl', [
        'kdf',
        '-keylen',
        '32',
        '-kdfopt',
        'digest:SHA256',
        '-kdfopt',
        `hexkey:${toHex(key256)}`,
        '-kdfopt',
        'salt:',
        '-kdfopt',
        'info:lsvm specialization.aes hmac v1',
        '-binary',
        'HKDF',
      ]);
      const p = join(t.path, 'in.bin');
      writeFileSync(p, Buffer.concat([f.subarray(0, 36), f.subarray(36, 52), f.subarray(h.cipherOffset)]));
      const mac = runBytes('openssl', [
        'dgst',
        '-sha256',
        '-mac',
        'HMAC',
        '-macopt',
        `hexkey:${toHex(new Uint8Array(macKey))}`,
        '-binary',
        p,
      ]);
      expect(toHex(new Uint8Array(mac))).toBe(toHex(f.subarray(52, 84)));
    } finally {
      t.cleanup();
    }
  });

  test('the published mode-2 vector decrypts with openssl', () => {
    const f = new Uint8Array(
      readFileSync(join(__dirname, '../../../test-vectors/shielding-data/specialization-mode2.aes')),
    );
    const h = parseSpecializationHeader(f);
    const t = tempDir();
    try {
      const p = join(t.path, 'ct.bin');
      writeFileSync(p, f.subarray(h.cipherOffset));
      const pt = runBytes('openssl', [
        'enc',
        '-d',
        '-aes-256-cbc',
        '-K',
        toHex(key256),
        '-iv',
        toHex(f.subarray(36, 52)),
        '-in',
        p,
      ]);
      expect(pt.length).toBe(98);
    } finally {
      t.cleanup();
    }
  });
});
