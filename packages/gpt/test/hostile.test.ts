import { MemoryDevice, crc32, guidToBytes, randomGuid } from '@lsvm/core';
import { addPartition, createGpt, openGpt, readGpt, writeGpt } from '../src/index.js';

/**
 * Hostile headers and arrays: every one comes back as findings or an LsvmError, never as a
 * TypeError, a hang or an allocation the input asked for.
 */

const MiB = 1024 * 1024;

async function disk(): Promise<MemoryDevice> {
  const t = addPartition(createGpt({ diskSize: 4 * MiB }), { type: 'linux', sizeLba: 100 }).table;
  const dev = new MemoryDevice(4 * MiB);
  await writeGpt(dev, t);
  return dev;
}

/** Patches a header field of both copies and fixes their CRCs, so only the field is wrong. */
function patchBoth(dev: MemoryDevice, offset: number, write: (v: DataView) => void): void {
  const n = dev.size / 512;
  for (const lba of [1, n - 1]) {
    const sector = dev.bytes.subarray(lba * 512, lba * 512 + 512);
    const v = new DataView(sector.buffer, sector.byteOffset, 512);
    write(new DataView(sector.buffer, sector.byteOffset + offset));
    v.setUint32(16, 0, true);
    v.setUint32(16, crc32(sector.subarray(0, 92)), true);
  }
}

function codes(findings: readonly { code: string; location: string }[]): string[] {
  return findings.map((f) => `${f.code}@${f.location}`);
}

describe('hostile input', () => {
  it('an entry count of 2^32 - 1 is refused by the limits, not allocated', async () => {
    const dev = await disk();
    patchBoth(dev, 80, (v) => v.setUint32(0, 0xffffffff, true));
    const d = await openGpt(dev);
    expect(codes(d.findings)).toEqual(
      expect.arrayContaining(['GPT_ENTRY_ARRAY_LIMIT@primary', 'GPT_ENTRY_ARRAY_LIMIT@backup']),
    );
    expect(d.table).toBeUndefined();
    await expect(readGpt(dev)).rejects.toMatchObject({ code: 'GPT_NO_VALID_HEADER' });
  });

  it('caller limits apply: maxEntries below the table size', async () => {
    const d = await openGpt(await disk(), { limits: { maxEntries: 64 } });
    expect(codes(d.findings)).toContain('GPT_ENTRY_ARRAY_LIMIT@primary');
  });

  it('entry size 0 and 100', async () => {
    for (const size of [0, 100]) {
      const dev = await disk();
      patchBoth(dev, 84, (v) => v.setUint32(0, size, true));
      expect(codes((await openGpt(dev)).findings)).toEqual(
        expect.arrayContaining(['GPT_HEADER_ENTRY_SIZE@primary', 'GPT_HEADER_ENTRY_SIZE@backup']),
      );
    }
  });

  it('LBAs beyond 2^53 and arrays beyond the disk', async () => {
    const dev = await disk();
    patchBoth(dev, 72, (v) => v.setBigUint64(0, 1n << 62n, true));
    expect(codes((await openGpt(dev)).findings)).toEqual(
      expect.arrayContaining(['GPT_HEADER_LBA_RANGE@primary', 'GPT_HEADER_LBA_RANGE@backup']),
    );
    const dev2 = await disk();
    patchBoth(dev2, 72, (v) => v.setBigUint64(0, 8190n, true));
    expect(codes((await openGpt(dev2)).findings)).toEqual(
      expect.arrayContaining(['GPT_ENTRY_ARRAY_LOCATION@primary', 'GPT_ENTRY_ARRAY_LOCATION@backup']),
    );
  });

  it('HeaderSize beyond the sector, first > last usable, huge partition LBAs', async () => {
    const dev = await disk();
    patchBoth(dev, 12, (v) => v.setUint32(0, 0xffffffff, true));
    expect(codes((await openGpt(dev)).findings)).toContain('GPT_HEADER_SIZE@primary');
    const dev2 = await disk();
    patchBoth(dev2, 40, (v) => v.setBigUint64(0, 9000n, true));
    expect(codes((await openGpt(dev2)).findings)).toContain('GPT_HEADER_USABLE_RANGE@primary');
    // A used entry with StartingLBA 2^63, CRCs fixed: the copy is marked, nothing throws.
    const dev3 = await disk();
    const e = dev3.bytes.subarray(1024, 1024 + 128);
    guidToBytes(randomGuid(), e, 0);
    new DataView(e.buffer, e.byteOffset).setBigUint64(32, 1n << 63n, true);
    const arrayCrc = crc32(dev3.bytes.subarray(1024, 1024 + 128 * 128));
    patchBoth(dev3, 88, (v) => v.setUint32(0, arrayCrc, true));
    expect(codes((await openGpt(dev3)).findings)).toContain('GPT_ENTRY_LBA_RANGE@primary');
  });

  it('tiny devices', async () => {
    for (const size of [0, 100, 512, 1024, 1536]) {
      await expect(openGpt(new MemoryDevice(size))).rejects.toMatchObject({ code: 'GPT_NOT_FOUND' });
    }
    const b = new Uint8Array(1536);
    b.set(new TextEncoder().encode('EFI PART'), 512);
    const d = await openGpt(new MemoryDevice(b));
    expect(d.table).toBeUndefined();
    expect(codes(d.findings)).toContain('GPT_NO_VALID_HEADER@table');
  });
});
