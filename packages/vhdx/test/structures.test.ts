import { ChecksumError, FormatError, NIL_GUID, UnsupportedError, crc32c } from '@lsvm/core';
import fc from 'fast-check';
import {
  BAT_REGION_GUID,
  checksum4k,
  METADATA_REGION_GUID,
  VHDX_PARENT_LOCATOR_TYPE,
  batGeometry,
  bitmapEntryIndex,
  findActiveSequence,
  getBit,
  isBitmapEntryIndex,
  parseFileIdentifier,
  parseHeader,
  parseLogEntry,
  parseMetadata,
  parseParentLocator,
  parseRegionTable,
  payloadEntryIndex,
  readBatEntry,
  selectHeader,
  serializeFileIdentifier,
  serializeHeader,
  serializeLogEntry,
  serializeMetadata,
  serializeParentLocator,
  serializeRegionTable,
  setBits,
  writeBatEntry,
  type LogWrite,
  type VhdxHeader,
} from '../src/index.js';
import { eq } from './helpers.js';

const guidArb = fc.uuid().map((u) => u.toLowerCase());
const headerArb: fc.Arbitrary<VhdxHeader> = fc.record({
  sequenceNumber: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fileWriteGuid: guidArb,
  dataWriteGuid: guidArb,
  logGuid: guidArb,
  logVersion: fc.constant(0),
  version: fc.constant(1),
  logLength: fc.integer({ min: 0, max: 4095 }).map((n) => n * 1048576),
  logOffset: fc.integer({ min: 1, max: 1 << 20 }).map((n) => n * 1048576),
});

describe('header', () => {
  test('round trip (property)', () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const b = serializeHeader(h);
        expect(parseHeader(b)).toEqual(h);
        expect(eq(serializeHeader(parseHeader(b)), b)).toBe(true);
      }),
    );
  });
  test('CRC-32C covers the whole 4 KiB with the checksum field zeroed', () => {
    const b = serializeHeader(sampleHeader(5n));
    const copy = b.slice();
    copy.fill(0, 4, 8);
    expect(new DataView(b.buffer).getUint32(4, true)).toBe(crc32c(copy));
    b[4000] = b[4000]! ^ 1;
    expect(() => parseHeader(b)).toThrow(ChecksumError);
  });
  test('bad signature, version and log placement', () => {
    const b = serializeHeader(sampleHeader(1n));
    b[0] = 0x48;
    expect(() => parseHeader(b)).toThrow(FormatError);
    expect(() => parseHeader(serializeHeader({ ...sampleHeader(1n), version: 2 }))).toThrow(UnsupportedError);
    expect(() => parseHeader(serializeHeader({ ...sampleHeader(1n), logOffset: 4096 }))).toThrow(FormatError);
  });
  test('the valid header with the higher sequence number wins; a torn higher one loses', () => {
    const a = serializeHeader(sampleHeader(7n));
    const b = serializeHeader(sampleHeader(8n));
    expect(selectHeader(a, b).slot).toBe(1);
    expect(selectHeader(b, a).slot).toBe(0);
    const torn = b.slice();
    torn[100] = torn[100]! ^ 0xff;
    const r = selectHeader(a, torn);
    expect(r.slot).toBe(0);
    expect(r.header.sequenceNumber).toBe(7n);
    expect(r.copies[1]).toBeInstanceOf(ChecksumError);
    // Equal sequence numbers are tolerated: the first copy is taken.
    expect(selectHeader(a, a).slot).toBe(0);
    expect(() => selectHeader(torn, torn)).toThrow(ChecksumError);
  });
});

function sampleHeader(seq: bigint): VhdxHeader {
  return {
    sequenceNumber: seq,
    fileWriteGuid: '11111111-2222-3333-4444-555555555555',
    dataWriteGuid: '66666666-2222-3333-4444-555555555555',
    logGuid: NIL_GUID,
    logVersion: 0,
    version: 1,
    logLength: 1 << 20,
    logOffset: 1 << 20,
  };
}

describe('file identifier', () => {
  test('round trip', () => {
    const b = serializeFileIdentifier({ creator: 'lsvm tests ☃' });
    expect(parseFileIdentifier(b)).toEqual({ creator: 'lsvm tests ☃' });
    b[1] = 0;
    expect(() => parseFileIdentifier(b)).toThrow(FormatError);
  });
});

describe('region table', () => {
  const base = [
    { guid: BAT_REGION_GUID, fileOffset: 3 << 20, length: 1 << 20, required: true },
    { guid: METADATA_REGION_GUID, fileOffset: 2 << 20, length: 1 << 20, required: true },
  ];
  test('round trip (property), unknown optional regions kept', () => {
    fc.assert(
      fc.property(fc.array(guidArb, { maxLength: 5 }), fc.integer({ min: 1, max: 64 }), (extra, len) => {
        const entries = [
          ...base,
          ...[...new Set(extra)].map((g, i) => ({
            guid: g,
            fileOffset: (10 + i * 64) << 20,
            length: len << 20,
            required: false,
          })),
        ];
        const b = serializeRegionTable(entries);
        const t = parseRegionTable(b);
        expect(t.entries).toEqual(entries);
        expect(eq(serializeRegionTable(t.entries), b)).toBe(true);
      }),
    );
  });
  test('unknown required region is unsupported; overlap, misalignment, missing BAT are format errors', () => {
    const unk = {
      guid: '01234567-89ab-cdef-0123-456789abcdef',
      fileOffset: 8 << 20,
      length: 1 << 20,
      required: true,
    };
    expect(() => parseRegionTable(serializeRegionTable([...base, unk]))).toThrow(UnsupportedError);
    expect(() =>
      parseRegionTable(serializeRegionTable([base[0]!, { ...base[1]!, fileOffset: 3 << 20 }])),
    ).toThrow(expect.objectContaining({ code: 'VHDX_REGION_OVERLAP' }));
    expect(() =>
      parseRegionTable(serializeRegionTable([base[0]!, { ...base[1]!, fileOffset: 4096 }])),
    ).toThrow(expect.objectContaining({ code: 'VHDX_REGION_ALIGNMENT' }));
    expect(() => parseRegionTable(serializeRegionTable([base[1]!]))).toThrow(
      expect.objectContaining({ code: 'VHDX_REGION_MISSING' }),
    );
    const b = serializeRegionTable(base);
    b[60000] = 1;
    expect(() => parseRegionTable(b)).toThrow(ChecksumError);
    const many = serializeRegionTable(base);
    new DataView(many.buffer).setUint32(8, 2048, true);
    new DataView(many.buffer).setUint32(4, checksum4k(many), true);
    expect(() => parseRegionTable(many)).toThrow(expect.objectContaining({ code: 'VHDX_REGION_COUNT' }));
  });
});

describe('metadata and parent locator', () => {
  const metaArb = fc.record({
    blockSize: fc.integer({ min: 0, max: 8 }).map((k) => 2 ** (20 + k)),
    leaveBlocksAllocated: fc.boolean(),
    logicalSectorSize: fc.constantFrom(512 as const, 4096 as const),
    physicalSectorSize: fc.constantFrom(512 as const, 4096 as const),
    sectors: fc.integer({ min: 1, max: 2 ** 30 }),
    virtualDiskId: guidArb,
    parent: fc.option(
      fc.dictionary(
        fc.constantFrom('parent_linkage', 'relative_path', 'absolute_win32_path', 'volume_path', 'x'),
        fc.string({ minLength: 1, maxLength: 40 }),
      ),
      { nil: undefined },
    ),
  });
  test('round trip (property)', () => {
    fc.assert(
      fc.property(metaArb, (m) => {
        const input = {
          blockSize: m.blockSize,
          leaveBlocksAllocated: m.leaveBlocksAllocated,
          hasParent: m.parent !== undefined,
          virtualDiskSize: m.sectors * m.logicalSectorSize,
          virtualDiskId: m.virtualDiskId,
          logicalSectorSize: m.logicalSectorSize,
          physicalSectorSize: m.physicalSectorSize,
          parentLocator: m.parent
            ? { locatorType: VHDX_PARENT_LOCATOR_TYPE, entries: new Map(Object.entries(m.parent)) }
            : undefined,
        };
        const b = serializeMetadata(input, 1 << 20);
        const { entries, ...parsed } = parseMetadata(b);
        expect(parsed).toEqual(input);
        expect(entries.every((e) => e.isRequired && !e.isUser)).toBe(true);
      }),
    );
  });
  test('parent locator round trip and hostile offsets', () => {
    const loc = {
      locatorType: VHDX_PARENT_LOCATOR_TYPE,
      entries: new Map([
        ['parent_linkage', '{0b1f0a2c-0000-4000-8000-000000000001}'],
        ['relative_path', '.\\base.vhdx'],
      ]),
    };
    const b = serializeParentLocator(loc);
    expect(parseParentLocator(b)).toEqual(loc);
    const bad = b.slice();
    new DataView(bad.buffer).setUint32(20, 0xfffffff0, true);
    expect(() => parseParentLocator(bad)).toThrow(FormatError);
    const many = b.slice();
    new DataView(many.buffer).setUint16(18, 65535, true);
    expect(() => parseParentLocator(many)).toThrow(FormatError);
  });
  test('unknown required item is unsupported, unknown optional item tolerated, huge lengths rejected', () => {
    const good = serializeMetadata(
      {
        blockSize: 1 << 25,
        leaveBlocksAllocated: false,
        hasParent: false,
        virtualDiskSize: 1 << 30,
        virtualDiskId: '00000000-0000-4000-8000-000000000001',
        logicalSectorSize: 512,
        physicalSectorSize: 4096,
        parentLocator: undefined,
      },
      1 << 20,
    );
    const v = new DataView(good.buffer);
    const withExtra = (flags: number, length = 8): Uint8Array => {
      const b = good.slice();
      const dv = new DataView(b.buffer);
      const n = dv.getUint16(10, true);
      const at = 32 + n * 32;
      b.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], at);
      dv.setUint32(at + 16, 0x80000, true);
      dv.setUint32(at + 20, length, true);
      dv.setUint32(at + 24, flags, true);
      dv.setUint16(10, n + 1, true);
      return b;
    };
    expect(parseMetadata(withExtra(0)).entries).toHaveLength(6);
    expect(() => parseMetadata(withExtra(4))).toThrow(UnsupportedError);
    expect(parseMetadata(withExtra(1)).entries.at(-1)).toMatchObject({ isUser: true, isRequired: false });
    expect(() => parseMetadata(withExtra(1 | 4))).toThrow(UnsupportedError);
    expect(() => parseMetadata(withExtra(0, 0x7fffffff))).toThrow(
      expect.objectContaining({ code: 'VHDX_METADATA_RANGE' }),
    );
    const badBlock = good.slice();
    new DataView(badBlock.buffer).setUint32(v.getUint32(32 + 16, true), 3 << 20, true);
    expect(() => parseMetadata(badBlock)).toThrow(expect.objectContaining({ code: 'VHDX_BLOCK_SIZE' }));
  });
});

describe('BAT', () => {
  test('chunk ratio exceeds 32-bit arithmetic for 4 KiB sectors and small blocks', () => {
    const g = batGeometry({
      blockSize: 1 << 20,
      logicalSectorSize: 4096,
      virtualDiskSize: 2 ** 44,
      hasParent: false,
    });
    expect(g.chunkRatio).toBe(32768);
    expect(g.dataBlocks).toBe(2 ** 24);
    expect(g.totalEntries).toBe(2 ** 24 + Math.floor((2 ** 24 - 1) / 32768));
    const d = batGeometry({
      blockSize: 1 << 25,
      logicalSectorSize: 512,
      virtualDiskSize: 1 << 30,
      hasParent: true,
    });
    expect(d.chunkRatio).toBe(128);
    expect(d.totalEntries).toBe(129);
    expect(bitmapEntryIndex(d, 0)).toBe(128);
    expect(payloadEntryIndex(d, 127)).toBe(127);
    expect(payloadEntryIndex(d, 128)).toBe(129);
    expect(isBitmapEntryIndex(d, 128)).toBe(true);
  });
  test('entry round trip including offsets above 2^32 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2 ** 33 - 1 }), (state, mb) => {
        const bat = new Uint8Array(16);
        writeBatEntry(bat, 1, { state, fileOffset: mb * 2 ** 20 });
        expect(readBatEntry(bat, 1)).toEqual({ state, fileOffset: mb * 2 ** 20 });
        expect(bat.subarray(0, 8).every((x) => x === 0)).toBe(true);
      }),
    );
  });
});

describe('sector bitmap', () => {
  test('setBits matches a bit-by-bit model (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 300 }), (first, count) => {
        const b = new Uint8Array(128);
        setBits(b, first, count);
        let ok = true;
        for (let i = 0; i < 1024; i++) ok &&= getBit(b, i) === (i >= first && i < first + count);
        return ok;
      }),
    );
  });
});

describe('log entries', () => {
  const guid = '9e4b3c2a-1111-4222-8333-444455556666';
  const writeArb: fc.Arbitrary<LogWrite> = fc.oneof(
    fc.record({
      kind: fc.constant('data' as const),
      fileOffset: fc.integer({ min: 0, max: 2 ** 30 }).map((n) => n * 4096),
      data: fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
    }),
    fc.record({
      kind: fc.constant('zero' as const),
      fileOffset: fc.integer({ min: 0, max: 2 ** 30 }).map((n) => n * 4096),
      length: fc.integer({ min: 1, max: 1000 }).map((n) => n * 4096),
    }),
  );
  test('round trip (property), with up to 300 descriptors', () => {
    fc.assert(
      fc.property(
        fc.array(writeArb, { maxLength: 130 }),
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        (writes, seq) => {
          const bytes = serializeLogEntry({
            tail: 0,
            sequenceNumber: seq,
            logGuid: guid,
            flushedFileOffset: 1,
            lastFileOffset: 2,
            writes,
          });
          const log = new Uint8Array(1 << 20);
          log.set(bytes);
          const e = parseLogEntry(log, 0, guid)!;
          expect(e.writes).toEqual(writes);
          expect(e.sequenceNumber).toBe(seq);
        },
      ),
      { numRuns: 12 },
    );
  });
  test('active sequence: ring wrap, tail containment, torn head loses', () => {
    const L = 64 * 4096;
    const log = new Uint8Array(L);
    const sector = (v: number): Uint8Array => new Uint8Array(4096).fill(v);
    const place = (off: number, seq: bigint, tail: number, v: number): number => {
      const b = serializeLogEntry({
        tail,
        sequenceNumber: seq,
        logGuid: guid,
        flushedFileOffset: 0,
        lastFileOffset: 0,
        writes: [{ kind: 'data', fileOffset: 4096 * v, data: sector(v) }],
      });
      for (let i = 0; i < b.length; i++) log[(off + i) % L] = b[i]!;
      return b.length;
    };
    // Entries of 2 sectors: seq 10 at sectors 61..62, 11 at 63..0 (straddling the end), 12 at 1..2.
    place(61 * 4096, 10n, 61 * 4096, 1);
    place(63 * 4096, 11n, 61 * 4096, 2);
    place(4096, 12n, 63 * 4096, 3);
    const s = findActiveSequence(log, guid)!;
    expect(s.entries.map((e) => e.sequenceNumber)).toEqual([11n, 12n]);
    expect(s.entries[0]!.writes[0]).toMatchObject({ kind: 'data', fileOffset: 2 * 4096 });
    expect(s.nextOffset).toBe(3 * 4096);
    // Torn newest entry: the previous valid one is the head.
    log[4096 + 100] = log[4096 + 100]! ^ 1;
    expect(findActiveSequence(log, guid)!.head.sequenceNumber).toBe(11n);
    // Broken chain (tail points at an entry that does not lead to the head): no sequence through it.
    const log2 = new Uint8Array(L);
    log.fill(0);
    place(0, 5n, 0, 1);
    place(8 * 4096, 7n, 0, 2);
    log2.set(log);
    expect(findActiveSequence(log2, guid)!.head.sequenceNumber).toBe(5n);
    expect(findActiveSequence(log2, '00000000-0000-4000-8000-000000000000')).toBeUndefined();
  });
  test('bad descriptor sequence, data sector signature and checksum are rejected', () => {
    const b = serializeLogEntry({
      tail: 0,
      sequenceNumber: 3n,
      logGuid: guid,
      flushedFileOffset: 0,
      lastFileOffset: 0,
      writes: [{ kind: 'data', fileOffset: 0, data: new Uint8Array(4096) }],
    });
    const log = new Uint8Array(1 << 20);
    log.set(b);
    log[4096] = 0;
    expect(() => parseLogEntry(log, 0, guid)).toThrow(ChecksumError);
    expect(() => parseLogEntry(log, 0, 'ffffffff-0000-4000-8000-000000000000')).toThrow(FormatError);
  });
});
