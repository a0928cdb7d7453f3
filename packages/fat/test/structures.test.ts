import { FormatError, MemoryDevice } from '@lsvm/core';
import {
  CASE_LOWER_BASE,
  CASE_LOWER_EXT,
  FatTable,
  buildLfnEntries,
  decodeShortName,
  fatGeometry,
  fromFatTimestamp,
  lfnChecksum,
  mkfs,
  parseBootSector,
  parseDirectory,
  parseFsInfo,
  planShortName,
  serializeBootSector,
  serializeFsInfo,
  shortNameWithTail,
  toFatTimestamp,
} from '@lsvm/fat';

const ascii = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const str = (b: Uint8Array): string => String.fromCharCode(...b);

describe('boot sector', () => {
  test.each([
    [12, 2 << 20],
    [16, 20 << 20],
    [32, 40 << 20],
  ] as const)(
    'FAT%i: serialize(parse(bytes)) is the identity and the geometry matches mkfs',
    async (type, size) => {
      const dev = new MemoryDevice(size);
      const r = await mkfs(dev, { type, volumeId: 7, label: 'LBL' });
      const bytes = dev.bytes.slice(0, 512);
      const bs = parseBootSector(bytes);
      expect(serializeBootSector(bs)).toEqual(bytes);
      const g = fatGeometry(bs);
      expect(g.type).toBe(type);
      expect(g.clusterCount).toBe(r.clusterCount);
      expect(bs.volumeLabel).toBe('LBL');
      expect(bs.volumeId).toBe(7);
    },
  );

  test('the type follows the cluster count, not the label', async () => {
    const dev = new MemoryDevice(20 << 20);
    await mkfs(dev, { type: 16 });
    const bytes = dev.bytes.slice(0, 512);
    bytes.set(ascii('FAT12   '), 54);
    expect(fatGeometry(parseBootSector(bytes)).type).toBe(16);
  });

  test('a missing 55AA signature or a bad sector size is a FormatError with a code', async () => {
    const dev = new MemoryDevice(2 << 20);
    await mkfs(dev, { type: 12 });
    const a = dev.bytes.slice(0, 512);
    a[511] = 0;
    expect(() => parseBootSector(a)).toThrow(expect.objectContaining({ code: 'FAT_BOOT_SIGNATURE' }));
    const b = dev.bytes.slice(0, 512);
    b[11] = 0x00;
    b[12] = 0x03; // 768
    expect(() => parseBootSector(b)).toThrow(FormatError);
  });
});

describe('FSInfo', () => {
  test('round trip and signature check', () => {
    const b = serializeFsInfo({ freeCount: 1234, nextFree: 99 });
    expect(parseFsInfo(b)).toEqual({ freeCount: 1234, nextFree: 99 });
    b[0] = 0;
    expect(() => parseFsInfo(b)).toThrow(expect.objectContaining({ code: 'FAT_FSINFO_SIGNATURE' }));
  });
});

describe('FAT table', () => {
  test('FAT12 packs two entries in three bytes (fatgen103 §4)', () => {
    const t = new FatTable(12, new Uint8Array(512), 100, 512);
    t.set(2, 0xabc);
    t.set(3, 0x123);
    expect([...t.bytes.subarray(3, 6)]).toEqual([0xbc, 0x3a, 0x12]);
    expect(t.get(2)).toBe(0xabc);
    expect(t.get(3)).toBe(0x123);
  });

  test('FAT32 keeps the reserved high four bits', () => {
    const bytes = new Uint8Array(512);
    bytes[4 * 5 + 3] = 0xf0;
    const t = new FatTable(32, bytes, 100, 512);
    t.set(5, 0x0fffffff);
    expect(bytes[23]).toBe(0xff);
    expect(t.get(5)).toBe(0x0fffffff);
  });

  test('allocate prefers a contiguous run, chain follows it, loops are detected', () => {
    const t = new FatTable(16, new Uint8Array(1024), 400, 512);
    t.set(10, t.eoc);
    const c = t.allocate(5, 8);
    expect(c).toEqual([11, 12, 13, 14, 15]);
    expect(t.chain(11)).toEqual(c);
    t.set(15, 11);
    expect(() => t.chain(11)).toThrow(expect.objectContaining({ code: 'FAT_CHAIN_LOOP' }));
    expect(() => t.allocate(1000)).toThrow(expect.objectContaining({ code: 'FAT_NO_SPACE' }));
  });
});

describe('names', () => {
  test('8.3 names that fit keep their case through the NT bits and need no LFN', () => {
    const p = planShortName('readme.txt');
    expect(str(p.shortName)).toBe('README  TXT');
    expect(p.needsLfn).toBe(false);
    expect(p.ntRes).toBe(CASE_LOWER_BASE | CASE_LOWER_EXT);
    expect(decodeShortName(p.shortName, p.ntRes)).toBe('readme.txt');
    const q = planShortName('BOOTX64.EFI');
    expect(q.needsLfn).toBe(false);
    expect(q.ntRes).toBe(0);
  });

  test('mixed case needs an LFN but no tail; long or lossy names get ~N', () => {
    const m = planShortName('ReadMe.txt');
    expect(m.needsLfn).toBe(true);
    expect(m.needsTail).toBe(false);
    const l = planShortName('A long name with spaces.txt');
    expect(l.needsTail).toBe(true);
    expect(str(shortNameWithTail(l, 1))).toBe('ALONGN~1TXT');
    expect(str(shortNameWithTail(l, 12))).toBe('ALONG~12TXT');
    expect(str(shortNameWithTail(planShortName('.bashrc'), 1))).toBe('BASHRC~1   ');
    expect(str(shortNameWithTail(planShortName('a.b.c.tar.gz'), 1))).toBe('ABCTAR~1GZ ');
    expect(str(shortNameWithTail(planShortName('naïve+x.txt'), 1))).toBe('NA_VE_~1TXT');
  });

  test('LFN entries assemble back into the name', () => {
    for (const name of ['x', 'exactly13char', 'a name of twenty-six chars', 'ü'.repeat(255)]) {
      const short = ascii('SHORT~1 TXT');
      const entries = buildLfnEntries(name, lfnChecksum(short));
      const dir = new Uint8Array((entries.length + 2) * 32);
      entries.forEach((e, i) => {
        dir.set(e, i * 32);
      });
      dir.set(short, entries.length * 32);
      dir[entries.length * 32 + 11] = 0x20;
      const parsed = parseDirectory(dir);
      expect(parsed.items).toHaveLength(1);
      expect(parsed.items[0]!.name).toBe(name);
      expect(parsed.items[0]!.hasLongName).toBe(true);
    }
  });

  test('an LFN set whose checksum does not match is ignored (short name used)', () => {
    const short = ascii('SHORT~1 TXT');
    const [e] = buildLfnEntries('long.txt', lfnChecksum(short) ^ 1);
    const dir = new Uint8Array(96);
    dir.set(e!, 0);
    dir.set(short, 32);
    const parsed = parseDirectory(dir);
    expect(parsed.items[0]!.name).toBe('SHORT~1.TXT');
    expect(parsed.orphanLfnSlots).toEqual([0]);
  });
});

describe('timestamps', () => {
  test('round trip at 2-second resolution, hundredths in the creation field', () => {
    const d = new Date(Date.UTC(2024, 1, 29, 13, 45, 27, 340));
    const t = toFatTimestamp(d);
    expect(fromFatTimestamp(t.date, t.time)?.toISOString()).toBe('2024-02-29T13:45:26.000Z');
    expect(fromFatTimestamp(t.date, t.time, t.tenth)?.toISOString()).toBe('2024-02-29T13:45:27.340Z');
    expect(fromFatTimestamp(0, 0)).toBeUndefined();
  });
});
