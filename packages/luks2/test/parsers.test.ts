import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice, isLsvmError } from '@lsvm/core';
import fc from 'fast-check';
import {
  JsonNumber,
  SectorCipher,
  afMerge,
  afSplit,
  buildLuks2HeaderCopy,
  formatLuks,
  fromJsonValue,
  luks2Identity,
  parseJson,
  parseLuks1Header,
  parseLuks2BinaryHeader,
  parseLuks2HeaderCopy,
  readLuks,
  serializeLuks1Header,
  stringifyJson,
  toJsonValue,
  unlockLuks,
  validateLuks2Metadata,
  writeLuks2Headers,
  type JsonObject,
  type Luks2Volume,
} from '../src/index.js';
import { FAST_PBKDF2, enc } from './helpers.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
jest.setTimeout(120_000);

describe('strict JSON', () => {
  test('keeps number lexemes and rejects what RFC 8259 forbids', () => {
    const v = parseJson(
      utf8('{"a":1e3,"b":32.0,"c":-0,"d":[true,false,null],"e":"x\\/y\\u00e9"}'),
    ) as JsonObject;
    expect((v.a as JsonNumber).lexeme).toBe('1e3');
    expect((v.a as JsonNumber).isInteger).toBe(false);
    expect((v.b as JsonNumber).isInteger).toBe(false);
    expect(v.e).toBe('x/yé');
    for (const bad of [
      '{"a":01}',
      '{"a":1,}',
      "{'a':1}",
      '{"a":1}{',
      '/*c*/{}',
      '{"a":1,"a":2}',
      '{"a":"\t"}',
      '\ufeff{}',
      '[1',
      '{"a":+1}',
      '{"a":.5}',
      'NaN',
    ]) {
      expect(() => parseJson(utf8(bad))).toThrow(expect.objectContaining({ kind: 'format' }));
    }
    expect(() => parseJson(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(
      expect.objectContaining({ code: 'LUKS2_JSON_UTF8' }),
    );
    expect(() => parseJson(utf8('['.repeat(100) + ']'.repeat(100)))).toThrow(
      expect.objectContaining({ code: 'LUKS2_JSON_DEPTH' }),
    );
    const proto = parseJson(utf8('{"__proto__":{"x":1}}')) as JsonObject;
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });

  test('property: stringify(parse(stringify(x))) is stable and equals JSON.stringify for integer data', () => {
    const jsonArb = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(jsonArb, (x) => {
        const text = stringifyJson(toJsonValue(x));
        expect(text).toBe(JSON.stringify(x));
        expect(stringifyJson(parseJson(utf8(text)))).toBe(text);
        expect(fromJsonValue(parseJson(utf8(text)))).toEqual(x);
      }),
      { numRuns: 300 },
    );
  });
});

describe('metadata validation differs from a JSON.parse reader where cryptsetup does', () => {
  let cached: string | undefined;
  const base = async (): // biome-ignore lint/suspicious/noExplicitAny: test edits arbitrary JSON paths
  Promise<Record<string, any>> => {
    if (cached) return JSON.parse(cached);
    const d = new MemoryDevice(2 * 1024 * 1024);
    (
      await formatLuks(d, enc('x'), { kdf: FAST_PBKDF2, digestIterations: 1000, dataOffset: 1024 * 1024 })
    ).volumeKey.fill(0);
    const v = (await readLuks(d)) as Luks2Volume;
    cached = stringifyJson(v.active.json);
    return JSON.parse(cached);
  };
  const check = (j: unknown) =>
    validateLuks2Metadata(parseJson(utf8(typeof j === 'string' ? j : JSON.stringify(j))), 16384);

  test.each([
    ['1e3 as an integer', (t: string) => t.replace('"stripes":4000', '"stripes":4e3')],
    ['32.0 as an integer', (t: string) => t.replace('"sector_size":512', '"sector_size":512.0')],
    ['stripes other than 4000', (t: string) => t.replace('"stripes":4000', '"stripes":4001')],
    ['numeric offset instead of a string', (t: string) => t.replace(/"offset":"(\d+)"/, '"offset":$1')],
    [
      'a u64 string with a sign',
      (t: string) => t.replace(/"keyslots_size":"(\d+)"/, '"keyslots_size":"+$1"'),
    ],
    ['non-canonical base64', (t: string) => t.replace(/"salt":"([^"]+)="/, '"salt":"$1"')],
    ['a keyslot key that is not a number', (t: string) => t.replace('"keyslots":{"0"', '"keyslots":{"00"')],
    [
      'a digest naming a missing keyslot',
      (t: string) => t.replace('"keyslots":["0"]', '"keyslots":["0","3"]'),
    ],
    [
      'json_size not matching hdr_size',
      (t: string) => t.replace('"json_size":"12288"', '"json_size":"4096"'),
    ],
    ['sector size 8192', (t: string) => t.replace('"sector_size":512', '"sector_size":8192')],
    [
      'a keyslot area outside the keyslots area',
      (t: string) => t.replace('"offset":"32768"', '"offset":"4096"'),
    ],
    [
      "requirements as the spec's bare array",
      (t: string) => t.replace('"keyslots_size"', '"requirements":["x"],"keyslots_size"'),
    ],
  ])('rejects %s', async (_n, edit) => {
    const text = JSON.stringify(await base());
    const bad = edit(text);
    expect(bad).not.toBe(text);
    expect(() => check(bad)).toThrow(
      expect.objectContaining({ kind: expect.stringMatching(/format|limit/) }),
    );
  });

  test('accepts requirements as cryptsetup writes them and reports the flags', async () => {
    const j = await base();
    j.config.requirements = { mandatory: ['online-reencrypt-v9'] };
    expect(check(j).config.requirements).toEqual(['online-reencrypt-v9']);
  });

  test('limits: 33 tokens is a LimitError', async () => {
    const j = await base();
    for (let i = 0; i < 33; i++) j.tokens[String(i)] = { type: 't', keyslots: [] };
    expect(() => check(j)).toThrow(expect.objectContaining({ kind: expect.stringMatching(/limit|format/) }));
  });
});

describe('binary headers', () => {
  test('property: LUKS2 header copy build → parse round trip', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16384, 32768, 65536),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.string({ maxLength: 47 }).filter((s) => !s.includes('\0') && utf8(s).length < 48),
        fc.uuid(),
        (hdrSize, seqid, label, uuid) => {
          const json =
            '{"keyslots":{},"tokens":{},"segments":{},"digests":{},"config":{"json_size":"' +
            (hdrSize - 4096) +
            '","keyslots_size":"4096"}}';
          const copy = buildLuks2HeaderCopy(
            {
              kind: 'secondary',
              hdrSize,
              seqid,
              label,
              subsystem: '',
              uuid,
              salt: new Uint8Array(64).fill(1),
              hdrOffset: hdrSize,
            },
            json,
          );
          const p = parseLuks2HeaderCopy(copy, hdrSize);
          expect(p.binary).toMatchObject({
            kind: 'secondary',
            hdrSize,
            seqid,
            label,
            uuid,
            hdrOffset: hdrSize,
          });
          expect(stringifyJson(p.json)).toBe(json);
        },
      ),
      { numRuns: 50 },
    );
  });

  test('property: LUKS1 serialize(parse(bytes)) == bytes for headers we format', async () => {
    const d = new MemoryDevice(3 * 1024 * 1024);
    (
      await formatLuks(d, enc('x'), {
        type: 'luks1',
        kdf: FAST_PBKDF2,
        digestIterations: 1000,
        keySizeBits: 256,
      })
    ).volumeKey.fill(0);
    const hdr = d.bytes.slice(0, 592);
    expect(Buffer.from(serializeLuks1Header(parseLuks1Header(hdr))).equals(Buffer.from(hdr))).toBe(true);
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 1 << 24 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (it, salt) => {
          const h = parseLuks1Header(hdr);
          h.keyslots[3] = { ...h.keyslots[3]!, active: true, iterations: it, salt };
          const b = serializeLuks1Header(h);
          expect(parseLuks1Header(b)).toEqual(h);
          expect(Buffer.from(serializeLuks1Header(parseLuks1Header(b))).equals(Buffer.from(b))).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  test('seqid of a torn or checksum-broken copy is never trusted', () => {
    const json =
      '{"keyslots":{},"tokens":{},"segments":{},"digests":{},"config":{"json_size":"12288","keyslots_size":"4096"}}';
    const copy = buildLuks2HeaderCopy(
      {
        kind: 'primary',
        hdrSize: 16384,
        seqid: 5n,
        label: '',
        subsystem: '',
        uuid: 'u',
        salt: new Uint8Array(64),
        hdrOffset: 0,
      },
      json,
    );
    copy[16] = 9; // seqid field
    expect(() => parseLuks2HeaderCopy(copy)).toThrow(
      expect.objectContaining({ code: 'LUKS2_HEADER_CHECKSUM' }),
    );
    expect(parseLuks2BinaryHeader(copy).seqid).not.toBe(5n);
  });
});

describe('AF splitter and ciphers', () => {
  test('property: afMerge(afSplit(k)) == k for every hash and key size, incl. truncated last digest block', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.constantFrom('sha1', 'sha256', 'sha512', 'ripemd160'),
        fc.integer({ min: 1, max: 50 }),
        (key, hash, stripes) => {
          expect(Array.from(afMerge(afSplit(key, stripes, hash), key.length, stripes, hash))).toEqual(
            Array.from(key),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  test('AF merge follows the spec diffuse: independent computation for 2 stripes', () => {
    const s0 = randomBytes(40);
    const s1 = randomBytes(40);
    // d1 = H(s0): pieces of 32 bytes with a big-endian counter, last piece truncated to 8 bytes
    const h = (i: number, b: Uint8Array) =>
      createHash('sha256')
        .update(Buffer.from([0, 0, 0, i]))
        .update(b)
        .digest();
    const d1 = Buffer.concat([h(0, s0.subarray(0, 32)), h(1, s0.subarray(32)).subarray(0, 8)]);
    const key = Buffer.alloc(40);
    for (let i = 0; i < 40; i++) key[i] = d1[i]! ^ s1[i]!;
    expect(Buffer.from(afMerge(Buffer.concat([s0, s1]), 40, 2, 'sha256')).equals(key)).toBe(true);
  });

  test('XTS: keys with equal halves and > 16 MiB requests work (Node refuses both natively)', () => {
    const c = new SectorCipher('aes-xts-plain64', new Uint8Array(64));
    const big = new Uint8Array(17 * 1024 * 1024).fill(3);
    const copy = big.slice();
    c.encrypt(big, 5n, 4096);
    expect(Buffer.from(big.subarray(0, 16)).equals(Buffer.from(copy.subarray(0, 16)))).toBe(false);
    c.decrypt(big, 5n, 4096);
    expect(Buffer.from(big).equals(Buffer.from(copy))).toBe(true);
  });

  test('property: each mode matches an independent per-sector computation and round trips', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          'aes-xts-plain64',
          'aes-xts-plain',
          'aes-cbc-essiv:sha256',
          'aes-cbc-plain',
          'aes-cbc-plain64',
          'aes-ecb',
        ),
        fc.bigInt({ min: 0n, max: 1n << 40n }),
        fc.constantFrom(512, 4096),
        fc.integer({ min: 1, max: 4 }),
        (spec, iv0, ss, n) => {
          const xts = spec.includes('xts');
          const key = randomBytes(xts ? 64 : 32);
          const data = randomBytes(ss * n);
          const ours = new Uint8Array(data);
          new SectorCipher(spec, key).encrypt(ours, iv0, ss);
          const ref = Buffer.alloc(data.length);
          for (let s = 0; s < n; s++) {
            const sector = iv0 + BigInt((s * ss) / 512);
            const iv = Buffer.alloc(16);
            if (spec.endsWith('plain')) iv.writeUInt32LE(Number(sector & 0xffffffffn));
            else iv.writeBigUInt64LE(sector);
            let realIv: Buffer | null = iv;
            if (spec.includes('essiv')) {
              const salt = createHash('sha256').update(key).digest();
              realIv = createCipheriv('aes-256-ecb', salt, null).setAutoPadding(false).update(iv);
            }
            const mode = spec === 'aes-ecb' ? 'aes-256-ecb' : xts ? 'aes-256-xts' : 'aes-256-cbc';
            const c = createCipheriv(mode, key, spec === 'aes-ecb' ? null : realIv).setAutoPadding(false);
            c.update(data.subarray(s * ss, (s + 1) * ss)).copy(ref, s * ss);
          }
          expect(Buffer.from(ours).equals(ref)).toBe(true);
          new SectorCipher(spec, key).decrypt(ours, iv0, ss);
          expect(Buffer.from(ours).equals(data)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('unsupported ciphers name themselves', () => {
    for (const s of [
      'twofish-xts-plain64',
      'serpent-cbc-essiv:sha256',
      'aes-lrw-benbi',
      'capi:xts(aes)-plain64',
      'aes-xts-tcw',
      'cipher_null-ecb',
    ])
      expect(() => new SectorCipher(s, new Uint8Array(64))).toThrow(
        expect.objectContaining({ code: 'LUKS_UNSUPPORTED_CIPHER', message: expect.stringContaining(s) }),
      );
  });
});

describe('limits and hostile headers', () => {
  const withKdf = async (edit: (ks: JsonObject) => void) => {
    const d = new MemoryDevice(2 * 1024 * 1024);
    (
      await formatLuks(d, enc('x'), { kdf: FAST_PBKDF2, digestIterations: 1000, dataOffset: 1024 * 1024 })
    ).volumeKey.fill(0);
    const v = (await readLuks(d)) as Luks2Volume;
    const json = parseJson(utf8(stringifyJson(v.active.json))) as JsonObject;
    edit(((json.keyslots as JsonObject)['0'] as JsonObject).kdf as JsonObject);
    const { id, nextSeqid } = luks2Identity(v);
    await writeLuks2Headers(d, id, json, nextSeqid);
    return d;
  };

  test('a 4 GiB × 2^31 Argon2 cost is refused before any work', async () => {
    const d = await withKdf((kdf) => {
      kdf.type = 'argon2id';
      delete kdf.hash;
      delete kdf.iterations;
      kdf.time = new JsonNumber('2147483647');
      kdf.memory = new JsonNumber('4194304');
      kdf.cpus = new JsonNumber('4');
    });
    // Refused before any KDF work (a real run would take years, far past jest's timeout).
    await expect(unlockLuks(d, await readLuks(d), enc('x'))).rejects.toMatchObject({
      kind: 'limit',
      code: 'LUKS_KDF_COST',
    });
  });

  test('PBKDF2 iterations over the configured cap are refused', async () => {
    const d = await withKdf((kdf) => {
      kdf.iterations = new JsonNumber('2000000000');
    });
    await expect(
      unlockLuks(d, await readLuks(d), enc('x'), { limits: { maxPbkdf2Iterations: 100000 } }),
    ).rejects.toMatchObject({ kind: 'limit' });
  });

  test('fuzz corpus replay and random mutations throw only LsvmErrors', async () => {
    const dir = join(__dirname, '..', 'fuzz');
    const targets = readdirSync(dir).filter((f) => f.endsWith('.fuzz.ts'));
    expect(targets.sort()).toEqual([
      'luks-open.fuzz.ts',
      'luks1-header.fuzz.ts',
      'luks2-header.fuzz.ts',
      'luks2-json.fuzz.ts',
      'luks2-systemd-token.fuzz.ts',
      'reencrypt-journal.fuzz.ts',
    ]);
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (const t of targets) {
      const mod = (await import(join(dir, t))) as { fuzz: (b: Buffer) => unknown };
      const name = t.replace('.fuzz.ts', '');
      const corpus = readdirSync(join(dir, 'corpus', name)).map((f) =>
        readFileSync(join(dir, 'corpus', name, f)),
      );
      const runs = name === 'luks-open' ? 20 : 300;
      for (const c of corpus) await mod.fuzz(c);
      for (let i = 0; i < runs; i++) {
        const b = Buffer.from(corpus[rnd() % corpus.length]!);
        for (let k = 0; k < 1 + (rnd() % 8); k++) b[rnd() % b.length] = rnd() & 0xff;
        try {
          await mod.fuzz(b);
        } catch (e) {
          throw new Error(`${name}: non-LsvmError ${String(e)} (isLsvmError=${isLsvmError(e)})`);
        }
      }
    }
  });
});
