import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '@lsvm/core';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import { openGpt, repairGpt } from '../src/index.js';
import { loadImage, saveImage, sfdiskJson, sgdiskClean, sgdiskVerify } from './helpers.js';

/**
 * Damage each header field and the arrays in turn (primary only, backup only, both): our findings
 * name the problem sgdisk -v names, and after repair sgdisk -v is clean and the partitions are
 * unchanged (as sfdisk --json reports them).
 */

const SS = 512;
const N = 16384; // 8 MiB disk
const P = 1;
const B = N - 1;

interface Damage {
  name: string;
  /** [lba, offset in sector, bytes, recompute the header CRC afterwards] */
  edits: [number, number, number[] | Uint8Array, boolean][];
  /** code@location our findings must include */
  ours: string[];
  /** what sgdisk -v says about it (undefined: sgdisk does not flag it) */
  sgdisk?: RegExp;
  /** repair must refuse (no intact copy) */
  unrepairable?: boolean;
}

const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};
const u64 = (v: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
};

const cases: Damage[] = [
  {
    name: 'primary signature',
    edits: [[P, 0, [0x58], false]],
    ours: ['GPT_HEADER_SIGNATURE@primary'],
    sgdisk: /Main header: ERROR/,
  },
  {
    name: 'primary header CRC',
    edits: [[P, 16, [0, 0, 0, 0], false]],
    ours: ['GPT_HEADER_CRC@primary'],
    sgdisk: /Main header: ERROR/,
  },
  {
    name: 'primary revision',
    edits: [[P, 8, u32(0x20000), true]],
    ours: ['GPT_HEADER_REVISION@primary'],
    sgdisk: /Unsupported GPT version in main header/,
  },
  {
    name: 'primary HeaderSize',
    edits: [[P, 12, u32(600), true]],
    ours: ['GPT_HEADER_SIZE@primary'],
    sgdisk: /Main header: ERROR/,
  },
  {
    name: 'primary MyLBA',
    edits: [[P, 24, u64(5), true]],
    ours: ['GPT_HEADER_MY_LBA@primary'],
    sgdisk: /main header's self-pointer/,
  },
  {
    name: 'primary AlternateLBA',
    edits: [[P, 32, u64(N - 100), true]],
    ours: ['GPT_HEADER_ALTERNATE_LBA@primary'],
    sgdisk: /secondary header's self-pointer|backup LBA pointer/,
  },
  {
    name: 'primary FirstUsableLBA',
    edits: [[P, 40, u64(10), true]],
    ours: ['GPT_ENTRY_ARRAY_LOCATION@primary', 'GPT_HEADERS_DIFFER@table'],
    sgdisk: /first usable LBA pointer/,
  },
  {
    name: 'primary LastUsableLBA',
    edits: [[P, 48, u64(N - 2), true]],
    ours: ['GPT_HEADERS_DIFFER@table'],
    sgdisk: /last usable LBA pointer/,
  },
  {
    name: 'primary DiskGUID',
    edits: [[P, 56, [0x11], true]],
    ours: ['GPT_HEADERS_DIFFER@table'],
    sgdisk: /disk GUID/,
  },
  {
    name: 'primary SizeOfPartitionEntry',
    edits: [[P, 84, u32(100), true]],
    ours: ['GPT_HEADER_ENTRY_SIZE@primary'],
    sgdisk: /Main header: ERROR|entries is 100 bytes/,
  },
  {
    name: 'primary array',
    edits: [[2, 60, [0x5a, 0x5a], false]],
    ours: ['GPT_ENTRY_ARRAY_CRC@primary'],
    sgdisk: /Main partition table: ERROR/,
  },
  {
    name: 'backup signature',
    edits: [[B, 0, [0x58], false]],
    ours: ['GPT_HEADER_SIGNATURE@backup'],
    sgdisk: /Backup header: ERROR/,
  },
  {
    name: 'backup header CRC',
    edits: [[B, 16, [0, 0, 0, 0], false]],
    ours: ['GPT_HEADER_CRC@backup'],
    sgdisk: /Backup header: ERROR/,
  },
  {
    name: 'backup MyLBA',
    edits: [[B, 24, u64(N - 5), true]],
    ours: ['GPT_HEADER_MY_LBA@backup'],
    sgdisk: /secondary header's self-pointer/,
  },
  {
    name: 'backup AlternateLBA',
    edits: [[B, 32, u64(7), true]],
    ours: ['GPT_HEADER_ALTERNATE_LBA@backup'],
    sgdisk: /alternate LBA pointer/,
  },
  {
    name: 'backup LastUsableLBA',
    edits: [[B, 48, u64(N - 40), true]],
    ours: ['GPT_HEADERS_DIFFER@table'],
    sgdisk: /last usable LBA pointer/,
  },
  {
    name: 'backup PartitionEntryLBA',
    edits: [[B, 72, u64(N - 20), true]],
    ours: ['GPT_ENTRY_ARRAY_LOCATION@backup'],
    sgdisk: /backup partition table overlaps the backup header/,
  },
  {
    name: 'backup array',
    edits: [[N - 33, 60, [0x5a, 0x5a], false]],
    ours: ['GPT_ENTRY_ARRAY_CRC@backup'],
    sgdisk: /Backup partition table: ERROR/,
  },
  {
    name: 'both arrays',
    edits: [
      [2, 60, [0x5a], false],
      [N - 33, 60, [0x5a], false],
    ],
    ours: ['GPT_ENTRY_ARRAY_CRC@primary', 'GPT_ENTRY_ARRAY_CRC@backup', 'GPT_NO_VALID_HEADER@table'],
    sgdisk: /Identified 2 problems/,
    unrepairable: true,
  },
  {
    name: 'both header CRCs',
    edits: [
      [P, 16, [0, 0, 0, 0], false],
      [B, 16, [0, 0, 0, 0], false],
    ],
    ours: ['GPT_HEADER_CRC@primary', 'GPT_HEADER_CRC@backup', 'GPT_NO_VALID_HEADER@table'],
    // sgdisk finds no usable GPT at all and would start a new one.
    sgdisk: /Creating new GPT entries/,
    unrepairable: true,
  },
  {
    name: 'protective MBR signature',
    edits: [[0, 510, [0, 0], false]],
    ours: ['GPT_MBR_MISSING@mbr'],
    sgdisk: /corrupt MBR/,
  },
  {
    name: 'protective MBR size',
    edits: [[0, 446 + 12, u32(4096), false]],
    ours: ['GPT_MBR_PROTECTIVE_SIZE@mbr'],
  },
  {
    name: 'protective MBR start',
    edits: [[0, 446 + 8, u32(2), false]],
    ours: ['GPT_MBR_PROTECTIVE_START@mbr'],
  },
];

function fixHeaderCrc(bytes: Uint8Array, lba: number): void {
  const sector = bytes.subarray(lba * SS, (lba + 1) * SS);
  const view = new DataView(sector.buffer, sector.byteOffset, SS);
  const size = Math.min(view.getUint32(12, true), SS);
  view.setUint32(16, 0, true);
  view.setUint32(16, crc32(sector.subarray(0, Math.max(size, 92))), true);
}

describeWithPeers(['sgdisk', 'sfdisk'], 'corruption: our findings, sgdisk -v, and repair', () => {
  let tmp: { path: string; cleanup: () => void };
  let pristine: string;
  beforeAll(() => {
    tmp = tempDir('lsvm-gpt-dmg-');
    pristine = join(tmp.path, 'pristine.img');
    writeFileSync(pristine, new Uint8Array(N * SS));
    runOk('sgdisk', [
      '-n',
      '1:0:+1M',
      '-t',
      '1:ef00',
      '-c',
      '1:EFI',
      '-n',
      '2:0:+2M',
      '-c',
      '2:root',
      '-n',
      '5:0:0',
      '-A',
      '5:set:60',
      pristine,
    ]);
  });
  afterAll(() => tmp.cleanup());

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dev = loadImage(pristine);
    const before = sfdiskJson(pristine).partitions;
    for (const [lba, off, bytes] of c.edits) dev.bytes.set(bytes, lba * SS + off);
    for (const [lba, , , fix] of c.edits) if (fix) fixHeaderCrc(dev.bytes, lba);
    const img = join(tmp.path, `${c.name.replace(/\W+/g, '-')}.img`);
    saveImage(img, dev);
    if (c.sgdisk) expect(sgdiskVerify(img)).toMatch(c.sgdisk);
    const d = await openGpt(dev);
    const got = d.findings.map((f) => `${f.code}@${f.location}`);
    expect(got).toEqual(expect.arrayContaining(c.ours));
    if (c.unrepairable) {
      await expect(repairGpt(dev)).rejects.toMatchObject({ code: 'GPT_NO_VALID_HEADER' });
      return;
    }
    const r = await repairGpt(dev);
    expect(r.actions.length).toBeGreaterThan(0);
    expect(r.after).toEqual([]);
    saveImage(img, dev);
    expect(sgdiskVerify(img)).toMatch(/No problems found/);
    expect(sgdiskClean(img)).toBe(true);
    expect(sfdiskJson(img).partitions).toEqual(before);
    // Repairing a repaired disk does nothing.
    expect((await repairGpt(dev)).actions).toEqual([]);
  });

  it('grown disk: backup not at the end, protective MBR too small; repair moves the backup', async () => {
    const img = join(tmp.path, 'grown.img');
    const before = sfdiskJson(pristine).partitions;
    const grown = new Uint8Array(N * SS + 1024 * 1024);
    grown.set(loadImage(pristine).bytes);
    writeFileSync(img, grown);
    expect(sgdiskVerify(img)).toMatch(/doesn't reside\s+at the end of the disk/);
    const dev = loadImage(img);
    const d = await openGpt(dev);
    expect(d.findings.map((f) => `${f.code}@${f.location}`)).toEqual(
      expect.arrayContaining(['GPT_BACKUP_NOT_AT_END@backup', 'GPT_MBR_PROTECTIVE_SIZE@mbr']),
    );
    const r = await repairGpt(dev);
    expect(r.after).toEqual([]);
    saveImage(img, dev);
    expect(sgdiskClean(img)).toBe(true);
    expect(sfdiskJson(img).partitions).toEqual(before);
    expect(sfdiskJson(img).lastlba).toBe(N + 2048 - 34);
  });
});
