import { createDecipheriv } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, toHex } from '@lsvm/core';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  addKeyslot,
  addUnboundKeyslot,
  addToken,
  formatLuks,
  openLuks,
  parseSystemdTpm2Token,
  readLuks,
  removeKeyslot,
  systemdTpm2TokenJson,
  unlockLuks,
} from '../src/index.js';
import { FAST_ARGON2, FAST_PBKDF2, cryptsetupVolumeKey, enc, makeImage } from './helpers.js';

const MiB = 1024 * 1024;
jest.setTimeout(120_000);

describeWithPeers(['cryptsetup'], 'cryptsetup interop', () => {
  const dir = tempDir('lsvm-luks-interop-');
  afterAll(() => dir.cleanup());
  const kf = join(dir.path, 'kf');
  const kf2 = join(dir.path, 'kf2');
  beforeAll(() => {
    writeFileSync(kf, 'correct horse battery staple');
    // key files are bytes, used whole: include a NUL and a newline
    writeFileSync(kf2, new Uint8Array([0x73, 0x00, 0x0a, 0xff, 0x41]));
  });
  let n = 0;
  const img = (size = 20 * MiB): string => makeImage(dir.path, `i${n++}.img`, size);

  describe('cryptsetup → us: the volume key cryptsetup dumps, from the right keyslot', () => {
    const cases: [string, string[]][] = [
      [
        'luks1 pbkdf2 sha256 512-bit',
        ['--type', 'luks1', '--pbkdf-force-iterations', '1000', '--hash', 'sha256'],
      ],
      [
        'luks1 pbkdf2 sha1 256-bit cbc-essiv',
        [
          '--type',
          'luks1',
          '--pbkdf-force-iterations',
          '1000',
          '--hash',
          'sha1',
          '--cipher',
          'aes-cbc-essiv:sha256',
          '--key-size',
          '256',
        ],
      ],
      [
        'luks2 pbkdf2 sha512 256-bit',
        [
          '--type',
          'luks2',
          '--pbkdf',
          'pbkdf2',
          '--pbkdf-force-iterations',
          '1000',
          '--hash',
          'sha512',
          '--key-size',
          '256',
        ],
      ],
      [
        'luks2 argon2i sector 4096',
        [
          '--type',
          'luks2',
          '--pbkdf',
          'argon2i',
          '--pbkdf-force-iterations',
          '4',
          '--pbkdf-memory',
          '8192',
          '--sector-size',
          '4096',
        ],
      ],
      [
        'luks2 argon2id sector 512 label',
        [
          '--type',
          'luks2',
          '--pbkdf',
          'argon2id',
          '--pbkdf-force-iterations',
          '4',
          '--pbkdf-memory',
          '8192',
          '--pbkdf-parallel',
          '2',
          '--sector-size',
          '512',
          '--label',
          'root-fs',
          '--subsystem',
          'lsvm',
        ],
      ],
      [
        'luks2 aes-cbc-plain64 256-bit',
        [
          '--type',
          'luks2',
          '--pbkdf',
          'pbkdf2',
          '--pbkdf-force-iterations',
          '1000',
          '--cipher',
          'aes-cbc-plain64',
          '--key-size',
          '256',
        ],
      ],
    ];
    test.each(cases)('%s', async (_name, args) => {
      const p = img();
      runOk('cryptsetup', ['luksFormat', '--batch-mode', ...args, p, kf]);
      // a second keyslot from another key file
      const addArgs = args.includes('luks1')
        ? ['--pbkdf-force-iterations', '1000']
        : ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
      runOk('cryptsetup', ['luksAddKey', '--batch-mode', '--key-file', kf, ...addArgs, p, kf2]);
      const expected = cryptsetupVolumeKey(p, kf);
      const d = await FileDevice.open(p);
      try {
        const v = await readLuks(d);
        const r0 = await unlockLuks(d, v, new Uint8Array(readFileSync(kf)));
        expect(toHex(r0.volumeKey)).toBe(expected);
        expect(r0.keyslot).toBe(0);
        const r1 = await unlockLuks(d, v, new Uint8Array(readFileSync(kf2)));
        expect(toHex(r1.volumeKey)).toBe(expected);
        expect(r1.keyslot).toBe(1);
        if (v.version === 2 && args.includes('--label')) {
          expect(v.active.binary.label).toBe('root-fs');
          expect(v.active.binary.subsystem).toBe('lsvm');
        }
        if (v.version === 2 && args.includes('4096'))
          expect(v.active.metadata.segments[0]!.sectorSize).toBe(4096);
      } finally {
        await d.close();
      }
    });

    test('tokens imported with cryptsetup token import are read, typed systemd-tpm2 included', async () => {
      const p = img();
      runOk('cryptsetup', [
        'luksFormat',
        '--batch-mode',
        '--type',
        'luks2',
        '--pbkdf',
        'pbkdf2',
        '--pbkdf-force-iterations',
        '1000',
        p,
        kf,
      ]);
      const tpm = systemdTpm2TokenJson({
        type: 'systemd-tpm2',
        keyslots: [0],
        blob: new Uint8Array([1, 2, 3, 4, 5]),
        pcrs: [7, 11],
        policyHash: new Uint8Array(32).fill(0xab),
        pin: false,
      });
      writeFileSync(join(dir.path, 'tok.json'), JSON.stringify(tpm));
      runOk('cryptsetup', ['token', 'import', '--json-file', join(dir.path, 'tok.json'), p]);
      writeFileSync(
        join(dir.path, 'tok2.json'),
        JSON.stringify({ type: 'lsvm-test', keyslots: [], note: 'x/y' }),
      );
      runOk('cryptsetup', [
        'token',
        'import',
        '--token-id',
        '5',
        '--json-file',
        join(dir.path, 'tok2.json'),
        p,
      ]);
      const d = await FileDevice.open(p);
      try {
        const v = await readLuks(d);
        if (v.version !== 2) throw new Error('expected LUKS2');
        const toks = v.active.metadata.tokens;
        expect(toks.map((t) => [t.id, t.type])).toEqual([
          [0, 'systemd-tpm2'],
          [5, 'lsvm-test'],
        ]);
        const t = parseSystemdTpm2Token(toks[0]!.json);
        expect(t.pcrs).toEqual([7, 11]);
        expect(toHex(t.policyHash)).toBe('ab'.repeat(32));
        expect(Array.from(t.blob)).toEqual([1, 2, 3, 4, 5]);
      } finally {
        await d.close();
      }
    });
  });

  describe('us → cryptsetup', () => {
    const formats: [string, Parameters<typeof formatLuks>[2]][] = [
      [
        'luks2 argon2id 512-bit sector 512',
        { kdf: FAST_ARGON2, digestIterations: 1000, label: 'lsvm-root', subsystem: 'sub' },
      ],
      [
        'luks2 pbkdf2 sector 4096 256-bit',
        { kdf: FAST_PBKDF2, digestIterations: 1000, sectorSize: 4096, keySizeBits: 256 },
      ],
      [
        'luks2 argon2i cbc-essiv',
        { kdf: { ...FAST_ARGON2, type: 'argon2i' }, digestIterations: 1000, cipher: 'aes-cbc-essiv:sha256' },
      ],
      ['luks1 pbkdf2 512-bit', { type: 'luks1', kdf: FAST_PBKDF2, digestIterations: 1000 }],
      [
        'luks1 pbkdf2 sha1 cbc-essiv 128-bit',
        {
          type: 'luks1',
          kdf: FAST_PBKDF2,
          digestIterations: 1000,
          hash: 'sha1',
          cipher: 'aes-cbc-essiv:sha256',
          keySizeBits: 128,
        },
      ],
    ];
    test.each(formats)(
      '%s: luksDump, open --test-passphrase and the same volume key',
      async (_name, opts) => {
        const p = img();
        const d = await FileDevice.open(p, { readOnly: false });
        let ourKey: string;
        try {
          const r = await formatLuks(d, new Uint8Array(readFileSync(kf)), opts);
          ourKey = toHex(r.volumeKey);
          expect(r.dataOffset % 4096).toBe(0);
        } finally {
          await d.close();
        }
        const dump = runOk('cryptsetup', ['luksDump', p]);
        expect(dump).toMatch(opts?.type === 'luks1' ? /Version:\s+1/ : /Version:\s+2/);
        if (opts?.label) expect(dump).toMatch(/Label:\s+lsvm-root/);
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', kf, p]).status).toBe(0);
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', kf2, p]).status).not.toBe(0);
        expect(cryptsetupVolumeKey(p, kf)).toBe(ourKey);
      },
    );

    test.each(['luks1', 'luks2'] as const)(
      '%s: keyslots we add/remove are seen by cryptsetup; keys it adds work with us',
      async (type) => {
        const p = img();
        const pass = new Uint8Array(readFileSync(kf));
        const pass2 = new Uint8Array(readFileSync(kf2));
        let d = await FileDevice.open(p, { readOnly: false });
        try {
          await formatLuks(d, pass, { type, kdf: FAST_PBKDF2, digestIterations: 1000 });
          expect(
            await addKeyslot(d, { passphrase: pass }, pass2, {
              kdf: type === 'luks1' ? FAST_PBKDF2 : FAST_ARGON2,
            }),
          ).toBe(1);
        } finally {
          await d.close();
        }
        const dump = runOk('cryptsetup', ['luksDump', p]);
        expect(dump).toMatch(type === 'luks1' ? /Key Slot 1: ENABLED/ : /\n\s+1: luks2/);
        expect(
          run('cryptsetup', ['open', '--test-passphrase', '--key-slot', '1', '--key-file', kf2, p]).status,
        ).toBe(0);
        d = await FileDevice.open(p, { readOnly: false });
        try {
          await removeKeyslot(d, 0);
        } finally {
          await d.close();
        }
        const dump2 = runOk('cryptsetup', ['luksDump', p]);
        expect(dump2).toMatch(type === 'luks1' ? /Key Slot 0: DISABLED/ : /Keyslots:\n\s+1: luks2/);
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', kf, p]).status).not.toBe(0);
        // cryptsetup adds a key to our volume; we open with it
        const kf3 = join(dir.path, `kf3-${type}`);
        writeFileSync(kf3, 'third key');
        const addArgs =
          type === 'luks1'
            ? ['--pbkdf-force-iterations', '1000']
            : ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
        runOk('cryptsetup', ['luksAddKey', '--batch-mode', '--key-file', kf2, ...addArgs, p, kf3]);
        d = await FileDevice.open(p);
        try {
          const v = await readLuks(d);
          const r = await unlockLuks(d, v, enc('third key'));
          expect(toHex(r.volumeKey)).toBe(cryptsetupVolumeKey(p, kf2));
        } finally {
          await d.close();
        }
      },
    );

    test('an unbound keyslot we add is listed as unbound and opens in cryptsetup', async () => {
      const p = img();
      const d = await FileDevice.open(p, { readOnly: false });
      try {
        (await formatLuks(d, enc('a'), { kdf: FAST_PBKDF2, digestIterations: 1000 })).volumeKey.fill(0);
        const r = await addUnboundKeyslot(d, { passphrase: enc('a') }, new Uint8Array(readFileSync(kf2)), {
          keySize: 32,
          kdf: FAST_PBKDF2,
          digestIterations: 1000,
        });
        r.key.fill(0);
      } finally {
        await d.close();
      }
      expect(runOk('cryptsetup', ['luksDump', p])).toMatch(/1: luks2 \(unbound\)/);
      expect(
        run('cryptsetup', ['open', '--test-passphrase', '--key-slot', '1', '--key-file', kf2, p]).status,
      ).toBe(0);
    });

    test('CBC keyslot areas interoperate both ways (unbound and with --keyslot-cipher)', async () => {
      const p = img();
      const pbkdf = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
      runOk('cryptsetup', [
        'luksFormat',
        '--batch-mode',
        '--type',
        'luks2',
        '--cipher',
        'aes-cbc-essiv:sha256',
        '--key-size',
        '256',
        ...pbkdf,
        p,
        kf,
      ]);
      const theirs = [join(dir.path, 'cbc-a'), join(dir.path, 'cbc-b')];
      writeFileSync(theirs[0]!, 'their unbound');
      writeFileSync(theirs[1]!, 'their cbc-plain64');
      runOk('cryptsetup', [
        'luksAddKey',
        '--batch-mode',
        '--unbound',
        '-s',
        '128',
        '--key-file',
        kf,
        ...pbkdf,
        p,
        theirs[0]!,
      ]);
      runOk('cryptsetup', [
        'luksAddKey',
        '--batch-mode',
        '--key-file',
        kf,
        ...pbkdf,
        '--keyslot-cipher',
        'aes-cbc-plain64',
        '--keyslot-key-size',
        '192',
        p,
        theirs[1]!,
      ]);
      const d = await FileDevice.open(p, { readOnly: false });
      try {
        const v = await readLuks(d);
        const a = await unlockLuks(d, v, enc('their unbound'));
        expect(a).toMatchObject({ keyslot: 1, unbound: true });
        expect(a.volumeKey.length).toBe(16);
        const b = await unlockLuks(d, v, enc('their cbc-plain64'));
        expect(b.keyslot).toBe(2);
        expect(toHex(b.volumeKey)).toBe(cryptsetupVolumeKey(p, kf));
        // Ours: the default area of an unbound key (the data cipher, as cryptsetup), and a bound
        // keyslot with an explicit 128-bit aes-cbc-plain area.
        const u = await addUnboundKeyslot(
          d,
          { passphrase: enc('correct horse battery staple') },
          enc('our unbound'),
          {
            keySize: 24,
            kdf: FAST_PBKDF2,
            digestIterations: 1000,
          },
        );
        u.key.fill(0);
        expect(u.keyslot).toBe(3);
        const s = await addKeyslot(d, { passphrase: enc('their cbc-plain64') }, enc('our cbc-plain'), {
          kdf: FAST_PBKDF2,
          encryption: 'aes-cbc-plain',
          areaKeySize: 16,
        });
        expect(s).toBe(4);
      } finally {
        await d.close();
      }
      const dump = JSON.parse(runOk('cryptsetup', ['luksDump', '--dump-json-metadata', p])) as {
        keyslots: Record<string, { area: { encryption: string; key_size: number } }>;
      };
      expect(dump.keyslots['3']!.area).toMatchObject({ encryption: 'aes-cbc-essiv:sha256', key_size: 32 });
      expect(dump.keyslots['4']!.area).toMatchObject({ encryption: 'aes-cbc-plain', key_size: 16 });
      const ours = [join(dir.path, 'cbc-c'), join(dir.path, 'cbc-d')];
      writeFileSync(ours[0]!, 'our unbound');
      writeFileSync(ours[1]!, 'our cbc-plain');
      for (const [slot, file] of [
        ['3', ours[0]!],
        ['4', ours[1]!],
      ] as const)
        expect(
          run('cryptsetup', ['open', '--test-passphrase', '--key-slot', slot, '--key-file', file, p]).status,
        ).toBe(0);
      expect(cryptsetupVolumeKey(p, ours[1]!)).toBe(cryptsetupVolumeKey(p, kf));
    });

    test('a token we add is listed by cryptsetup and exported identically', async () => {
      const p = img();
      const d = await FileDevice.open(p, { readOnly: false });
      try {
        await formatLuks(d, enc('pw'), { kdf: FAST_PBKDF2, digestIterations: 1000 });
        const id = await addToken(d, { type: 'lsvm-test', keyslots: ['0'], payload: 'a/b', n: 3 });
        expect(id).toBe(0);
      } finally {
        await d.close();
      }
      const out = runOk('cryptsetup', ['token', 'export', '--token-id', '0', p]);
      expect(JSON.parse(out)).toEqual({ type: 'lsvm-test', keyslots: ['0'], payload: 'a/b', n: 3 });
    });

    test.each([512, 4096])(
      'data written through openLuks decrypts under an independent XTS (sector %i)',
      async (sectorSize) => {
        const p = img();
        const d = await FileDevice.open(p, { readOnly: false });
        try {
          const r = await formatLuks(d, enc('pw'), { kdf: FAST_PBKDF2, digestIterations: 1000, sectorSize });
          const vol = await openLuks(d, enc('pw'));
          const plain = new Uint8Array(3 * 4096 + 8192);
          for (let i = 0; i < plain.length; i++) plain[i] = (i * 7 + (i >> 9)) & 0xff;
          await vol.write(8192, plain);
          const ct = await d.read(r.dataOffset + 8192, plain.length);
          // reference: one node:crypto XTS context per sector, IV = byte offset / 512 (plain64)
          const out = new Uint8Array(ct.length);
          for (let o = 0; o < ct.length; o += sectorSize) {
            const iv = Buffer.alloc(16);
            iv.writeBigUInt64LE(BigInt((8192 + o) / 512));
            const dec = createDecipheriv('aes-256-xts', r.volumeKey, iv);
            out.set(dec.update(ct.subarray(o, o + sectorSize)), o);
          }
          expect(Buffer.from(out).equals(Buffer.from(plain))).toBe(true);
          expect(Buffer.from(await vol.read(8192, plain.length)).equals(Buffer.from(plain))).toBe(true);
          await vol.close();
        } finally {
          await d.close();
        }
      },
    );
  });
});
