import { LsvmError, MemoryDevice } from '@lsvm/core';
import { FatFileSystem, checkFat, mkfs } from '@lsvm/fat';
import fc from 'fast-check';

async function sample(type: 12 | 16 | 32): Promise<MemoryDevice> {
  const dev = new MemoryDevice(type === 32 ? 34 << 20 : 3 << 20);
  await mkfs(dev, { type, volumeId: 5, label: 'X' });
  const fs = await FatFileSystem.open(dev);
  await fs.writeFile('/dir/sub/a file with a long name.txt', new Uint8Array(3000).fill(1), {
    createParents: true,
  });
  await fs.writeFile('/b.bin', new Uint8Array(700).fill(2));
  await fs.mkdir('/empty');
  await fs.close();
  return dev;
}

/** Open, walk, read every file, check: the only errors allowed are LsvmErrors. */
async function exercise(dev: MemoryDevice): Promise<void> {
  try {
    const fs = await FatFileSystem.open(dev, { readOnly: true, limits: { maxTotalEntries: 5000 } });
    for await (const s of fs.walk()) if (!s.isDirectory) await fs.readFile(s.path);
    await checkFat(fs);
  } catch (e) {
    if (!(e instanceof LsvmError)) throw e;
  }
}

describe('FAT on hostile input', () => {
  test.each([12, 16, 32] as const)(
    'FAT%i: random byte changes in the metadata give LsvmErrors or findings, nothing else',
    async (type) => {
      const base = await sample(type);
      // Mutations land in the first 160 KiB: boot sector, FATs, root and the first directories.
      const span = Math.min(base.size, 160 * 1024);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ at: fc.nat({ max: span - 1 }), v: fc.integer({ min: 0, max: 255 }) }), {
            minLength: 1,
            maxLength: 12,
          }),
          async (muts) => {
            // Mutate in place and restore: copying a 34 MiB image per run would dominate the time.
            const saved = muts.map((m) => base.bytes[m.at]!);
            for (const m of muts) base.bytes[m.at] = m.v;
            try {
              await exercise(new MemoryDevice(base.bytes, { readOnly: true }));
            } finally {
              for (let i = muts.length - 1; i >= 0; i--) base.bytes[muts[i]!.at] = saved[i]!;
            }
          },
        ),
        { numRuns: 100 },
      );
    },
  );

  test('truncated and empty devices are FormatErrors', async () => {
    await expect(FatFileSystem.open(new MemoryDevice(100))).rejects.toMatchObject({ code: 'FAT_TOO_SMALL' });
    const dev = await sample(16);
    await expect(FatFileSystem.open(new MemoryDevice(dev.bytes.slice(0, 64 * 1024)))).rejects.toMatchObject({
      code: 'FAT_DEVICE_TOO_SMALL',
    });
  });

  test('a directory that points at its parent is reported, not walked forever', async () => {
    const dev = await sample(32);
    const fs = await FatFileSystem.open(dev);
    const dir = await fs.stat('/dir');
    const sub = await fs.stat('/dir/sub');
    // Make /dir/sub/loop a directory entry pointing back at /dir.
    await fs.mkdir('/dir/sub/loop');
    const loop = await fs.stat('/dir/sub/loop');
    await fs.writeBack(); // the new entry is staged until then; the bytes are edited on the device
    const subBytes = await dev.read(clusterOffset(fs, sub.firstCluster), 512);
    for (let off = 0; off < 512; off += 32) {
      const lo = subBytes[off + 26]! | (subBytes[off + 27]! << 8);
      if (lo === loop.firstCluster && subBytes[off]! !== 0x2e) {
        subBytes[off + 26] = dir.firstCluster & 0xff;
        subBytes[off + 27] = dir.firstCluster >> 8;
      }
    }
    await dev.write(clusterOffset(fs, sub.firstCluster), subBytes);
    const again = await FatFileSystem.open(dev, { readOnly: true });
    await expect(async () => {
      for await (const _ of again.walk()) {
        // walk
      }
    }).rejects.toMatchObject({ code: 'FAT_DIRECTORY_LOOP' });
    const report = await checkFat(again);
    expect(report.findings.map((f) => f.code)).toEqual(
      expect.arrayContaining(['FAT_CROSS_LINKED', 'FAT_LOST_CLUSTERS']),
    );
  });
});

function clusterOffset(fs: FatFileSystem, c: number): number {
  const g = fs.geometry;
  return (g.firstDataSector + (c - 2) * (g.clusterSize / g.bytesPerSector)) * g.bytesPerSector;
}
