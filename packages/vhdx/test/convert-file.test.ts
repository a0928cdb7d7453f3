import { linkSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice } from '@lsvm/core';
import { tempDir } from '@lsvm/testkit';
import { convertFile, convertToRaw, convertToVhdx, createVhdxFile, openVhdxFile } from '../src/index.js';
import { dirtyImage, mixedData } from './helpers.js';

const MiB = 1 << 20;
const KiB = 1024;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('lsvm-vhdx-convertfile-');
});
afterAll(() => tmp.cleanup());
const p = (name: string): string => join(tmp.path, name);
const DISK_ID = '6f1e3a52-9c1b-4c1e-8d3e-2a7b5c9d0e11';

/** The two 4 KiB headers (at 64 and 128 KiB) hold fresh random write GUIDs: blank them. */
function withoutHeaders(bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  b.fill(0, 64 * KiB, 64 * KiB + 4 * KiB);
  b.fill(0, 128 * KiB, 128 * KiB + 4 * KiB);
  return b;
}

/** The pipelined path on FileDevices, for comparison with convertFile's synchronous one. */
async function pipelined(input: string, output: string, to: 'raw' | 'vhdx', o: object): Promise<void> {
  const src = await FileDevice.open(input);
  const out = await FileDevice.open(output, { create: true, size: 0 });
  try {
    if (to === 'vhdx') await convertToVhdx(src, out, o);
    else await convertToRaw(src, out, o);
  } finally {
    await out.close();
    await src.close();
  }
}

describe('convertFile from a raw file (synchronous path)', () => {
  // Sizes not a multiple of the block or chunk size, zero runs of various lengths.
  const cases = [
    { type: 'dynamic', bs: MiB, chunkSize: 64 * KiB, size: 5 * MiB + 512 },
    { type: 'dynamic', bs: 2 * MiB, chunkSize: undefined, size: 7 * MiB + 3 * 4096 },
    { type: 'fixed', bs: 2 * MiB, chunkSize: 128 * KiB, size: 5 * MiB + 4096 },
  ] as const;
  test.each(cases)('$type, block $bs, chunk $chunkSize: the same bytes as the pipelined path', async (c) => {
    const name = `${c.type}-${c.bs}-${c.chunkSize}`;
    const data = mixedData(c.size, 5);
    // A whole zero block in the middle, which a dynamic disk leaves unallocated.
    data.fill(0, 2 * MiB, 4 * MiB);
    writeFileSync(p(`${name}.raw`), data);
    const o = { type: c.type, blockSize: c.bs, diskId: DISK_ID, chunkSize: c.chunkSize };
    const stats = await convertFile(p(`${name}.raw`), p(`${name}.s.vhdx`), o);
    await pipelined(p(`${name}.raw`), p(`${name}.a.vhdx`), 'vhdx', o);
    const sync = readFileSync(p(`${name}.s.vhdx`));
    expect(withoutHeaders(sync).equals(withoutHeaders(readFileSync(p(`${name}.a.vhdx`))))).toBe(true);
    expect(stats.bytesRead).toBe(c.size);
    const dev = await openVhdxFile(p(`${name}.s.vhdx`));
    try {
      expect(Buffer.from(await dev.read(0, c.size)).equals(Buffer.from(data))).toBe(true);
      const blocks = Math.ceil(c.size / c.bs);
      const zeroBlocks = c.type === 'dynamic' ? (2 * MiB) / c.bs : 0;
      expect(dev.info().allocatedBytes).toBe((blocks - zeroBlocks) * c.bs);
      // The file ends exactly at the end of its last allocated block.
      const ends = Array.from({ length: blocks }, (_, b) => dev.blockEntry(b))
        .filter((e) => e.fileOffset > 0)
        .map((e) => e.fileOffset + c.bs);
      expect(sync.length).toBe(Math.max(...ends));
    } finally {
      await dev.close();
    }
  });

  test('raw → raw keeps zero chunks as holes and the bytes identical', async () => {
    const data = mixedData(3 * MiB + 4096, 2);
    writeFileSync(p('r.raw'), data);
    const stats = await convertFile(p('r.raw'), p('r.out'), { to: 'raw' });
    expect(readFileSync(p('r.out')).equals(Buffer.from(data))).toBe(true);
    const zeroChunks = stats.bytesRead - stats.bytesWritten;
    expect(zeroChunks).toBeGreaterThan(0);
    expect(statSync(p('r.out')).blocks * 512).toBeLessThanOrEqual(stats.bytesWritten + 64 * KiB);
  });

  test('progress reaches the total; an abort stops the conversion with a typed error', async () => {
    // A 64 MiB hole: nothing to write, several 8 MiB slices.
    writeFileSync(p('big.raw'), new Uint8Array(0));
    truncateSync(p('big.raw'), 64 * MiB);
    const seen: number[] = [];
    await convertFile(p('big.raw'), p('big.vhdx'), { onProgress: (d) => seen.push(d) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(64 * MiB);
    const ac = new AbortController();
    setImmediate(() => ac.abort());
    await expect(convertFile(p('big.raw'), p('big2.vhdx'), { signal: ac.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });

  test('a 72 MiB disk of mixed data converts both ways byte-exact through the synchronous loop', async () => {
    // 72 MiB + 4 KiB: mixed 256 KiB pieces, a short last chunk, several 8 MiB slices.
    const data = mixedData(72 * MiB + 4 * KiB, 5);
    writeFileSync(p('w.raw'), data);
    const a = await convertFile(p('w.raw'), p('w1.vhdx'), { blockSize: 8 * MiB, diskId: DISK_ID });
    expect(a.bytesWritten).toBeLessThan(data.length);
    const c = await convertFile(p('w1.vhdx'), p('w1.raw'), { to: 'raw' });
    expect(c.bytesWritten).toBe(a.bytesWritten);
    expect(readFileSync(p('w1.raw')).equals(Buffer.from(data))).toBe(true);
  });

  test('an abort in the middle of the payload leaves an output no reader opens', async () => {
    const ac = new AbortController();
    let aborted = false;
    const run = convertFile(p('w.raw'), p('w3.vhdx'), {
      signal: ac.signal,
      onProgress: (done) => {
        if (!aborted && done >= 16 * MiB) {
          aborted = true;
          ac.abort();
        }
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    // The output is left as it was when the writes stopped: not a VHDX file (no headers yet).
    await expect(openVhdxFile(p('w3.vhdx'))).rejects.toMatchObject({ name: 'FormatError' });
  });

  test('an existing output is replaced, whatever its size (new outputs are not truncated)', async () => {
    const data = mixedData(3 * MiB, 4);
    writeFileSync(p('x.raw'), data);
    for (const [out, to] of [
      ['x.vhdx', 'vhdx'],
      ['x.out', 'raw'],
    ] as const) {
      writeFileSync(p(out), new Uint8Array(9 * MiB).fill(0xee));
      await convertFile(p('x.raw'), p(out), { to, blockSize: MiB, diskId: DISK_ID });
    }
    expect(readFileSync(p('x.out')).equals(Buffer.from(data))).toBe(true);
    // VHDX → raw goes through FileDevice: replaced the same way.
    writeFileSync(p('y.out'), new Uint8Array(5 * MiB).fill(0xee));
    await convertFile(p('x.vhdx'), p('y.out'));
    expect(readFileSync(p('y.out')).equals(Buffer.from(data))).toBe(true);
  });
});

describe('convertFile from a VHDX file (synchronous path)', () => {
  /** VHDX → raw through FileDevice and the promise pipeline, for comparison. */
  async function pipelinedFromVhdx(input: string, output: string): Promise<object> {
    const src = await openVhdxFile(input);
    const out = await FileDevice.open(output, { create: true, size: 0 });
    try {
      expect(src.syncReader()).toBeUndefined(); // FileDevice: no synchronous I/O
      return await convertToRaw(src, out);
    } finally {
      await out.close();
      await src.close();
    }
  }

  test.each([
    { bs: MiB, size: 6 * MiB + 512, chunkSize: 64 * KiB },
    { bs: 2 * MiB, size: 9 * MiB + 4096, chunkSize: undefined },
  ])('block $bs, chunk $chunkSize: same bytes and stats as the pipelined path, holes unread', async (c) => {
    const name = `v-${c.bs}-${c.chunkSize}`;
    const data = mixedData(c.size, 7);
    data.fill(0, 2 * MiB, 4 * MiB); // unallocated in the VHDX
    data.fill(0, 5 * MiB, 5 * MiB + 128 * KiB); // a zero chunk inside an allocated block
    writeFileSync(p(`${name}.raw`), data);
    await convertFile(p(`${name}.raw`), p(`${name}.vhdx`), { blockSize: c.bs });
    const dev = await openVhdxFile(p(`${name}.vhdx`), { syncIo: true });
    const allocated = dev.info().allocatedBytes;
    expect(dev.syncReader()).toBeDefined();
    await dev.close();
    const stats = await convertFile(p(`${name}.vhdx`), p(`${name}.s.raw`), { chunkSize: c.chunkSize });
    const astats = await pipelinedFromVhdx(p(`${name}.vhdx`), p(`${name}.a.raw`));
    expect(readFileSync(p(`${name}.s.raw`)).equals(Buffer.from(data))).toBe(true);
    expect(readFileSync(p(`${name}.a.raw`)).equals(Buffer.from(data))).toBe(true);
    if (c.chunkSize === undefined) expect(stats).toEqual(astats);
    // Only allocated blocks are read (the last one may be clipped by the disk's end).
    expect(stats.bytesRead).toBeLessThanOrEqual(allocated);
    expect(stats.bytesRead).toBeGreaterThan(allocated - c.bs);
  });

  test('VHDX → VHDX copies through the synchronous loop, never reading unallocated blocks', async () => {
    // Every other 1 MiB block holds data; the rest are holes of the raw file, unallocated in the VHDX.
    const data = new Uint8Array(12 * MiB);
    for (let b = 0; b < 12; b += 2) data.set(mixedData(MiB, b + 1), b * MiB);
    writeFileSync(p('vv.raw'), data);
    await convertFile(p('vv.raw'), p('vv.vhdx'), { blockSize: MiB });
    const stats = await convertFile(p('vv.vhdx'), p('vv2.vhdx'), { blockSize: 2 * MiB });
    expect(stats.bytesRead).toBe(6 * MiB);
    // The pipelined path (FileDevice underneath, four reads in flight) counts the same.
    const src = await openVhdxFile(p('vv.vhdx'));
    const out = await FileDevice.open(p('vv4.vhdx'), { create: true, size: 0 });
    try {
      expect((await convertToVhdx(src, out, { blockSize: 2 * MiB, chunkSize: 256 * KiB })).bytesRead).toBe(
        6 * MiB,
      );
    } finally {
      await out.close();
      await src.close();
    }
    const back = await convertFile(p('vv2.vhdx'), p('vv2.raw'), { to: 'raw' });
    expect(back.virtualSize).toBe(12 * MiB);
    expect(readFileSync(p('vv2.raw')).equals(Buffer.from(data))).toBe(true);
    // A fixed output reads the unallocated ranges as zeros and allocates every block.
    const fixed = await convertFile(p('vv.vhdx'), p('vv3.vhdx'), { type: 'fixed', blockSize: MiB });
    expect(fixed.bytesWritten).toBe(12 * MiB);
    await convertFile(p('vv3.vhdx'), p('vv3.raw'), { to: 'raw' });
    expect(readFileSync(p('vv3.raw')).equals(Buffer.from(data))).toBe(true);
  });

  test('a differencing child or a log needing replay falls back to the asynchronous path', async () => {
    const data = mixedData(4 * MiB, 3);
    writeFileSync(p('base.raw'), data);
    await convertFile(p('base.raw'), p('base.vhdx'), { blockSize: MiB });
    await createVhdxFile(p('child.vhdx'), { parentPath: p('base.vhdx') });
    const child = await openVhdxFile(p('child.vhdx'), { syncIo: true });
    expect(child.syncReader()).toBeUndefined();
    await child.close();
    await convertFile(p('child.vhdx'), p('child.raw'));
    expect(readFileSync(p('child.raw')).equals(Buffer.from(data))).toBe(true);

    const dirty = await dirtyImage();
    writeFileSync(p('dirty.vhdx'), dirty.bytes);
    const d = await openVhdxFile(p('dirty.vhdx'), { syncIo: true });
    expect(d.logReplayNeeded).toBe(true);
    expect(d.syncReader()).toBeUndefined();
    await d.close();
    await convertFile(p('dirty.vhdx'), p('dirty.raw'));
    expect(readFileSync(p('dirty.raw')).equals(Buffer.from(dirty.expected))).toBe(true);
    // The read-only conversion left the dirty file untouched.
    expect(readFileSync(p('dirty.vhdx')).equals(Buffer.from(dirty.bytes))).toBe(true);
  });
});

test('an output that is the input through a symbolic or hard link is refused, and the input kept', async () => {
  const data = mixedData(1 << 20, 9);
  writeFileSync(p('keep.raw'), data);
  symlinkSync(p('keep.raw'), p('keep-sym.raw'));
  linkSync(p('keep.raw'), p('keep-hard.raw'));
  for (const out of ['keep-sym.raw', 'keep-hard.raw']) {
    await expect(convertFile(p('keep.raw'), p(out), { to: 'raw' })).rejects.toMatchObject({
      code: 'VHDX_SAME_FILE',
    });
  }
  expect(readFileSync(p('keep.raw')).equals(Buffer.from(data))).toBe(true);
});
