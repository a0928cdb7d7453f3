import { closeSync, openSync, writeSync, ftruncateSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  FileDevice,
  IoError,
  MemoryDevice,
  ReadOnlyDevice,
  SliceDevice,
  UsageError,
  forEachChunk,
  isWasmBacked,
} from '../src/index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lsvm-core-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MemoryDevice, SliceDevice, ReadOnlyDevice', () => {
  test('slices translate and confine I/O', async () => {
    const disk = new MemoryDevice(4096);
    const part = new SliceDevice(disk, 1024, 1024);
    await part.write(0, Uint8Array.of(1, 2, 3));
    expect(Array.from(disk.bytes.subarray(1024, 1027))).toEqual([1, 2, 3]);
    await expect(part.read(1000, 100)).rejects.toThrow(IoError);
    await expect(part.write(1023, Uint8Array.of(1, 2))).rejects.toThrow(IoError);
    expect(() => new SliceDevice(disk, 4000, 200)).toThrow(IoError);
    await expect(part.read(-1, 1)).rejects.toThrow(UsageError);
    await expect(part.read(0.5, 1)).rejects.toThrow(UsageError);
  });

  test('read-only guard refuses writes', async () => {
    const ro = new ReadOnlyDevice(new MemoryDevice(512));
    expect(ro.readOnly).toBe(true);
    await expect(ro.write(0, Uint8Array.of(1))).rejects.toMatchObject({ code: 'READ_ONLY' });
  });

  test('nested slices read what the parent holds (property)', async () => {
    const base = new MemoryDevice(Uint8Array.from({ length: 2048 }, (_, i) => (i * 7) & 0xff));
    await fc.assert(
      fc.asyncProperty(fc.nat(1024), fc.nat(512), fc.nat(256), fc.nat(256), async (a, b, off, len) => {
        const s1 = new SliceDevice(base, a, 1024);
        const s2 = new SliceDevice(s1, b, 512);
        const o = Math.min(off, 511);
        const n = Math.min(len, 512 - o);
        const got = await s2.read(o, n);
        expect(got).toEqual(base.bytes.subarray(a + b + o, a + b + o + n));
      }),
    );
  });

  test('forEachChunk streams the whole device with a reused buffer', async () => {
    const dev = new MemoryDevice(Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff));
    let total = 0;
    let sum = 0;
    await forEachChunk(
      dev,
      (c) => {
        total += c.length;
        for (const x of c) sum += x;
      },
      { chunkSize: 3000 },
    );
    expect(total).toBe(10_000);
    expect(sum).toBe(dev.bytes.reduce((a, x) => a + x, 0));
  });

  test('forEachChunk hands out a page-aligned buffer and refuses a chunk size that cannot make progress', async () => {
    const dev = new MemoryDevice(new Uint8Array(8192));
    const seen: Uint8Array[] = [];
    await forEachChunk(dev, (c) => void seen.push(c), { chunkSize: 4096 });
    expect(seen).toHaveLength(2);
    expect(isWasmBacked(seen[0]!)).toBe(true);
    for (const chunkSize of [0, -1, 1.5, Number.NaN]) {
      await expect(forEachChunk(dev, () => undefined, { chunkSize })).rejects.toMatchObject({
        name: 'UsageError',
        code: 'BAD_SIZE',
      });
    }
  });
});

describe('FileDevice', () => {
  test('reads and writes, and refuses writes when read-only', async () => {
    const p = join(dir, 'a.img');
    writeFileSync(p, new Uint8Array(8192));
    const dev = await FileDevice.open(p, { readOnly: false });
    await dev.write(4095, Uint8Array.of(9, 8));
    await dev.flush();
    expect(Array.from(await dev.read(4094, 4))).toEqual([0, 9, 8, 0]);
    await dev.close();
    const ro = await FileDevice.open(p);
    await expect(ro.write(0, Uint8Array.of(1))).rejects.toMatchObject({ code: 'READ_ONLY' });
    await ro.close();
    await expect(ro.read(0, 1)).rejects.toMatchObject({ code: 'DEVICE_CLOSED' });
  });

  test('files larger than 4 GiB: reads across the 4 GiB boundary (sparse file)', async () => {
    const p = join(dir, 'big.img');
    const fd = openSync(p, 'w');
    ftruncateSync(fd, 5 * 2 ** 30);
    writeSync(fd, Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd), 0, 4, 2 ** 32 - 2);
    closeSync(fd);
    const dev = await FileDevice.open(p);
    expect(dev.size).toBe(5 * 2 ** 30);
    expect(Array.from(await dev.read(2 ** 32 - 3, 6))).toEqual([0, 0xaa, 0xbb, 0xcc, 0xdd, 0]);
    await dev.close();
  });

  test('a file shrunk under the device gives a SHORT_READ error with the offset, not zeros', async () => {
    const p = join(dir, 'shrink.img');
    writeFileSync(p, new Uint8Array(4096));
    const dev = await FileDevice.open(p);
    writeFileSync(p, new Uint8Array(1024));
    await expect(dev.read(512, 1024)).rejects.toMatchObject({ code: 'SHORT_READ', offset: 1024 });
    await dev.close();
  });

  test('create with size makes a sparse file; missing file is an IoError', async () => {
    const p = join(dir, 'new.img');
    const dev = await FileDevice.open(p, { create: true, size: 1 << 20 });
    expect(dev.size).toBe(1 << 20);
    await dev.resize(2 << 20);
    expect(dev.size).toBe(2 << 20);
    await dev.close();
    await expect(FileDevice.open(join(dir, 'missing.img'))).rejects.toMatchObject({ code: 'OPEN_FAILED' });
  });

  test('size: an existing file of another size is truncated or extended; one of that size is left alone', async () => {
    const p = join(dir, 'sized.img');
    writeFileSync(p, new Uint8Array(4096).fill(7));
    let dev = await FileDevice.open(p, { create: true, size: 4096 });
    expect(await dev.read(0, 4)).toEqual(new Uint8Array(4).fill(7));
    await dev.close();
    dev = await FileDevice.open(p, { create: true, size: 0 });
    expect(dev.size).toBe(0);
    await dev.resize(8);
    expect(await dev.read(0, 8)).toEqual(new Uint8Array(8));
    await dev.close();
    await expect(FileDevice.open(p, { size: 0 })).rejects.toMatchObject({ code: 'READ_ONLY' });
  });
});
