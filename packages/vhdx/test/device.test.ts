import { MemoryDevice, NIL_GUID } from '@lsvm/core';
import fc from 'fast-check';
import {
  MemoryFile,
  PayloadState,
  VhdxDevice,
  convertToRaw,
  convertToVhdx,
  createVhdx,
  type DifferencingParent,
} from '../src/index.js';
import { eq, mixedData } from './helpers.js';

const MiB = 1 << 20;

async function newDisk(opts: Parameters<typeof createVhdx>[1]): Promise<MemoryFile> {
  const f = new MemoryFile();
  await createVhdx(f, opts);
  return f;
}

describe('VhdxDevice in memory', () => {
  test.each([
    [512, 1 * MiB],
    [4096, 2 * MiB],
  ] as const)(
    'random writes match a flat model and survive reopen (lss %i, block %i)',
    async (lss, blockSize) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              off: fc.integer({ min: 0, max: 6 * MiB - 1 }),
              len: fc.integer({ min: 1, max: 300_000 }),
              fill: fc.integer({ min: 1, max: 255 }),
            }),
            { minLength: 1, maxLength: 8 },
          ),
          async (ops) => {
            const size = 6 * MiB - 3 * lss;
            const file = await newDisk({ size, blockSize, logicalSectorSize: lss });
            const model = new Uint8Array(size);
            const dev = await VhdxDevice.open(file, { readOnly: false });
            for (const op of ops) {
              const len = Math.min(op.len, size - Math.min(op.off, size - 1));
              const off = Math.min(op.off, size - len);
              const data = new Uint8Array(len).fill(op.fill);
              model.set(data, off);
              await dev.write(off, data);
            }
            expect(eq(await dev.read(0, size), model)).toBe(true);
            await dev.close();
            const ro = await VhdxDevice.open(file);
            expect(ro.currentHeader.logGuid).toBe(NIL_GUID);
            expect(ro.info().logReplayNeeded).toBe(false);
            expect(eq(await ro.read(0, size), model)).toBe(true);
          },
        ),
        { numRuns: 6 },
      );
    },
  );

  test('a write session refreshes FileWriteGuid and DataWriteGuid, in both headers', async () => {
    const file = await newDisk({ size: 4 * MiB, blockSize: MiB });
    const before = (await VhdxDevice.open(file)).currentHeader;
    const dev = await VhdxDevice.open(file, { readOnly: false });
    const untouched = dev.currentHeader;
    expect(untouched.dataWriteGuid).toBe(before.dataWriteGuid);
    await dev.write(0, new Uint8Array(512).fill(1));
    await dev.close();
    const after = (await VhdxDevice.open(file)).currentHeader;
    expect(after.dataWriteGuid).not.toBe(before.dataWriteGuid);
    expect(after.fileWriteGuid).not.toBe(before.fileWriteGuid);
    expect(after.sequenceNumber).toBeGreaterThan(before.sequenceNumber + 2n);
    // Both header copies carry the same new state.
    const { parseHeader } = await import('../src/index.js');
    const h1 = parseHeader(file.bytes.subarray(64 * 1024));
    const h2 = parseHeader(file.bytes.subarray(128 * 1024));
    expect(h1.dataWriteGuid).toBe(h2.dataWriteGuid);
    expect(h1.logGuid).toBe(NIL_GUID);
    expect(h2.logGuid).toBe(NIL_GUID);
  });

  test('fixed disks are fully allocated and written in place', async () => {
    const file = await newDisk({ size: 5 * MiB, blockSize: 2 * MiB, type: 'fixed' });
    const dev = await VhdxDevice.open(file, { readOnly: false });
    const info = dev.info();
    expect(info.type).toBe('fixed');
    expect(info.allocatedBytes).toBe(6 * MiB);
    for (let b = 0; b < 3; b++) expect(dev.blockEntry(b).state).toBe(PayloadState.FULLY_PRESENT);
    const sizeBefore = file.size;
    await dev.write(MiB, new Uint8Array(MiB).fill(9));
    await dev.close();
    expect(file.size).toBe(sizeBefore);
    const ro = await VhdxDevice.open(file);
    expect((await ro.read(MiB, MiB)).every((x) => x === 9)).toBe(true);
    expect((await ro.read(0, MiB)).every((x) => x === 0)).toBe(true);
  });

  test('read-only devices refuse writes; a parent is required for differencing disks', async () => {
    const file = await newDisk({ size: 2 * MiB, blockSize: MiB });
    const ro = await VhdxDevice.open(file);
    await expect(ro.write(0, new Uint8Array(512))).rejects.toMatchObject({ code: 'READ_ONLY' });
    await expect(
      VhdxDevice.open(new MemoryDevice(file.bytes.slice()), { readOnly: false }),
    ).rejects.toMatchObject({
      code: 'VHDX_NOT_WRITABLE',
    });
  });
});

async function parentInfo(p: VhdxDevice): Promise<DifferencingParent> {
  const i = p.info();
  return {
    dataWriteGuid: p.dataWriteGuid,
    size: i.virtualSize,
    logicalSectorSize: i.logicalSectorSize,
    physicalSectorSize: i.physicalSectorSize,
    blockSize: i.blockSize,
    relativePath: '.\\parent.vhdx',
  };
}

describe('differencing disks in memory', () => {
  test.each([512, 4096] as const)(
    'child reads through to the parent; writes go to the child only (lss %i)',
    async (lss) => {
      const size = 8 * MiB;
      const base = mixedData(size, 2);
      const parentFile = new MemoryFile();
      await convertToVhdx(new MemoryDevice(base), parentFile, { blockSize: MiB, logicalSectorSize: lss });
      const parent = await VhdxDevice.open(parentFile);
      const childFile = await newDisk({ parent: await parentInfo(parent) });
      const child = await VhdxDevice.open(childFile, { readOnly: false, parent });
      expect(child.info().type).toBe('differencing');
      expect(eq(await child.read(0, size), base)).toBe(true);
      const model = base.slice();
      const writes: [number, number, number][] = [
        [lss * 3, lss * 2, 7],
        [MiB - lss, 3 * lss, 8],
        [5 * MiB + 100, 1000, 9], // unaligned: merged with the parent's sector contents
        [2 * MiB, MiB, 10],
      ];
      for (const [off, len, v] of writes) {
        model.fill(v, off, off + len);
        await child.write(off, new Uint8Array(len).fill(v));
      }
      expect(eq(await child.read(0, size), model)).toBe(true);
      expect(child.blockEntry(0).state).toBe(PayloadState.PARTIALLY_PRESENT);
      await child.close();
      expect(eq(await parent.read(0, size), base)).toBe(true);
      const again = await VhdxDevice.open(childFile, { parent });
      expect(eq(await again.read(0, size), model)).toBe(true);
      // Flattening the chain gives the model.
      const flat = new MemoryFile();
      await convertToRaw(again, flat);
      expect(eq(flat.bytes, model)).toBe(true);
    },
  );

  test('parent linkage mismatch and sector size mismatch are refused', async () => {
    const p1 = await VhdxDevice.open(await newDisk({ size: 4 * MiB, blockSize: MiB }));
    const childFile = await newDisk({
      parent: { ...(await parentInfo(p1)), dataWriteGuid: '01234567-0000-4000-8000-000000000000' },
    });
    await expect(VhdxDevice.open(childFile, { parent: p1 })).rejects.toMatchObject({
      code: 'VHDX_PARENT_LINKAGE',
    });
    expect(await VhdxDevice.open(childFile, { parent: p1, checkParentLinkage: false })).toBeInstanceOf(
      VhdxDevice,
    );
    await expect(VhdxDevice.open(childFile)).rejects.toMatchObject({ code: 'VHDX_PARENT_REQUIRED' });
    const p4k = await VhdxDevice.open(
      await newDisk({ size: 4 * MiB, blockSize: MiB, logicalSectorSize: 4096 }),
    );
    await expect(
      VhdxDevice.open(childFile, { parent: p4k, checkParentLinkage: false }),
    ).rejects.toMatchObject({
      code: 'VHDX_PARENT_SECTOR_SIZE',
    });
  });
});

describe('payload states', () => {
  test('ZERO, UNDEFINED, UNMAPPED (3 and the old 5) and NOT_PRESENT read as zeros without a parent', async () => {
    const data = mixedData(6 * MiB, 4).fill(0xee, 0, 6 * MiB);
    const f = new MemoryFile();
    await convertToVhdx(new MemoryDevice(data), f, { blockSize: MiB });
    const dev = await VhdxDevice.open(f);
    const batAt = dev.layout.regions.bat.fileOffset;
    const { writeBatEntry } = await import('../src/index.js');
    const bat = f.bytes.subarray(batAt);
    const states = [
      PayloadState.ZERO,
      PayloadState.UNDEFINED,
      PayloadState.UNMAPPED,
      PayloadState.UNMAPPED_V1,
      PayloadState.NOT_PRESENT,
    ];
    for (const [block, state] of states.entries()) writeBatEntry(bat, block, { state, fileOffset: 0 });
    const again = await VhdxDevice.open(f);
    const all = await again.read(0, 6 * MiB);
    expect(all.subarray(0, 5 * MiB).every((x) => x === 0)).toBe(true);
    expect(all.subarray(5 * MiB).every((x) => x === 0xee)).toBe(true);
    expect(again.mayHaveData(0, 5 * MiB)).toBe(false);
    expect(again.mayHaveData(0, 6 * MiB)).toBe(true);
    // Writing into a ZERO block allocates it; the rest of the block stays zero.
    const rw = await VhdxDevice.open(f, { readOnly: false });
    await rw.write(100 * 512, new Uint8Array(512).fill(1));
    expect(rw.blockEntry(0).state).toBe(PayloadState.FULLY_PRESENT);
    const b0 = await rw.read(0, MiB);
    expect(b0.filter((x) => x !== 0).length).toBe(512);
    await rw.close();
  });
});

describe('convert in memory', () => {
  test('raw → dynamic VHDX leaves zero blocks unallocated; → raw round trip (property over block sizes)', async () => {
    const data = new Uint8Array(10 * MiB + 4096);
    data.fill(3, 2 * MiB, 2 * MiB + 10);
    data.fill(4, 9 * MiB, 10 * MiB + 4096);
    for (const blockSize of [MiB, 2 * MiB, 8 * MiB]) {
      const out = new MemoryFile();
      await convertToVhdx(new MemoryDevice(data), out, { blockSize });
      const dev = await VhdxDevice.open(out);
      const allocated = dev.info().allocatedBytes / blockSize;
      expect(allocated).toBe(blockSize === 8 * MiB ? 2 : 3);
      const back = new MemoryFile();
      await convertToRaw(dev, back);
      expect(eq(back.bytes, data)).toBe(true);
    }
  });
  test('VHDX → VHDX: dynamic with holes to fixed, to a new block size and back (compact)', async () => {
    const data = new Uint8Array(5 * MiB + 512);
    data.fill(5, MiB + 7, 2 * MiB);
    const src = new MemoryFile();
    await convertToVhdx(new MemoryDevice(data), src, { blockSize: MiB });
    const fixed = new MemoryFile();
    await convertToVhdx(await VhdxDevice.open(src), fixed, { type: 'fixed', blockSize: 2 * MiB });
    const f = await VhdxDevice.open(fixed);
    expect(f.info()).toMatchObject({ type: 'fixed', blockSize: 2 * MiB, allocatedBytes: 6 * MiB });
    expect(eq(await f.read(0, f.size), data)).toBe(true);
    const compact = new MemoryFile();
    const stats = await convertToVhdx(f, compact, { blockSize: 4 * MiB, chunkSize: 256 * 1024 });
    const c = await VhdxDevice.open(compact);
    expect(c.info()).toMatchObject({ type: 'dynamic', allocatedBytes: 4 * MiB });
    // Only the four 256 KiB chunks holding data: the rest of the block stays a hole, the zero block
    // is not allocated.
    expect(stats.bytesWritten).toBe(MiB);
    expect(eq(await c.read(0, c.size), data)).toBe(true);
  });

  test('a converted file ends at its last allocated block, whatever the chunk size', async () => {
    // Data in blocks 0, 3 and 7 of 8: the file grows ahead in steps while converting and is cut
    // back to exactly three blocks after the payload area at the end.
    const data = new Uint8Array(8 * MiB);
    for (const b of [0, 3, 7]) data.fill(b + 1, b * MiB + 4096, b * MiB + 8192);
    for (const chunkSize of [64 * 1024, MiB]) {
      const out = new MemoryFile();
      await convertToVhdx(new MemoryDevice(data), out, { blockSize: MiB, chunkSize });
      const d = await VhdxDevice.open(out);
      const offsets = [0, 3, 7].map((b) => d.blockEntry(b).fileOffset);
      expect(offsets[1]).toBe(offsets[0]! + MiB);
      expect(offsets[2]).toBe(offsets[1]! + MiB);
      expect(out.size).toBe(offsets[2]! + MiB);
      expect(d.info().allocatedBytes).toBe(3 * MiB);
      expect(eq(await d.read(0, d.size), data)).toBe(true);
    }
  });

  test('progress is reported and an abort stops the conversion', async () => {
    const seen: number[] = [];
    await convertToVhdx(new MemoryDevice(4 * MiB), new MemoryFile(), {
      blockSize: MiB,
      onProgress: (d) => seen.push(d),
    });
    expect(seen.at(-1)).toBe(4 * MiB);
    const ac = new AbortController();
    ac.abort();
    await expect(
      convertToVhdx(new MemoryDevice(4 * MiB), new MemoryFile(), { signal: ac.signal }),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });
});
