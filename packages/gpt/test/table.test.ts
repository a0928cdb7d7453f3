import { MemoryDevice, UsageError, crc32 } from '@lsvm/core';
import fc from 'fast-check';
import {
  addPartition,
  createGpt,
  deletePartition,
  freeRanges,
  isUsedEntry,
  openGpt,
  parseMbr,
  partitionDevice,
  readGpt,
  reconcileHybridMbr,
  relocateBackup,
  repairGpt,
  resizePartition,
  serializeGpt,
  setPartition,
  writeGpt,
  type GptTable,
} from '../src/index.js';

const MiB = 1024 * 1024;

async function written(t: GptTable, size = t.diskSectors * t.sectorSize): Promise<MemoryDevice> {
  const dev = new MemoryDevice(size, { sectorSize: t.sectorSize });
  await writeGpt(dev, t);
  return dev;
}

describe('create and edit', () => {
  it('creates the canonical layout: 128 entries, array at LBA 2, backup at the end, 1 MiB alignment', () => {
    const t = createGpt({ diskSize: 64 * MiB });
    expect(t).toMatchObject({
      firstUsableLba: 34,
      lastUsableLba: 131038,
      backupHeaderLba: 131071,
      backupEntryLba: 131039,
    });
    const t4 = createGpt({ diskSize: 64 * MiB, sectorSize: 4096 });
    expect(t4).toMatchObject({
      firstUsableLba: 6,
      lastUsableLba: 16378,
      backupHeaderLba: 16383,
      backupEntryLba: 16379,
    });
    const { entry } = addPartition(t4, { type: 'esp', sizeLba: 256 });
    expect(entry.firstLba).toBe(256);
    expect(() => createGpt({ diskSize: 16 * 1024 })).toThrow(
      expect.objectContaining({ code: 'GPT_DISK_TOO_SMALL' }),
    );
  });

  it('keeps at least 16 KiB reserved for small arrays (UEFI §5.3)', () => {
    const t = createGpt({ diskSize: 8 * MiB, entryCount: 4 });
    expect(t.firstUsableLba).toBe(2 + 32);
    expect(t.backupEntryLba).toBe(t.backupHeaderLba - 1);
    expect(t.lastUsableLba).toBe(t.backupHeaderLba - 33);
  });

  it('adds in the first free slot, never renumbers on delete, and fills holes', async () => {
    let t = createGpt({ diskSize: 64 * MiB });
    for (const [type, size] of [
      ['esp', 2048],
      ['linux', 4096],
      ['swap', 2048],
    ] as const) {
      t = addPartition(t, { type, sizeLba: size }).table;
    }
    t = deletePartition(t, 2);
    expect(t.entries.filter(isUsedEntry).map((e) => e.index)).toEqual([1, 3]);
    const dev = await written(t);
    const back = await readGpt(dev);
    expect(back.table.entries.filter(isUsedEntry).map((e) => e.index)).toEqual([1, 3]);
    const r = addPartition(back.table, { type: 'home', sizeLba: 2048 });
    expect(r.entry.index).toBe(2);
    expect(r.entry.firstLba).toBe(4096); // the hole left by slot 2, aligned
    expect(() => deletePartition(t, 2)).toThrow(expect.objectContaining({ code: 'GPT_NO_SUCH_PARTITION' }));
  });

  it('rest-of-disk, explicit start, resize and set', () => {
    let t = createGpt({ diskSize: 16 * MiB });
    t = addPartition(t, {
      type: 'esp',
      firstLba: 40,
      sizeLba: 100,
      name: 'boot',
      attributes: 4n,
      index: 7,
    }).table;
    expect(t.entries[6]).toMatchObject({ firstLba: 40, lastLba: 139, name: 'boot', attributes: 4n });
    const rest = addPartition(t, { type: 'linux' });
    expect(rest.entry).toMatchObject({ index: 1, firstLba: 2048, lastLba: t.lastUsableLba });
    expect(() => addPartition(rest.table, { type: 'linux', sizeLba: 10 })).toThrow(
      expect.objectContaining({ code: 'GPT_NO_SPACE' }),
    );
    expect(() => addPartition(t, { type: 'linux', firstLba: 100 })).toThrow(
      expect.objectContaining({ code: 'GPT_NO_SPACE' }),
    );
    expect(() => addPartition(t, { type: 'linux', index: 7 })).toThrow(
      expect.objectContaining({ code: 'GPT_SLOT_IN_USE' }),
    );
    t = resizePartition(t, 7, 'rest');
    expect(t.entries[6]!.lastLba).toBe(t.lastUsableLba);
    t = resizePartition(t, 7, 8);
    expect(t.entries[6]!.lastLba).toBe(47);
    t = setPartition(t, 7, { type: 'xbootldr', name: 'x'.repeat(36), attributes: 1n << 63n });
    expect(t.entries[6]).toMatchObject({
      typeGuid: 'bc13c2ff-59e6-4262-a352-b275fd6f7172',
      name: 'x'.repeat(36),
    });
    expect(() => setPartition(t, 7, { name: 'x'.repeat(37) })).toThrow(UsageError);
  });

  it('edit sequences keep the table valid and round-trip through a device (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('add' as const),
              size: fc.integer({ min: 1, max: 6000 }),
              align: fc.constantFrom(1, 8, 2048),
            }),
            fc.record({ op: fc.constant('del' as const), slot: fc.integer({ min: 1, max: 16 }) }),
          ),
          { maxLength: 20 },
        ),
        async (ops) => {
          let t = createGpt({ diskSize: 8 * MiB, entryCount: 16, entrySize: 256 });
          for (const o of ops) {
            try {
              if (o.op === 'add')
                t = addPartition(t, {
                  type: 'linux',
                  sizeLba: o.size,
                  alignment: o.align,
                  name: `p${o.size}`,
                }).table;
              else t = deletePartition(t, o.slot);
            } catch (e) {
              expect(e).toBeInstanceOf(UsageError);
            }
          }
          const dev = await written(t);
          const d = await openGpt(dev);
          expect(d.findings.filter((f) => f.code !== 'GPT_ENTRY_ARRAY_SMALL')).toEqual([]);
          expect(d.table!.entries).toEqual(t.entries);
          // serialize(parse(bytes)) === bytes
          const again = await written(d.table!);
          expect(Buffer.compare(again.bytes, dev.bytes)).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('open and validate', () => {
  it('probes the sector size from either copy', async () => {
    const t = addPartition(createGpt({ diskSize: 8 * MiB, sectorSize: 4096 }), { type: 'linux' }).table;
    const dev = await written(t);
    const plain = new MemoryDevice(dev.bytes); // reports 512-byte sectors
    expect((await openGpt(plain)).sectorSize).toBe(4096);
    dev.bytes.fill(0, 4096, 8192); // primary gone: probing falls back to the backup
    const d = await openGpt(new MemoryDevice(dev.bytes));
    expect(d).toMatchObject({ sectorSize: 4096, sectorSizeSource: 'backup', source: 'backup' });
  });

  it('reports plain MBR and blank disks instead of misreading them', async () => {
    const dev = new MemoryDevice(MiB);
    await expect(openGpt(dev)).rejects.toMatchObject({ code: 'GPT_NOT_FOUND' });
    dev.bytes.set([0, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x08, 0, 0], 446);
    dev.bytes.set([0x55, 0xaa], 510);
    await expect(openGpt(dev)).rejects.toThrow(/plain MBR disk/);
  });

  it('lists entries outside the usable range, overlapping and ending before they start', async () => {
    const t = createGpt({ diskSize: 8 * MiB });
    const entries = t.entries.slice();
    const base = { ...t.entries[0]!, typeGuid: '0fc63daf-8483-4772-8e79-3d69d8477de4', name: '' };
    entries[0] = {
      ...base,
      index: 1,
      uniqueGuid: 'aaaaaaaa-0000-4000-8000-000000000001',
      firstLba: 2048,
      lastLba: 4095,
    };
    entries[1] = {
      ...base,
      index: 2,
      uniqueGuid: 'aaaaaaaa-0000-4000-8000-000000000002',
      firstLba: 4000,
      lastLba: 5000,
    };
    entries[2] = {
      ...base,
      index: 3,
      uniqueGuid: 'aaaaaaaa-0000-4000-8000-000000000003',
      firstLba: 9000,
      lastLba: 8999,
    };
    entries[3] = {
      ...base,
      index: 4,
      uniqueGuid: 'aaaaaaaa-0000-4000-8000-000000000003',
      firstLba: 10,
      lastLba: 20,
    };
    const bad = { ...t, entries };
    expect(() => serializeGpt(bad)).toThrow(expect.objectContaining({ code: 'GPT_INVALID_TABLE' }));
    const dev = new MemoryDevice(8 * MiB);
    await writeGpt(dev, bad, { unchecked: true });
    const codes = (await openGpt(dev)).findings.map((f) => [f.code, f.partitions]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['GPT_ENTRY_OVERLAP', [1, 2]],
        ['GPT_ENTRY_END_BEFORE_START', [3]],
        ['GPT_ENTRY_OUTSIDE_USABLE', [4]],
        ['GPT_ENTRY_DUPLICATE_GUID', [3, 4]],
      ]),
    );
  });

  it('a grown disk: backup not at the end, then repair relocates it', async () => {
    const t = addPartition(createGpt({ diskSize: 8 * MiB }), { type: 'linux', sizeLba: 4096 }).table;
    const small = await written(t);
    const grown = new MemoryDevice(16 * MiB);
    grown.bytes.set(small.bytes);
    const d = await openGpt(grown);
    expect(d.findings.map((f) => f.code)).toEqual(['GPT_MBR_PROTECTIVE_SIZE', 'GPT_BACKUP_NOT_AT_END']);
    const r = await repairGpt(grown);
    expect(r.actions.join('\n')).toMatch(/moved the backup header/);
    expect(r.actions).toContain(`wiped the old backup header at LBA ${8 * 2048 - 1}`);
    expect(grown.bytes.subarray((8 * 2048 - 1) * 512, 8 * 2048 * 512).every((b) => b === 0)).toBe(true);
    expect(r.after).toEqual([]);
    const after = await readGpt(grown);
    expect(after.table.lastUsableLba).toBe(16 * 2048 - 34);
    expect(after.table.entries).toEqual(t.entries);
    expect(() => relocateBackup(t, 4000)).toThrow(expect.objectContaining({ code: 'GPT_DISK_TOO_SMALL' }));
  });

  it('partitionDevice slices exactly the partition', async () => {
    let t = createGpt({ diskSize: 8 * MiB, sectorSize: 4096 });
    t = addPartition(t, { type: 'esp', sizeLba: 256 }).table;
    t = addPartition(t, { type: 'linux', sizeLba: 256 }).table;
    const dev = await written(t);
    const p2 = await partitionDevice(dev, 2);
    expect(p2).toMatchObject({ size: 256 * 4096, sectorSize: 4096, start: 512 * 4096 });
    await p2.write(0, new Uint8Array([1, 2, 3]));
    expect([...dev.bytes.subarray(512 * 4096, 512 * 4096 + 3)]).toEqual([1, 2, 3]);
    await expect(p2.read(p2.size - 1, 2)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(partitionDevice(dev, 3)).rejects.toMatchObject({ code: 'GPT_NO_SUCH_PARTITION' });
  });

  it('writes crash-safely: after every single write one copy is intact', async () => {
    let t = createGpt({ diskSize: 8 * MiB });
    t = addPartition(t, { type: 'esp', sizeLba: 2048 }).table;
    const base = await written(t);
    const next = addPartition(t, { type: 'linux', sizeLba: 2048, name: 'new' }).table;
    for (let stopAfter = 0; stopAfter < 5; stopAfter++) {
      const dev = new MemoryDevice(base.bytes.slice());
      let n = 0;
      const real = dev.write.bind(dev);
      dev.write = async (off: number, data: Uint8Array) => {
        if (n++ === stopAfter) throw new Error('power cut');
        return real(off, data);
      };
      await expect(writeGpt(dev, next)).rejects.toThrow('power cut');
      const d = await readGpt(new MemoryDevice(dev.bytes));
      const used = d.table.entries.filter(isUsedEntry).length;
      expect([1, 2]).toContain(used);
    }
  });

  it('never depends on a 16 KiB minimum for the array CRC', async () => {
    const t = createGpt({ diskSize: 8 * MiB, entryCount: 4 });
    const dev = await written(addPartition(t, { type: 'linux', sizeLba: 100 }).table);
    const header = dev.bytes.subarray(512, 1024);
    const stored = new DataView(header.buffer, header.byteOffset).getUint32(88, true);
    expect(stored).toBe(crc32(dev.bytes.subarray(1024, 1024 + 4 * 128)));
    expect(freeRanges(t)).toEqual([{ firstLba: 34, lastLba: t.lastUsableLba }]);
  });

  it('keeps a hybrid MBR on edits and repairs; replaces a plain MBR only when forced', async () => {
    let t = addPartition(createGpt({ diskSize: 8 * MiB }), { type: 'msft-basic', sizeLba: 4096 }).table;
    const dev = await written(t);
    // A hybrid record mirroring partition 1 (FAT32 LBA) beside the 0xEE one.
    dev.bytes.set([0x80, 0, 0, 0, 0x0c, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x10, 0, 0], 446 + 16);
    const mbrBefore = dev.bytes.slice(0, 512);
    const d = await readGpt(dev);
    expect(d.findings.map((f) => `${f.code}:${f.severity}`)).toEqual(['GPT_MBR_HYBRID:info']);
    t = addPartition(d.table, { type: 'linux', sizeLba: 2048 }).table;
    await writeGpt(dev, t, { mbr: d.mbr });
    expect(dev.bytes.subarray(0, 512)).toEqual(mbrBefore);
    expect((await repairGpt(dev)).actions).toEqual([]);
    // A stale hybrid record (size 1000 for a 4096-sector partition): repair says it fixes it.
    new DataView(dev.bytes.buffer).setUint32(446 + 16 + 12, 1000, true);
    expect((await repairGpt(dev)).actions).toEqual(['resized hybrid MBR record 2 (type 0xc)']);
    expect(new DataView(dev.bytes.buffer).getUint32(446 + 16 + 12, true)).toBe(4096);
    expect((await repairGpt(dev)).actions).toEqual([]);
    // Plain MBR (no 0xEE) over a GPT: reported; repair leaves it unless forced.
    dev.bytes.fill(0, 446, 462);
    const plain = await openGpt(dev);
    expect(plain.findings.map((f) => f.code)).toEqual(['GPT_MBR_NOT_PROTECTIVE']);
    expect((await repairGpt(dev)).actions).toEqual([]);
    const forced = await repairGpt(dev, { forceProtectiveMbr: true });
    expect(forced.actions).toEqual(['replaced the plain MBR by a protective MBR']);
    expect(forced.after).toEqual([]);
  });

  it('reconciles hybrid MBR records with the table: resized, removed, 0xEE clamped, > 2^32 dropped', () => {
    const t = addPartition(
      addPartition(createGpt({ diskSize: 8 * MiB }), { type: 'msft-basic', sizeLba: 4096 }).table,
      { type: 'linux', sizeLba: 2048 },
    ).table;
    const [p1, p2] = [t.entries[0]!, t.entries[1]!];
    const bytes = serializeGpt(t).mbr.slice(0, 512);
    const v = new DataView(bytes.buffer);
    const record = (slot: number, type: number, start: number, size: number): void => {
      bytes[446 + slot * 16 + 4] = type;
      v.setUint32(446 + slot * 16 + 8, start, true);
      v.setUint32(446 + slot * 16 + 12, size, true);
    };
    record(0, 0xee, 1, 0xffffffff); // claims far more than the disk
    record(1, 0x0c, p1.firstLba, 1000); // stale size
    record(2, 0x83, p2.firstLba, p2.lastLba - p2.firstLba + 1); // exact
    record(3, 0x07, 999_999, 10); // no partition starts there
    const { mbr, changes } = reconcileHybridMbr(parseMbr(bytes), t);
    expect(changes.map((c) => `${c.slot}:${c.action}`)).toEqual(['0:clamped', '1:resized', '3:removed']);
    expect(mbr.records.map((r) => [r.osType, r.startingLba, r.sizeInLba])).toEqual([
      [0xee, 1, t.diskSectors - 1],
      [0x0c, p1.firstLba, 4096],
      [0x83, p2.firstLba, 2048],
      [0, 0, 0],
    ]);
    // A partition grown past what 32-bit MBR fields can hold loses its MBR copy.
    const huge = {
      ...t,
      entries: t.entries.map((e, i) => (i === 0 ? { ...e, lastLba: e.firstLba + 2 ** 32 } : e)),
    };
    expect(reconcileHybridMbr(parseMbr(bytes), huge).changes.map((c) => `${c.slot}:${c.action}`)).toContain(
      '1:removed',
    );
  });
});
