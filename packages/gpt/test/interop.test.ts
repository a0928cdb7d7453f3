import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, MemoryDevice } from '@lsvm/core';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import {
  addPartition,
  createGpt,
  deletePartition,
  openGpt,
  readGpt,
  resizePartition,
  setPartition,
  writeGpt,
  type GptTable,
} from '../src/index.js';
import {
  asSfdisk,
  loadImage,
  saveImage,
  sfdiskJson,
  sgdiskClean,
  sgdiskVerify,
  withLoop,
} from './helpers.js';

/**
 * Interop both ways (DESIGN.md rule 4): tables made by sgdisk and sfdisk read exactly as
 * `sfdisk --json` reports them; tables we write pass `sgdisk -v` and read back identically.
 */

const MiB = 1024 * 1024;
let tmp: { path: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('lsvm-gpt-');
});
afterAll(() => tmp.cleanup());

function blank(name: string, size: number): string {
  const p = join(tmp.path, name);
  writeFileSync(p, '');
  runOk('truncate', ['-s', String(size), p]);
  return p;
}

async function expectSameAsSfdisk(path: string, sfdiskPath = path): Promise<GptTable> {
  const dev = await FileDevice.open(path);
  try {
    const d = await readGpt(dev);
    const sf = sfdiskJson(sfdiskPath);
    expect(d.sectorSize).toBe(sf.sectorsize);
    expect(d.table.diskGuid.toUpperCase()).toBe(sf.id);
    expect([d.table.firstUsableLba, d.table.lastUsableLba]).toEqual([sf.firstlba, sf.lastlba]);
    expect(asSfdisk(d.table)).toEqual(sf.partitions);
    return d.table;
  } finally {
    await dev.close();
  }
}

describeWithPeers(['sgdisk', 'sfdisk'], 'tables made by sgdisk and sfdisk', () => {
  it('sgdisk: 30 partitions, names up to 36 code units, types and attributes', async () => {
    const img = blank('sg-many.img', 16 * MiB);
    const names = [
      '',
      'a',
      'EFI system partition',
      'x'.repeat(36),
      'Ünïcødé ☃ name',
      '𝄞'.repeat(18),
      'root (x86-64) 0123456789 abcdefgh',
    ];
    const codes = ['ef00', '8300', '8304', '8200', '0700', 'ea00', '8309', 'fd00', '8e00', '2700'];
    const args: string[] = [];
    for (let i = 1; i <= 30; i++) {
      args.push('-n', `${i}:0:+256K`, '-t', `${i}:${codes[i % codes.length]}`);
      const name = names[i % names.length]!;
      if (name) args.push('-c', `${i}:${name}`);
      if (i % 3 === 0) args.push('-A', `${i}:set:2`);
      if (i % 4 === 0) args.push('-A', `${i}:set:63`, '-A', `${i}:set:0`);
    }
    runOk('sgdisk', [...args, img]);
    const t = await expectSameAsSfdisk(img);
    expect(t.entries.filter((e) => e.name === '𝄞'.repeat(18))).toHaveLength(4);
    const d = await openGpt(loadImage(img));
    expect(d.findings).toEqual([]);
  });

  it('sgdisk -S 4: a 4-entry array (less than 16 KiB reserved) and sparse slots in 248 entries', async () => {
    const small = blank('sg-s4.img', 8 * MiB);
    runOk('sgdisk', ['-S', '4', '-n', '1:0:+1M', '-n', '4:0:+1M', '-c', '4:last slot', small]);
    expect(sgdiskVerify(small)).toMatch(/less than the minimum/);
    const t = await expectSameAsSfdisk(small);
    expect(t.entries).toHaveLength(4);
    expect(t.firstUsableLba).toBe(3);
    const d = await openGpt(loadImage(small));
    expect(d.findings.map((f) => `${f.code}@${f.location}`)).toEqual([
      'GPT_ENTRY_ARRAY_SMALL@primary',
      'GPT_ENTRY_ARRAY_SMALL@backup',
    ]);
    const sparse = blank('sg-248.img', 8 * MiB);
    runOk('sgdisk', ['-S', '248', '-n', '7:0:+1M', '-n', '200:0:+1M', '-n', '248:0:0', sparse]);
    const t2 = await expectSameAsSfdisk(sparse);
    expect(
      t2.entries.filter((e) => e.typeGuid !== '00000000-0000-0000-0000-000000000000').map((e) => e.index),
    ).toEqual([7, 200, 248]);
  });

  it('sfdisk script: label-id, first-lba, names, attributes, explicit uuids', async () => {
    const img = blank('sf.img', 32 * MiB);
    const script = [
      'label: gpt',
      'label-id: 01234567-89AB-CDEF-0123-456789ABCDEF',
      'first-lba: 2048',
      'table-length: 56',
      'start=2048, size=4096, type=U, name="EFI", uuid=11111111-2222-3333-4444-555555555555',
      'size=8192, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root x86-64", attrs="RequiredPartition GUID:59,63"',
      'size=2048, type=S',
      'type=L, name="rest of the disk ĳ"',
    ].join('\n');
    runOk('sfdisk', ['-q', img], { input: `${script}\n` });
    const t = await expectSameAsSfdisk(img);
    expect(t.entries).toHaveLength(56);
    expect(t.firstUsableLba).toBe(2048);
  });

  it('sfdisk script with sector-size: 4096 (on a 4 KiB loop device), read from the file by probing', async () => {
    const img = blank('sf4k.img', 32 * MiB);
    const script =
      'label: gpt\nsector-size: 4096\n,1M,U\nsize=2M, type=L, name="x y", attrs="LegacyBIOSBootable"\n,,S\n';
    withLoop(img, 4096, (dev) => {
      runOk('sfdisk', ['-q', dev], { input: script });
    });
    const dev = await FileDevice.open(img); // reports 512: the 4096 must come from probing
    const d = await readGpt(dev);
    await dev.close();
    expect(d.sectorSize).toBe(4096);
    expect(d.findings).toEqual([]);
    withLoop(img, 4096, (loop) => {
      const sf = sfdiskJson(loop);
      expect(sf.sectorsize).toBe(4096);
      expect(asSfdisk(d.table)).toEqual(sf.partitions);
    });
  });

  it('sgdisk on a 4 KiB loop device: read from the file by probing, as sfdisk reports it', async () => {
    const img = blank('sg4k.img', 32 * MiB);
    withLoop(img, 4096, (loop) => {
      runOk('sgdisk', [
        '-n',
        '1:0:+4M',
        '-t',
        '1:ef00',
        '-c',
        '1:ESP',
        '-n',
        '2:0:0',
        '-t',
        '2:8304',
        '-c',
        '2:root',
        loop,
      ]);
    });
    const dev = await FileDevice.open(img);
    const d = await readGpt(dev);
    await dev.close();
    expect(d).toMatchObject({ sectorSize: 4096, findings: [] });
    withLoop(img, 4096, (loop) => {
      const sf = sfdiskJson(loop);
      expect(d.table.diskGuid.toUpperCase()).toBe(sf.id);
      expect([d.table.firstUsableLba, d.table.lastUsableLba]).toEqual([sf.firstlba, sf.lastlba]);
      expect(asSfdisk(d.table)).toEqual(sf.partitions);
    });
  });
});

describeWithPeers(['sgdisk', 'sfdisk'], 'tables written by lsvm', () => {
  function sample(sectorSize: number, entryCount = 128, entrySize = 128): GptTable {
    let t = createGpt({ diskSize: 64 * MiB, sectorSize, entryCount, entrySize });
    t = addPartition(t, {
      type: 'esp',
      sizeLba: (8 * MiB) / sectorSize,
      name: 'EFI System Partition',
      attributes: 1n,
    }).table;
    t = addPartition(t, {
      type: 'xbootldr',
      sizeLba: (8 * MiB) / sectorSize,
      name: 'Linux extended boot',
    }).table;
    t = addPartition(t, { type: 'swap', sizeLba: (4 * MiB) / sectorSize, index: 5 }).table;
    t = addPartition(t, {
      type: 'linux-root-x86-64',
      name: 'root ☃ 𝄞 0123456789012345678901',
      attributes: (1n << 59n) | 4n,
    }).table;
    return t;
  }

  it('512-byte sectors: sgdisk -v finds no problem and sfdisk reads it back identically', async () => {
    const t = sample(512);
    const dev = new MemoryDevice(64 * MiB);
    await writeGpt(dev, t);
    const img = join(tmp.path, 'ours512.img');
    saveImage(img, dev);
    expect(sgdiskVerify(img)).toMatch(/No problems found/);
    expect(sgdiskClean(img)).toBe(true);
    const sf = sfdiskJson(img);
    expect(sf.id).toBe(t.diskGuid.toUpperCase());
    expect([sf.firstlba, sf.lastlba]).toEqual([t.firstUsableLba, t.lastUsableLba]);
    expect(sf.partitions).toEqual(asSfdisk(t));
    // The protective MBR is byte-identical to the one sgdisk writes for the same disk.
    const theirs = blank('sg-mbr.img', 64 * MiB);
    runOk('sgdisk', ['-o', theirs]);
    expect(Buffer.compare(loadImage(theirs).bytes.subarray(0, 512), dev.bytes.subarray(0, 512))).toBe(0);
  });

  it('4096-byte sectors: clean under sgdisk -v and sfdisk on a 4 KiB loop device', async () => {
    const t = sample(4096);
    const img = blank('ours4k.img', 64 * MiB);
    const dev = await FileDevice.open(img, { readOnly: false, sectorSize: 4096 });
    await writeGpt(dev, t);
    await dev.close();
    withLoop(img, 4096, (loop) => {
      expect(sgdiskClean(loop)).toBe(true);
      const sf = sfdiskJson(loop);
      expect(sf.sectorsize).toBe(4096);
      expect(sf.partitions).toEqual(asSfdisk(t));
    });
  });

  it('56 entries of 256 bytes: sfdisk reads it (sgdisk only supports 128-byte entries)', async () => {
    const t = sample(512, 56, 256);
    const dev = new MemoryDevice(64 * MiB);
    await writeGpt(dev, t);
    const img = join(tmp.path, 'ours256.img');
    saveImage(img, dev);
    expect(sfdiskJson(img).partitions).toEqual(asSfdisk(t));
  });

  it('PartitionEntryLBA other than 2 and HeaderSize above 92 are read, kept and accepted by the peers', async () => {
    const base = sample(512);
    // Array at LBA 10 (a gap after the header, as some firmware tools leave), usable from 42.
    const t: GptTable = { ...base, primaryEntryLba: 10, firstUsableLba: 42, headerExtra: new Uint8Array(28) };
    const dev = new MemoryDevice(64 * MiB);
    await writeGpt(dev, t);
    expect(new DataView(dev.bytes.buffer).getUint32(512 + 12, true)).toBe(120);
    const img = join(tmp.path, 'lba10.img');
    saveImage(img, dev);
    const out = sgdiskVerify(img);
    expect(out).toMatch(/No problems found/);
    expect(out).not.toMatch(/Problem:/);
    expect(sfdiskJson(img).partitions).toEqual(asSfdisk(t));
    const d = await readGpt(loadImage(img));
    expect(d.findings).toEqual([]);
    expect(d.table).toMatchObject({ primaryEntryLba: 10, firstUsableLba: 42 });
    expect(d.table.headerExtra).toHaveLength(28);
    // A rewrite keeps both.
    const dev2 = loadImage(img);
    await writeGpt(dev2, setPartition(d.table, 5, { name: 'renamed swap' }));
    const d2 = await readGpt(dev2);
    expect(d2.table).toMatchObject({ primaryEntryLba: 10, firstUsableLba: 42 });
    expect(d2.primary.header!.headerSize).toBe(120);
  });

  it('edits made by sgdisk afterwards keep our table readable, and ours keep theirs', async () => {
    const t = sample(512);
    const dev = new MemoryDevice(64 * MiB);
    await writeGpt(dev, t);
    const img = join(tmp.path, 'edit.img');
    saveImage(img, dev);
    // sgdisk applies -n before -d within one run, hence two runs.
    runOk('sgdisk', ['-d', '2', img]);
    runOk('sgdisk', ['-n', '4:0:+1M', '-c', '4:by sgdisk', img]);
    const after = await expectSameAsSfdisk(img);
    const next = addPartition(after, { type: 'home', sizeLba: 2048, name: 'by lsvm' }).table;
    const dev2 = loadImage(img);
    await writeGpt(dev2, next);
    saveImage(img, dev2);
    expect(sgdiskClean(img)).toBe(true);
    expect(sfdiskJson(img).partitions).toEqual(asSfdisk(next));
  });
  it('a hybrid MBR made by sgdisk -h follows our resize and delete, as sgdisk -O shows', async () => {
    const img = blank('hybrid.img', 16 * MiB);
    runOk('sgdisk', [
      '-n',
      '1:2048:+2M',
      '-t',
      '1:0700',
      '-n',
      '2:0:+4M',
      '-t',
      '2:8300',
      '-n',
      '3:0:+1M',
      img,
    ]);
    runOk('sgdisk', ['-h', '1:2', img]);
    const mbrRows = (): string[] =>
      runOk('sgdisk', ['-O', img])
        .split('\n')
        .filter((l) => /^\s+\d+\s/.test(l))
        .map((l) => l.trim().split(/\s+/).slice(1).join(' '));
    expect(mbrRows()).toEqual(['1 2047 primary 0xEE', '2048 6143 primary 0x07', '6144 14335 primary 0x83']);
    const edit = async (fn: (t: GptTable) => GptTable): Promise<void> => {
      const dev = loadImage(img);
      const d = await readGpt(dev);
      expect(d.mbr.kind).toBe('hybrid');
      await writeGpt(dev, fn(d.table), { mbr: d.mbr });
      saveImage(img, dev);
    };
    // Partition 2 shrinks to 2 MiB: its MBR copy must end where it now ends, or a legacy OS would
    // write past it into partition 3's former space.
    await edit((t) => resizePartition(t, 2, 4096));
    expect(mbrRows()).toEqual(['1 2047 primary 0xEE', '2048 6143 primary 0x07', '6144 10239 primary 0x83']);
    await edit((t) => deletePartition(t, 1));
    expect(mbrRows()).toEqual(['1 2047 primary 0xEE', '6144 10239 primary 0x83']);
    expect(sgdiskClean(img)).toBe(true);
  });
});
