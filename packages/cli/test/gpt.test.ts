import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

// Only the groups under test: a sibling group that fails to load must not hide these results.
jest.mock('../src/groups/index.js', () => ({
  groups: [require('../src/groups/gpt.js').gptGroup],
}));

/** `lsvm gpt …`: JSON shape, exit codes, and the peers' view of what the commands write. */

let tmp: { path: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('lsvm-cli-gpt-');
});
afterAll(() => tmp.cleanup());

interface ShowJson {
  sectorSize: number;
  diskGuid: string;
  firstUsableLba: number;
  lastUsableLba: number;
  entryCount: number;
  entrySize: number;
  primary: { valid: boolean; problems: { code: string; message: string }[] };
  backup: { valid: boolean; problems: { code: string; message: string }[] };
  partitions: {
    index: number;
    type: string;
    typeName: string;
    guid: string;
    firstLba: number;
    lastLba: number;
    sizeBytes: number;
    attributes: string;
    name: string;
  }[];
}

async function show(img: string, ...extra: string[]): Promise<ShowJson> {
  const r = await lsvm(['gpt', 'show', img, '--json', ...extra]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as ShowJson;
}

describe('lsvm gpt', () => {
  it('create, add, show --json, delete keep slots, verify', async () => {
    const img = join(tmp.path, 'a.img');
    expect((await lsvm(['gpt', 'create', img, '--size', '32M'])).code).toBe(0);
    expect(
      (await lsvm(['gpt', 'add', img, '--type', 'esp', '--size', '4M', '--name', 'EFI System'])).code,
    ).toBe(0);
    expect((await lsvm(['gpt', 'add', img, '--type', 'xbootldr', '--size', '4M'])).code).toBe(0);
    const add = await lsvm([
      'gpt',
      'add',
      img,
      '--type',
      'linux-root-x86-64',
      '--name',
      'root ☃',
      '--attributes',
      '0x8000000000000004',
      '--json',
    ]);
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({
      index: 3,
      attributes: '0x8000000000000004',
      name: 'root ☃',
    });
    expect((await lsvm(['gpt', 'delete', img, '2'])).code).toBe(0);
    const j = await show(img);
    expect(j).toMatchObject({
      sectorSize: 512,
      firstUsableLba: 34,
      lastUsableLba: 65502,
      entryCount: 128,
      entrySize: 128,
    });
    expect(j.diskGuid).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    expect(j.primary).toEqual({ valid: true, problems: [] });
    expect(j.partitions.map((p) => [p.index, p.type, p.typeName, p.firstLba, p.sizeBytes, p.name])).toEqual([
      [1, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'EFI System', 2048, 4 * 1024 * 1024, 'EFI System'],
      [
        3,
        '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
        'Linux root (x86-64)',
        18432,
        (65502 - 18432 + 1) * 512,
        'root ☃',
      ],
    ]);
    const human = await lsvm(['gpt', 'show', img]);
    expect(human.stdout).toContain('Linux root (x86-64)');
    expect(human.stdout).toContain('legacy-bios-bootable');
    const v = await lsvm(['gpt', 'verify', img]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/no problems found/);
  });

  it('exit codes: usage 2, bad input 3, findings 1', async () => {
    const img = join(tmp.path, 'b.img');
    await lsvm(['gpt', 'create', img, '--size', '8M']);
    const badType = await lsvm(['gpt', 'add', img, '--type', 'no-such-type']);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/GPT_UNKNOWN_TYPE/);
    expect((await lsvm(['gpt', 'add', img, '--type', 'linux', '--name', 'n'.repeat(37)])).code).toBe(2);
    expect((await lsvm(['gpt', 'delete', img, '9'])).code).toBe(2);
    expect((await lsvm(['gpt', 'create', img, '--size', '8M'])).code).toBe(2); // exists, no --force
    const blank = join(tmp.path, 'blank.img');
    writeFileSync(blank, new Uint8Array(1024 * 1024));
    const nf = await lsvm(['gpt', 'show', blank]);
    expect(nf.code).toBe(3);
    expect(nf.stderr).toMatch(/GPT_NOT_FOUND/);
    // Damage the primary header: verify lists it (exit 1), edits refuse, repair fixes it.
    const bytes = readFileSync(img);
    bytes[512 + 20] = 1; // reserved field (also breaks the CRC)
    writeFileSync(img, bytes);
    const v = await lsvm(['gpt', 'verify', img, '--json']);
    expect(v.code).toBe(1);
    const codes = (JSON.parse(v.stdout) as { findings: { code: string; location: string }[] }).findings.map(
      (f) => `${f.code}@${f.location}`,
    );
    expect(codes).toEqual(expect.arrayContaining(['GPT_HEADER_CRC@primary', 'GPT_HEADER_RESERVED@primary']));
    const refused = await lsvm(['gpt', 'add', img, '--type', 'linux']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/GPT_NEEDS_REPAIR/);
    const dry = await lsvm(['gpt', 'repair', img, '--dry-run']);
    expect(dry.stdout).toMatch(/would do/);
    expect((await lsvm(['gpt', 'verify', img])).code).toBe(1);
    const rep = await lsvm(['gpt', 'repair', img, '--json']);
    expect(rep.code).toBe(0);
    expect(JSON.parse(rep.stdout)).toMatchObject({ source: 'backup', after: [] });
    expect((await lsvm(['gpt', 'verify', img])).code).toBe(0);
  });

  it('4096-byte sectors and types', async () => {
    const img = join(tmp.path, 'c.img');
    expect((await lsvm(['gpt', 'create', img, '--size', '16M', '--sector-size', '4096'])).code).toBe(0);
    expect((await lsvm(['gpt', 'add', img, '--type', 'swap', '--size', '1M', '--start', '256'])).code).toBe(
      0,
    );
    const j = await show(img);
    expect(j.sectorSize).toBe(4096);
    expect(j.partitions[0]).toMatchObject({ firstLba: 256, lastLba: 511, sizeBytes: 1024 * 1024 });
    expect((await show(img, '--sector-size', '4096')).partitions).toHaveLength(1);
    expect((await lsvm(['gpt', 'add', img, '--type', 'linux', '--size', '1000'])).code).toBe(2); // not whole sectors
    const types = await lsvm(['gpt', 'types']);
    expect(types.stdout).toMatch(/^esp\s+C12A7328/m);
  });
});

describeWithPeers(['sgdisk', 'sfdisk'], 'lsvm gpt against sgdisk and sfdisk', () => {
  it('what the CLI writes passes sgdisk -v and reads back identically with sfdisk', async () => {
    const img = join(tmp.path, 'peer.img');
    await lsvm(['gpt', 'create', img, '--size', '64M']);
    await lsvm(['gpt', 'add', img, '--type', 'esp', '--size', '8M', '--name', 'ESP']);
    await lsvm(['gpt', 'add', img, '--type', 'linux', '--name', 'data', '--attributes', 'required']);
    const out = run('sgdisk', ['-v', img], { input: '' });
    expect(out.stdout).toMatch(/No problems found/);
    const sf = JSON.parse(runOk('sfdisk', ['--json', img])).partitiontable;
    const j = await show(img);
    expect(sf.id).toBe(j.diskGuid);
    expect(
      sf.partitions.map((p: { start: number; size: number; type: string; uuid: string; name: string }) => [
        p.start,
        p.size,
        p.type,
        p.uuid,
        p.name,
      ]),
    ).toEqual(j.partitions.map((p) => [p.firstLba, p.sizeBytes / 512, p.type, p.guid, p.name]));
  });

  it('repair of a table sgdisk made, damaged at the backup: sgdisk -v clean, partitions unchanged', async () => {
    const img = join(tmp.path, 'sg.img');
    writeFileSync(img, new Uint8Array(16 * 1024 * 1024));
    runOk('sgdisk', ['-n', '1:0:+1M', '-c', '1:one', '-n', '2:0:0', img]);
    const before = runOk('sfdisk', ['--json', img]);
    const bytes = readFileSync(img);
    bytes.fill(0, bytes.length - 512); // backup header gone
    writeFileSync(img, bytes);
    expect((await lsvm(['gpt', 'verify', img])).code).toBe(1);
    expect((await lsvm(['gpt', 'repair', img])).code).toBe(0);
    expect(run('sgdisk', ['-v', img], { input: '' }).stdout).toMatch(/No problems found/);
    expect(runOk('sfdisk', ['--json', img])).toBe(before);
  });
});
