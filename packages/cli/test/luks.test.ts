import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, readXz, run, runOk, sharedVectors, tempDir } from '@lsvm/testkit';
import { FileDevice } from '@lsvm/core';
import { reencryptJournalSize, reencryptLuks } from '@lsvm/luks2';
import { runCli } from '../src/index.js';

jest.setTimeout(120_000);

function io(stdin: Uint8Array = new Uint8Array(0)) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: {
        write: (s: string | Uint8Array) => out.push(typeof s === 'string' ? s : Buffer.from(s).toString()),
      },
      stderr: { write: (s: string) => err.push(s) },
      readStdin: async () => stdin,
      env: {},
    },
  };
}

describe('lsvm luks', () => {
  const dir = tempDir('lsvm-cli-luks-');
  afterAll(() => dir.cleanup());
  const img = join(dir.path, 'compat2.img');
  const kf = join(dir.path, 'kf');
  beforeAll(() => {
    writeFileSync(img, readXz(join(sharedVectors, 'luks', 'compatimage2.img.xz')));
    writeFileSync(kf, 'compatkey');
  });

  test('dump --json: version, uuid, keyslots, copies; no secret', async () => {
    const t = io();
    expect(await runCli(['luks', 'dump', img, '--json'], t.io)).toBe(0);
    const j = JSON.parse(t.out.join(''));
    expect(j).toMatchObject({ version: 2, uuid: expect.any(String), epoch: expect.any(String) });
    expect(j.keyslots.map((k: { id: number }) => k.id)).toEqual([0, 1]);
    expect(j.copies.primary.valid && j.copies.secondary.valid).toBe(true);
    expect(t.out.join('')).not.toContain('d47ee2cdc40f39be9a3e8d72a149cc4d');
  });

  test('open-test: 0 with the right key, 5 with a wrong one', async () => {
    expect(await runCli(['luks', 'open-test', img, '--key-file', kf], io().io)).toBe(0);
    const bad = io(new TextEncoder().encode('nope'));
    expect(await runCli(['luks', 'open-test', img, '--key-file', '-'], bad.io)).toBe(5);
    expect(bad.err.join('')).toContain('LUKS_WRONG_KEY');
  });

  test('dump-volume-key prints only the hex key (stdin key file)', async () => {
    const t = io(new TextEncoder().encode('compatkey'));
    expect(await runCli(['luks', 'dump-volume-key', img, '--key-file', '-'], t.io)).toBe(0);
    expect(t.out.join('')).toBe('d47ee2cdc40f39be9a3e8d72a149cc4d\n');
  });

  test('encrypt, add-key, remove-key, decrypt round trip', async () => {
    const plain = join(dir.path, 'plain.bin');
    const data = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
    writeFileSync(plain, data);
    const enc = join(dir.path, 'enc.img');
    const fast = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
    expect(
      await runCli(
        ['luks', 'encrypt', plain, enc, '--key-file', kf, ...fast, '--sector-size', '4096'],
        io().io,
      ),
    ).toBe(0);
    const kf2 = join(dir.path, 'kf2');
    writeFileSync(kf2, 'second');
    const add = io();
    expect(
      await runCli(
        ['luks', 'add-key', enc, '--key-file', kf, '--new-key-file', kf2, ...fast, '--json'],
        add.io,
      ),
    ).toBe(0);
    expect(JSON.parse(add.out.join(''))).toEqual({ keyslot: 1 });
    expect(await runCli(['luks', 'remove-key', enc, '--key-file', kf], io().io)).toBe(0);
    expect(await runCli(['luks', 'open-test', enc, '--key-file', kf], io().io)).toBe(5);
    const out = join(dir.path, 'out.bin');
    expect(await runCli(['luks', 'decrypt', enc, out, '--key-file', kf2], io().io)).toBe(0);
    const back = new Uint8Array(readFileSync(out));
    expect(Buffer.from(back.subarray(0, data.length)).equals(Buffer.from(data))).toBe(true);
    expect(back.subarray(data.length).every((b) => b === 0)).toBe(true);
  });

  test('add-key on a CBC volume: --unbound and --keyslot-cipher/--keyslot-key-size; bad sizes refused', async () => {
    const plain = join(dir.path, 'cbc-plain.bin');
    writeFileSync(plain, new Uint8Array(100_000).fill(7));
    const image = join(dir.path, 'cbc.img');
    const fast = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
    const cbc = ['--cipher', 'aes-cbc-essiv:sha256', '--key-size', '256'];
    expect(await runCli(['luks', 'encrypt', plain, image, '--key-file', kf, ...fast, ...cbc], io().io)).toBe(
      0,
    );
    const ku = join(dir.path, 'k-unbound');
    const kc = join(dir.path, 'k-cbc');
    writeFileSync(ku, 'unbound secret');
    writeFileSync(kc, 'cbc-plain64 area');
    const u = io();
    const addKey = ['luks', 'add-key', image, '--key-file', kf];
    expect(
      await runCli(
        [...addKey, '--new-key-file', ku, '--unbound', '--key-size', '128', ...fast, '--json'],
        u.io,
      ),
    ).toBe(0);
    expect(JSON.parse(u.out.join(''))).toEqual({ keyslot: 1, unbound: true });
    const c = io();
    const area = ['--keyslot-cipher', 'aes-cbc-plain64', '--keyslot-key-size', '192'];
    expect(await runCli([...addKey, '--new-key-file', kc, ...area, ...fast, '--json'], c.io)).toBe(0);
    expect(JSON.parse(c.out.join(''))).toEqual({ keyslot: 2 });
    const dump = io();
    expect(await runCli(['luks', 'dump', image, '--json'], dump.io)).toBe(0);
    const keyslots = JSON.parse(dump.out.join('')).keyslots as Array<Record<string, unknown>>;
    expect(JSON.stringify(keyslots[1])).toContain('aes-cbc-essiv:sha256');
    expect(JSON.stringify(keyslots[2])).toContain('aes-cbc-plain64');
    expect(await runCli(['luks', 'open-test', image, '--key-file', kc], io().io)).toBe(0);
    const bad = io();
    expect(
      await runCli(
        [
          ...addKey,
          '--new-key-file',
          kc,
          '--keyslot-cipher',
          'aes-cbc-plain64',
          '--keyslot-key-size',
          '512',
          ...fast,
        ],
        bad.io,
      ),
    ).not.toBe(0);
    expect(bad.err.join('')).toContain('LUKS2_KEYSLOT_KEY_SIZE');
    const noSize = io();
    expect(await runCli([...addKey, '--new-key-file', ku, '--unbound', ...fast], noSize.io)).not.toBe(0);
    expect(noSize.err.join('')).toContain('BAD_KEY_SIZE');
  });

  test('reencrypt: new key and passphrase, journal removed, data intact; an interrupted run resumes', async () => {
    const plain = join(dir.path, 'reenc-plain.bin');
    const data = new Uint8Array(200_000).map((_, i) => (i * 13 + 5) & 0xff);
    writeFileSync(plain, data);
    const image = join(dir.path, 'reenc.img');
    const fast = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
    expect(await runCli(['luks', 'encrypt', plain, image, '--key-file', kf, ...fast], io().io)).toBe(0);
    const vk = async (key: string): Promise<string> => {
      const t = io();
      await runCli(['luks', 'dump-volume-key', image, '--key-file', key], t.io);
      return t.out.join('');
    };
    const before = await vk(kf);
    const kf3 = join(dir.path, 'kf3');
    writeFileSync(kf3, 'after re-encryption');
    const refused = io();
    expect(
      await runCli(
        ['luks', 'reencrypt', image, '--key-file', kf3, '--chunk-size', '64K', ...fast],
        refused.io,
      ),
    ).toBe(5);
    expect(existsSync(`${image}.reencrypt-journal`)).toBe(false);
    const t = io();
    const args = [
      'luks',
      'reencrypt',
      image,
      '--key-file',
      kf,
      '--new-key-file',
      kf3,
      '--chunk-size',
      '64K',
      ...fast,
    ];
    expect(await runCli([...args, '--json'], t.io)).toBe(0);
    expect(JSON.parse(t.out.join(''))).toMatchObject({
      version: 2,
      resumed: false,
      keySizeBits: 512,
      chunksWritten: 4,
    });
    expect(existsSync(`${image}.reencrypt-journal`)).toBe(false);
    expect(await runCli(['luks', 'open-test', image, '--key-file', kf], io().io)).toBe(5);
    expect(await vk(kf3)).not.toBe(before);
    const out = join(dir.path, 'reenc-out.bin');
    expect(await runCli(['luks', 'decrypt', image, out, '--key-file', kf3], io().io)).toBe(0);
    expect(Buffer.from(readFileSync(out).subarray(0, data.length)).equals(Buffer.from(data))).toBe(true);

    // Interrupt a second run through the library (after 2 of 4 chunks), then let the CLI resume it.
    const dev = await FileDevice.open(image, { readOnly: false });
    const jpath = join(dir.path, 'custom.journal');
    const journal = await FileDevice.open(jpath, { create: true, size: reencryptJournalSize(65536) });
    const ac = new AbortController();
    let n = 0;
    await expect(
      reencryptLuks(dev, {
        key: new TextEncoder().encode('after re-encryption'),
        kdf: { type: 'pbkdf2', iterations: 1000 },
        digestIterations: 1000,
        chunkSize: 65536,
        journal,
        signal: ac.signal,
        onProgress: () => ++n === 2 && ac.abort(),
      }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    await journal.close();
    await dev.close();
    expect(await runCli(['luks', 'open-test', image, '--key-file', kf3], io().io)).not.toBe(0);
    const r = io();
    expect(
      await runCli(
        ['luks', 'reencrypt', image, '--key-file', kf3, '--journal', jpath, '--json', ...fast],
        r.io,
      ),
    ).toBe(0);
    expect(JSON.parse(r.out.join(''))).toMatchObject({ resumed: true, chunksWritten: 3 });
    expect(existsSync(jpath)).toBe(false);
    expect(await runCli(['luks', 'decrypt', image, out, '--key-file', kf3], io().io)).toBe(0);
    expect(Buffer.from(readFileSync(out).subarray(0, data.length)).equals(Buffer.from(data))).toBe(true);
  });

  test('scan finds both header copies', async () => {
    const t = io();
    expect(await runCli(['luks', 'scan', img, '--json'], t.io)).toBe(0);
    const rows = JSON.parse(t.out.join('')) as { offset: number; kind: string; valid: boolean }[];
    expect(rows.map((r) => [r.offset, r.kind, r.valid])).toEqual([
      [0, 'primary', true],
      [16384, 'secondary', true],
    ]);
  });

  test('bad input and bad options map to exit codes 3 and 2', async () => {
    const notLuks = join(dir.path, 'zeros');
    writeFileSync(notLuks, new Uint8Array(8192));
    expect(await runCli(['luks', 'dump', notLuks], io().io)).toBe(3);
    expect(await runCli(['luks', 'format', notLuks, '--key-file', kf, '--type', 'luks3'], io().io)).toBe(2);
  });
});

describeWithPeers(['sgdisk', 'cryptsetup'], 'lsvm luks --partition on a raw GPT disk', () => {
  const dir = tempDir('lsvm-cli-luks-part-');
  afterAll(() => dir.cleanup());
  test('format partition 2, open-test it, and cryptsetup agrees on the extracted partition', async () => {
    const disk = join(dir.path, 'disk.img');
    const kf = join(dir.path, 'kf');
    writeFileSync(kf, 'partition key');
    runOk('truncate', ['-s', String(48 * 1024 * 1024), disk]);
    runOk('sgdisk', ['-n', '1:2048:+4M', '-n', '2:0:+20M', disk]);
    const fast = ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
    expect(
      await runCli(['luks', 'format', disk, '--partition', '2', '--key-file', kf, ...fast], io().io),
    ).toBe(0);
    expect(await runCli(['luks', 'open-test', disk, '--partition', '2', '--key-file', kf], io().io)).toBe(0);
    expect(await runCli(['luks', 'open-test', disk, '--partition', '1', '--key-file', kf], io().io)).toBe(3);
    expect(run('sgdisk', ['-v', disk]).stdout).toMatch(/No problems found/);
    // partition 2 starts at the next 1 MiB boundary after partition 1 (sector 10240)
    const part = join(dir.path, 'p2.img');
    runOk('dd', [`if=${disk}`, `of=${part}`, 'bs=512', 'skip=10240', 'count=40960', 'status=none']);
    expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', kf, part]).status).toBe(0);
  });
});
