import { MemoryDevice, crc32, isLsvmError } from '@lsvm/core';
import fc from 'fast-check';
import { fuzz } from '../fuzz/gpt.fuzz.js';
import { openGpt, repairGpt, serializeGptHeader } from '../src/index.js';

/**
 * Structure-aware fuzzing: the byte-level runner rarely gets past HeaderCRC32 and the array CRC,
 * so these properties build disks whose headers and arrays carry CORRECT checksums around hostile
 * field values (LBAs anywhere, entry counts and sizes at the limits, overlapping and reversed
 * partitions, headers pointing at each other or at themselves). Contract (DESIGN.md rule 2):
 * only an LsvmError escapes, and each input finishes quickly.
 */

const SS = 512;

/** An LBA biased towards the interesting values of a `sectors`-sector disk. */
const lbaArb = (sectors: number): fc.Arbitrary<number> =>
  fc
    .oneof(
      fc.integer({ min: 0, max: sectors + 4 }),
      fc.constantFrom(0, 1, 2, 33, 34, sectors - 1, sectors, sectors - 33, 2 ** 32, 2 ** 53 - 1),
    )
    .map((v) => Math.max(0, v));

interface DiskSpec {
  sectors: number;
  primary: HeaderSpec;
  backup: HeaderSpec | undefined;
  entries: Uint8Array;
  mbrType: number;
}
interface HeaderSpec {
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  partitionEntryLba: number;
  numberOfPartitionEntries: number;
  sizeOfPartitionEntry: number;
  goodArrayCrc: boolean;
  extra: number;
}

const headerArb = (sectors: number): fc.Arbitrary<HeaderSpec> =>
  fc.record({
    myLba: lbaArb(sectors),
    alternateLba: lbaArb(sectors),
    firstUsableLba: lbaArb(sectors),
    lastUsableLba: lbaArb(sectors),
    partitionEntryLba: lbaArb(sectors),
    numberOfPartitionEntries: fc.oneof(
      fc.integer({ min: 0, max: 200 }),
      fc.constantFrom(16384, 16385, 0x7fffffff, 0xffffffff),
    ),
    sizeOfPartitionEntry: fc.constantFrom(0, 1, 127, 128, 256, 384, 512, 4096, 0x80000000, 0xffffff80),
    goodArrayCrc: fc.boolean(),
    extra: fc.constantFrom(0, 0, 4, 420),
  });

/** One 128-byte entry with random GUIDs, LBAs and attributes, or all zeros. */
const entryArb = (sectors: number, allowHugeLba = true): fc.Arbitrary<Uint8Array> =>
  fc
    .record({
      used: fc.boolean(),
      type: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      first: lbaArb(sectors),
      last: lbaArb(sectors),
      attrs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      name: fc.uint8Array({ minLength: 0, maxLength: 72 }),
      bigLba: allowHugeLba ? fc.boolean() : fc.constant(false),
    })
    .map((e) => {
      const b = new Uint8Array(128);
      if (!e.used) return b;
      b.set(e.type, 0);
      b[0] = b[0]! | 1; // non-nil type GUID
      const v = new DataView(b.buffer);
      v.setBigUint64(32, BigInt(Math.min(e.first, allowHugeLba ? e.first : sectors)), true);
      v.setBigUint64(
        40,
        e.bigLba ? 2n ** 64n - 1n : BigInt(Math.min(e.last, allowHugeLba ? e.last : sectors)),
        true,
      );
      v.setBigUint64(48, e.attrs, true);
      b.set(e.name, 56);
      return b;
    });

const diskArb: fc.Arbitrary<DiskSpec> = fc.integer({ min: 3, max: 96 }).chain((sectors) =>
  fc.record({
    sectors: fc.constant(sectors),
    primary: headerArb(sectors),
    backup: fc.option(headerArb(sectors), { nil: undefined }),
    entries: fc
      .array(entryArb(sectors), { minLength: 0, maxLength: 8 })
      .map((a) => Uint8Array.from(a.flatMap((x) => [...x]))),
    mbrType: fc.constantFrom(0, 0xee, 0xef, 0x83),
  }),
);

/** Writes the headers (with correct CRCs) and the same array bytes wherever each header points. */
function build(d: DiskSpec): Uint8Array {
  const disk = new Uint8Array(d.sectors * SS);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  disk[446 + 4] = d.mbrType;
  new DataView(disk.buffer).setUint32(446 + 8, 1, true);
  new DataView(disk.buffer).setUint32(446 + 12, 0xffffffff, true);
  const place = (h: HeaderSpec, at: number): void => {
    const arrayLen = Math.min(h.numberOfPartitionEntries * Math.max(h.sizeOfPartitionEntry, 1), 1 << 16);
    const array = new Uint8Array(arrayLen);
    array.set(d.entries.subarray(0, arrayLen));
    const arrayAt = h.partitionEntryLba * SS;
    if (arrayAt + arrayLen <= disk.length && arrayAt >= SS) disk.set(array, arrayAt);
    const header = serializeGptHeader(
      {
        revision: 0x00010000,
        myLba: h.myLba,
        alternateLba: h.alternateLba,
        firstUsableLba: h.firstUsableLba,
        lastUsableLba: h.lastUsableLba,
        diskGuid: '01234567-89ab-cdef-0123-456789abcdef',
        partitionEntryLba: h.partitionEntryLba,
        numberOfPartitionEntries: h.numberOfPartitionEntries,
        sizeOfPartitionEntry: h.sizeOfPartitionEntry,
        partitionEntryArrayCrc32: h.goodArrayCrc ? crc32(array) : 0x12345678,
        extra: new Uint8Array(h.extra),
      },
      SS,
    );
    disk.set(header, at * SS);
  };
  if (d.backup) place(d.backup, d.sectors - 1);
  place(d.primary, 1);
  return disk;
}

async function contract(bytes: Uint8Array): Promise<void> {
  try {
    await fuzz(Buffer.from(bytes));
    await repairGpt(new MemoryDevice(bytes.slice()), { forceProtectiveMbr: true });
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}

describe('structure-aware fuzzing of GPT', () => {
  it('checksummed headers with hostile fields raise only LsvmError', async () => {
    await fc.assert(
      fc.asyncProperty(diskArb, async (d) => {
        await contract(build(d));
      }),
      { numRuns: 100, seed: 0x6e7 },
    );
  }, 20_000);

  it('an intact table with random entries opens, and repair keeps entries verbatim', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb(64, false), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(128, 256),
        async (entries, size) => {
          const sectors = 80;
          const count = 16384 / size;
          const array = new Uint8Array(count * size);
          for (const [i, e] of entries.entries()) array.set(e, i * size);
          const spec: DiskSpec = {
            sectors,
            primary: {
              myLba: 1,
              alternateLba: sectors - 1,
              firstUsableLba: 2 + (count * size) / SS,
              lastUsableLba: sectors - 2 - (count * size) / SS,
              partitionEntryLba: 2,
              numberOfPartitionEntries: count,
              sizeOfPartitionEntry: size,
              goodArrayCrc: true,
              extra: 0,
            },
            backup: undefined,
            entries: array,
            mbrType: 0xee,
          };
          const bytes = build(spec);
          await contract(bytes);
          const disk = await openGpt(new MemoryDevice(bytes.slice()));
          expect(disk.source).toBe('primary');
          expect(disk.table!.entries.length).toBe(count);
          // Repair rebuilds the missing backup from the primary without touching the entries.
          const dev = new MemoryDevice(bytes.slice());
          await repairGpt(dev);
          const backupArrayAt = (sectors - 1 - (count * size) / SS) * SS;
          expect(Buffer.from(await dev.read(backupArrayAt, count * size)).equals(Buffer.from(array))).toBe(
            true,
          );
        },
      ),
      { numRuns: 25, seed: 0x6e8 },
    );
  }, 20_000);
});
