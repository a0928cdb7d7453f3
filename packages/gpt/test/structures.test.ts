import { FormatError, LimitError, UsageError, crc32, guidToBytes, randomGuid } from '@lsvm/core';
import fc from 'fast-check';
import {
  ATTR_MS_HIDDEN,
  ATTR_SYSTEMD_GROWFS,
  GPT_REVISION_1_0,
  PARTITION_TYPES,
  decodeAttributes,
  decodeGptHeader,
  emptyEntry,
  formatAttributes,
  lbaToChs,
  parseAttributes,
  parseEntryArray,
  parseGptHeader,
  parseMbr,
  partitionTypeName,
  resolvePartitionType,
  serializeEntryArray,
  serializeGptHeader,
  serializeProtectiveMbr,
  type GptEntry,
} from '../src/index.js';

describe('protective MBR (UEFI §5.2.3)', () => {
  it('writes one 0xEE record from LBA 1 covering the disk, capped at 0xFFFFFFFF', () => {
    const small = parseMbr(serializeProtectiveMbr(131072));
    expect(small.kind).toBe('protective');
    expect(small.records[0]).toMatchObject({
      osType: 0xee,
      startingLba: 1,
      sizeInLba: 131071,
      bootIndicator: 0,
      startChs: 0x000200,
    });
    expect(small.records.slice(1).every((r) => r.osType === 0)).toBe(true);
    const huge = parseMbr(serializeProtectiveMbr(2 ** 33));
    expect(huge.records[0]!.sizeInLba).toBe(0xffffffff);
    expect(huge.records[0]!.endChs).toBe(0xffffff);
  });

  it('classifies plain, hybrid, empty and missing MBRs', () => {
    const b = serializeProtectiveMbr(1000);
    const hybrid = b.slice();
    hybrid.set([0x80, 0, 0, 0, 0x0c, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0], 446 + 16);
    expect(parseMbr(hybrid).kind).toBe('hybrid');
    const plain = hybrid.slice();
    plain.fill(0, 446, 462);
    expect(parseMbr(plain).kind).toBe('mbr');
    const empty = b.slice();
    empty.fill(0, 446, 510);
    expect(parseMbr(empty).kind).toBe('empty');
    expect(parseMbr(new Uint8Array(512)).kind).toBe('none');
    expect(() => parseMbr(new Uint8Array(100))).toThrow(FormatError);
  });

  it('keeps boot code and disk signature', () => {
    const code = new Uint8Array(440).fill(0x90);
    const m = parseMbr(serializeProtectiveMbr(5000, { bootCode: code, diskSignature: 0xdeadbeef }));
    expect(m.bootCode).toEqual(code);
    expect(m.diskSignature).toBe(0xdeadbeef);
  });

  it('encodes CHS like the conventional 255/63 geometry', () => {
    expect(lbaToChs(1)).toBe(0x000200);
    expect(lbaToChs(63)).toBe(0x000101); // head 1, sector 1, cylinder 0
    expect(lbaToChs(1024 * 255 * 63)).toBe(0xffffff);
  });
});

const arbHeader = fc.record({
  revision: fc.constant(GPT_REVISION_1_0),
  myLba: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  alternateLba: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  firstUsableLba: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  lastUsableLba: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  diskGuid: fc.uuid().map((s) => s.toLowerCase()),
  partitionEntryLba: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  numberOfPartitionEntries: fc.integer({ min: 0, max: 0xffffffff }),
  sizeOfPartitionEntry: fc.integer({ min: 1, max: 64 }).map((n) => n * 128),
  partitionEntryArrayCrc32: fc.integer({ min: 0, max: 0xffffffff }),
  extra: fc.uint8Array({ maxLength: 420 }),
});

describe('GPT header (UEFI §5.3.2)', () => {
  it('round-trips every field, including HeaderSize above 92 (property)', () => {
    fc.assert(
      fc.property(arbHeader, fc.constantFrom(512, 4096), (h, ss) => {
        const bytes = serializeGptHeader(h, ss);
        const back = parseGptHeader(bytes);
        expect(back).toEqual({
          ...h,
          signature: 'EFI PART',
          headerSize: 92 + h.extra.length,
          headerCrc32: back.headerCrc32,
          reserved: 0,
        });
        // serialize(parse(bytes)) === bytes
        expect(serializeGptHeader(back, ss)).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('takes HeaderCRC32 over HeaderSize bytes with the CRC field zeroed', () => {
    const h = serializeGptHeader({ ...sampleHeader(), extra: new Uint8Array(28).fill(7) }, 512);
    const copy = h.slice(0, 120);
    const stored = new DataView(h.buffer).getUint32(16, true);
    copy.fill(0, 16, 20);
    expect(crc32(copy)).toBe(stored);
    expect(decodeGptHeader(h).headerSize).toBe(120);
  });

  it('rejects bad signature, size, CRC and entry size with typed errors', () => {
    const good = serializeGptHeader(sampleHeader(), 512);
    const sig = good.slice();
    sig[0] = 0x58;
    expect(() => parseGptHeader(sig)).toThrow(expect.objectContaining({ code: 'GPT_HEADER_SIGNATURE' }));
    const crc = good.slice();
    crc[40] = crc[40]! ^ 1;
    expect(() => parseGptHeader(crc)).toThrow(expect.objectContaining({ code: 'GPT_HEADER_CRC' }));
    const size = good.slice();
    new DataView(size.buffer).setUint32(12, 600, true);
    expect(() => parseGptHeader(size)).toThrow(expect.objectContaining({ code: 'GPT_HEADER_SIZE' }));
    expect(() => serializeGptHeader({ ...sampleHeader(), sizeOfPartitionEntry: 100 }, 512)).not.toThrow();
    expect(() =>
      parseGptHeader(serializeGptHeader({ ...sampleHeader(), sizeOfPartitionEntry: 100 }, 512)),
    ).toThrow(expect.objectContaining({ code: 'GPT_HEADER_ENTRY_SIZE' }));
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(24, 1n << 60n, true);
    expect(() => decodeGptHeader(huge)).toThrow(expect.objectContaining({ code: 'GPT_HEADER_LBA_RANGE' }));
    expect(() => decodeGptHeader(good.subarray(0, 91))).toThrow(FormatError);
  });
});

/** A surrogate not part of a pair (String.prototype.isWellFormed is ES2024, beyond our lib). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const arbName = fc
  .string({ unit: 'binary', maxLength: 36 })
  .filter((s) => s.length <= 36 && !s.includes('\u0000') && !LONE_SURROGATE.test(s));

const arbEntries = (size: number) =>
  fc.array(
    fc.record({
      used: fc.boolean(),
      typeGuid: fc.uuid(),
      uniqueGuid: fc.uuid(),
      firstLba: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      lastLba: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      attributes: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      name: arbName,
      extra: fc.uint8Array({ minLength: size - 128, maxLength: size - 128 }),
    }),
    { minLength: 1, maxLength: 40 },
  );

describe('partition entry array (UEFI §5.3.3)', () => {
  it('round-trips entries of any size that is a multiple of 128, extra bytes included (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(128, 256, 512).chain((size) => fc.tuple(fc.constant(size), arbEntries(size))),
        ([size, raw]) => {
          const entries: GptEntry[] = raw.map(({ used, ...r }, i) =>
            used && r.typeGuid !== '00000000-0000-0000-0000-000000000000'
              ? {
                  index: i + 1,
                  ...r,
                  typeGuid: r.typeGuid.toLowerCase(),
                  uniqueGuid: r.uniqueGuid.toLowerCase(),
                }
              : { ...emptyEntry(i + 1, size), extra: r.extra },
          );
          const bytes = serializeEntryArray(entries, size);
          expect(bytes.length).toBe(entries.length * size);
          const back = parseEntryArray(bytes, entries.length, size);
          expect(back).toEqual(entries);
          expect(serializeEntryArray(back, size)).toEqual(bytes);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('decodes names as UTF-16LE with surrogate pairs and exactly 36 code units', () => {
    const name = '𝄞'.repeat(18); // 18 pairs = 36 code units, no terminator
    const e: GptEntry = {
      ...emptyEntry(1),
      typeGuid: randomGuid(),
      uniqueGuid: randomGuid(),
      firstLba: 34,
      lastLba: 40,
      name,
    };
    const bytes = serializeEntryArray([e, emptyEntry(2)], 128);
    expect(parseEntryArray(bytes, 2, 128)[0]!.name).toBe(name);
    expect(() => serializeEntryArray([{ ...e, name: `${name}x` }], 128)).toThrow(
      expect.objectContaining({ code: 'GPT_NAME_TOO_LONG' }),
    );
  });

  it('refuses hostile sizes and counts with LsvmErrors', () => {
    expect(() => parseEntryArray(new Uint8Array(128), 1, 100)).toThrow(FormatError);
    expect(() => parseEntryArray(new Uint8Array(128), 1_000_000, 128)).toThrow(LimitError);
    expect(() => parseEntryArray(new Uint8Array(128), 2, 128)).toThrow(FormatError);
    const b = new Uint8Array(128);
    guidToBytes(randomGuid(), b, 0);
    new DataView(b.buffer).setBigUint64(32, 1n << 62n, true);
    expect(() => parseEntryArray(b, 1, 128)).toThrow(
      expect.objectContaining({ code: 'GPT_ENTRY_LBA_RANGE' }),
    );
  });
});

describe('attributes and partition types', () => {
  it('names the type-specific bits by family', () => {
    expect(decodeAttributes(ATTR_MS_HIDDEN | 1n, resolvePartitionType('msft-basic'))).toMatchObject({
      family: 'microsoft',
      uefi: ['required'],
      named: ['hidden'],
    });
    expect(
      decodeAttributes(ATTR_SYSTEMD_GROWFS | (1n << 63n), resolvePartitionType('linux-root-x86-64')).named,
    ).toEqual(['grow-fs', 'no-auto']);
    const cros = decodeAttributes(
      (1n << 56n) | (3n << 52n) | (15n << 48n),
      resolvePartitionType('chromeos-kernel'),
    );
    expect(cros.chromeos).toEqual({ priority: 15, triesRemaining: 3, successful: true });
    expect(decodeAttributes(1n << 10n).reservedBits).toEqual([10]);
  });

  it('parses and formats attribute words', () => {
    expect(parseAttributes('0x8000000000000001')).toBe((1n << 63n) | 1n);
    expect(parseAttributes('required,legacy-bios-bootable,60')).toBe(1n | 4n | (1n << 60n));
    expect(parseAttributes('63')).toBe(1n << 63n);
    expect(parseAttributes('8000000000000004')).toBe((1n << 63n) | 4n);
    expect(formatAttributes(5n)).toBe('0x0000000000000005');
    expect(() => parseAttributes('bogus')).toThrow(UsageError);
    // Regression: names were looked up on a plain object, so `constructor` found
    // Object.prototype.constructor and BigInt() threw a SyntaxError instead of a UsageError.
    for (const name of ['constructor', '__proto__', 'required,constructor', 'tostring'])
      expect(() => parseAttributes(name)).toThrow(UsageError);
  });

  it('resolves every alias the issue lists', () => {
    for (const a of [
      'esp',
      'bios-boot',
      'msft-reserved',
      'msft-basic',
      'windows-re',
      'linux',
      'linux-root-x86-64',
      'linux-root-x86',
      'linux-root-arm64',
      'linux-usr-x86-64',
      'linux-root-verity-x86-64',
      'swap',
      'home',
      'lvm',
      'raid',
      'xbootldr',
      'luks',
    ]) {
      expect(resolvePartitionType(a)).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(resolvePartitionType('{C12A7328-F81F-11D2-BA4B-00A0C93EC93B}')).toBe(
      'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
    );
    expect(partitionTypeName('c12a7328-f81f-11d2-ba4b-00a0c93ec93b')).toBe('EFI System');
    expect(() => resolvePartitionType('ntfs-please')).toThrow(UsageError);
    expect(new Set(PARTITION_TYPES.map((p) => p.alias)).size).toBe(PARTITION_TYPES.length);
  });
});

function sampleHeader() {
  return {
    revision: GPT_REVISION_1_0,
    myLba: 1,
    alternateLba: 131071,
    firstUsableLba: 34,
    lastUsableLba: 131038,
    diskGuid: randomGuid(),
    partitionEntryLba: 2,
    numberOfPartitionEntries: 128,
    sizeOfPartitionEntry: 128,
    partitionEntryArrayCrc32: 0,
    extra: new Uint8Array(0),
  };
}
