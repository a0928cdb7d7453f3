import { BaseBlockDevice, IoError, LsvmError, MemoryDevice } from '@lsvm/core';
import { FatFileSystem, checkFat, mkfs } from '@lsvm/fat';
import { bytes } from './helpers.js';

/** A memory device whose next `failWrites` writes fail with an I/O error (a transient fault). */
class FlakyDevice extends BaseBlockDevice {
  readonly inner: MemoryDevice;
  failWrites = 0;
  readonly readOnly = false;
  constructor(inner: MemoryDevice) {
    super();
    this.inner = inner;
  }
  get size(): number {
    return this.inner.size;
  }
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  protected readAt(target: Uint8Array, offset: number): Promise<void> {
    return this.inner.readInto(target, offset);
  }
  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new IoError('EIO_TEST', 'transient write error');
    }
    await this.inner.write(offset, data);
  }
  override async flush(): Promise<void> {}
}

describe('FAT write-back: failures and races never report success for lost changes', () => {
  test('a directory created in this write-back window is never evicted from the cache before it is on the device', async () => {
    // 300 new directories overflow the 256-entry cache while their bodies are only staged.
    const dev = new MemoryDevice(64 << 20);
    await mkfs(dev, { type: 32, volumeId: 7 });
    const fs = await FatFileSystem.open(dev);
    for (let i = 0; i < 300; i++) await fs.mkdir(`/d${i}`);
    await fs.writeFile('/d5/x.txt', bytes(3, 1));
    expect((await fs.list('/d5')).map((s) => s.name)).toEqual(['x.txt']);
    await fs.close();
    const again = await FatFileSystem.open(dev, { readOnly: true });
    expect((await checkFat(again)).findings).toEqual([]);
    expect(await again.readFile('/d5/x.txt')).toEqual(bytes(3, 1));
  });

  test.each([
    ['flush', (fs: FatFileSystem) => fs.flush()],
    ['close', (fs: FatFileSystem) => fs.close()],
    ['writeBack', (fs: FatFileSystem) => fs.writeBack()],
  ] as const)(
    'after a failed write-out in %s, every later flush, close and change throws FAT_FAILED',
    async (_n, op) => {
      const base = new MemoryDevice(8 << 20);
      await mkfs(base, { type: 16, volumeId: 7 });
      const dev = new FlakyDevice(base);
      const fs = await FatFileSystem.open(dev);
      await fs.writeFile('/a.txt', bytes(7, 1));
      await fs.writeFile('/b.txt', bytes(7, 2));
      dev.failWrites = 1;
      await expect(op(fs)).rejects.toMatchObject({ code: 'EIO_TEST' });
      for (const retry of [() => fs.flush(), () => fs.writeBack(), () => fs.close()]) {
        await expect(retry()).rejects.toMatchObject({ code: 'FAT_FAILED' });
      }
      await expect(fs.writeFile('/c.txt', bytes(1, 3))).rejects.toMatchObject({ code: 'FAT_FAILED' });
      await expect(fs.mkdir('/d')).rejects.toBeInstanceOf(LsvmError);
      // The volume was never marked clean over the lost files.
      const again = await FatFileSystem.open(base, { readOnly: true });
      expect((await checkFat(again)).findings.map((f) => f.code)).toContain('FAT_DIRTY');
    },
  );

  test('a write-out that fails inside a change fails the file system too', async () => {
    const base = new MemoryDevice(8 << 20);
    await mkfs(base, { type: 16, volumeId: 7 });
    const dev = new FlakyDevice(base);
    const fs = await FatFileSystem.open(dev);
    await fs.writeFile('/a.txt', bytes(7, 1));
    dev.failWrites = 1;
    // A remove writes out what was staged before it starts: that write-out fails.
    await expect(fs.remove('/a.txt')).rejects.toMatchObject({ code: 'EIO_TEST' });
    await expect(fs.flush()).rejects.toMatchObject({ code: 'FAT_FAILED' });
    await expect(fs.writeFile('/b.txt', bytes(1, 2))).rejects.toMatchObject({ code: 'FAT_FAILED' });
  });

  test('the first change after opening fails the file system when clearing the clean bit fails', async () => {
    const base = new MemoryDevice(8 << 20);
    await mkfs(base, { type: 16, volumeId: 7 });
    const dev = new FlakyDevice(base);
    const fs = await FatFileSystem.open(dev);
    dev.failWrites = 1;
    await expect(fs.writeFile('/a.txt', bytes(7, 1))).rejects.toMatchObject({ code: 'EIO_TEST' });
    await expect(fs.close()).rejects.toMatchObject({ code: 'FAT_FAILED' });
  });

  test('a change issued while close() runs is refused with FAT_CLOSED, not silently dropped', async () => {
    const base = new MemoryDevice(8 << 20);
    await mkfs(base, { type: 16, volumeId: 7 });
    const fs = await FatFileSystem.open(base);
    await fs.writeFile('/a.txt', bytes(1, 1));
    const closing = fs.close();
    await expect(fs.writeFile('/late.txt', bytes(4, 2))).rejects.toMatchObject({ code: 'FAT_CLOSED' });
    await closing;
    await fs.close();
    await fs.flush();
    const again = await FatFileSystem.open(base, { readOnly: true });
    expect((await again.list('/')).map((s) => s.name)).toEqual(['a.txt']);
    expect((await checkFat(again)).findings).toEqual([]);
  });

  test.each([2 ** 53, Number.MAX_SAFE_INTEGER, 2 ** 40, -1, 1.5, Number.NaN])(
    'writeBackBytes %p is refused with a UsageError',
    async (writeBackBytes) => {
      const base = new MemoryDevice(8 << 20);
      await mkfs(base, { type: 16, volumeId: 7 });
      await expect(FatFileSystem.open(base, { writeBackBytes })).rejects.toMatchObject({
        code: 'FAT_BAD_OPTION',
      });
    },
  );
});
