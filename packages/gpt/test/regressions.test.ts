import { MemoryDevice, UsageError, crc32 } from '@lsvm/core';
import {
  addPartition,
  createGpt,
  deletePartition,
  isUsedEntry,
  openGpt,
  readGpt,
  repairGpt,
  serializeEntryArray,
  setPartition,
  writeGpt,
  type GptTable,
} from '../src/index.js';

/**
 * Regression tests for the defects documented in the npm package `gpt` 3.0.0 (the most used JS
 * GPT library), which this package must not share. Each test names the defect it guards against.
 */

const MiB = 1024 * 1024;

async function onDisk(t: GptTable): Promise<MemoryDevice> {
  const dev = new MemoryDevice(t.diskSectors * t.sectorSize, { sectorSize: t.sectorSize });
  await writeGpt(dev, t);
  return dev;
}

describe('defects of npm gpt@3.0.0 that we must not share', () => {
  it('array CRC over exactly count × size bytes, not max(count × size, 16 KiB)', async () => {
    let t = createGpt({ diskSize: 4 * MiB, entryCount: 4 });
    t = addPartition(t, { type: 'linux', sizeLba: 64 }).table;
    const dev = await onDisk(t);
    const stored = new DataView(dev.bytes.buffer).getUint32(512 + 88, true);
    expect(stored).toBe(crc32(dev.bytes.subarray(1024, 1024 + 4 * 128)));
    expect(stored).not.toBe(crc32(dev.bytes.subarray(1024, 1024 + 16384)));
    // And a table whose sector padding after the 4 entries holds junk still verifies.
    dev.bytes.fill(0xab, 1024 + 512, 1024 + 16384);
    expect((await openGpt(dev)).findings.filter((f) => f.code === 'GPT_ENTRY_ARRAY_CRC')).toEqual([]);
  });

  it('tables with empty slots between used ones verify cleanly', async () => {
    let t = createGpt({ diskSize: 8 * MiB });
    t = addPartition(t, { type: 'esp', sizeLba: 2048, index: 3 }).table;
    t = addPartition(t, { type: 'linux', sizeLba: 2048, index: 100 }).table;
    const d = await openGpt(await onDisk(t));
    expect(d.findings).toEqual([]);
    expect(d.primary.valid && d.backup.valid).toBe(true);
  });

  it('rewriting never renumbers: slots keep their numbers through delete, edit and rewrite', async () => {
    let t = createGpt({ diskSize: 8 * MiB });
    for (let i = 0; i < 4; i++)
      t = addPartition(t, { type: 'linux', sizeLba: 2048, name: `p${i + 1}` }).table;
    t = deletePartition(t, 2);
    t = setPartition(t, 4, { name: 'still four' });
    const dev = await onDisk(t);
    const back = (await readGpt(dev)).table;
    await writeGpt(dev, back);
    const again = (await readGpt(dev)).table;
    expect(again.entries.filter(isUsedEntry).map((e) => [e.index, e.name])).toEqual([
      [1, 'p1'],
      [3, 'p3'],
      [4, 'still four'],
    ]);
  });

  it('names over 36 UTF-16 code units are refused, never written over the next entry', () => {
    const t = addPartition(createGpt({ diskSize: 8 * MiB }), { type: 'linux', sizeLba: 2048 }).table;
    expect(() => setPartition(t, 1, { name: 'n'.repeat(37) })).toThrow(UsageError);
    expect(() => addPartition(t, { type: 'linux', name: '𝄞'.repeat(19) })).toThrow(
      expect.objectContaining({ code: 'GPT_NAME_TOO_LONG' }),
    );
    const full = setPartition(t, 1, { name: 'n'.repeat(36) });
    const bytes = serializeEntryArray(full.entries, 128);
    expect(bytes.subarray(128, 256).every((b) => b === 0)).toBe(true);
  });

  it('bytes past 128 in an entry survive a read-modify-write', async () => {
    let t = createGpt({ diskSize: 8 * MiB, entrySize: 256, entryCount: 64 });
    t = addPartition(t, { type: 'linux', sizeLba: 2048 }).table;
    const vendor = new Uint8Array(128).map((_, i) => i ^ 0x5a);
    t = { ...t, entries: t.entries.map((e) => (e.index === 1 ? { ...e, extra: vendor } : e)) };
    const dev = await onDisk(t);
    const read = (await readGpt(dev)).table;
    const edited = addPartition(read, { type: 'swap', sizeLba: 2048 }).table;
    await writeGpt(dev, edited);
    const back = (await readGpt(dev)).table;
    expect(back.entries[0]!.extra).toEqual(vendor);
    expect(back.entrySize).toBe(256);
  });

  it('repairs, writes a protective MBR and handles 4 KiB sectors', async () => {
    let t = createGpt({ diskSize: 8 * MiB, sectorSize: 4096 });
    t = addPartition(t, { type: 'esp', sizeLba: 256 }).table;
    const dev = await onDisk(t);
    expect(dev.bytes[510]).toBe(0x55);
    expect(dev.bytes[450]).toBe(0xee);
    dev.bytes.fill(0, 4096, 8192); // primary header gone
    dev.bytes.fill(0, 0, 512); // MBR gone
    const r = await repairGpt(new MemoryDevice(dev.bytes));
    expect(r.source).toBe('backup');
    expect(r.after).toEqual([]);
    expect((await readGpt(new MemoryDevice(dev.bytes))).table.entries).toEqual(t.entries);
  });
});
