import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
import { FatFileSystem, checkFat, mkfs } from '@lsvm/fat';
import { describeWithPeers, run, tempDir } from '@lsvm/testkit';

type Corruption = (dev: MemoryDevice, fs: FatFileSystem) => Promise<void>;

function clusterOffset(fs: FatFileSystem, c: number): number {
  const g = fs.geometry;
  return (g.firstDataSector + (c - 2) * (g.clusterSize / g.bytesPerSector)) * g.bytesPerSector;
}

/** Rewrites FAT entry `n` in every copy to `v` (FAT16 images here). */
async function setFat16(
  dev: MemoryDevice,
  fs: FatFileSystem,
  n: number,
  v: number,
  copies = [0, 1],
): Promise<void> {
  const g = fs.geometry;
  for (const k of copies) {
    const at = (g.firstFatSector + k * g.fatSectors) * g.bytesPerSector + n * 2;
    await dev.write(at, new Uint8Array([v & 0xff, v >> 8]));
  }
}

/** Each corruption, the finding code we must report; fsck.fat -n must also complain (exit 1). */
const CASES: [string, string, Corruption][] = [
  [
    'lost clusters',
    'FAT_LOST_CLUSTERS',
    async (dev, fs) => {
      await setFat16(dev, fs, fs.geometry.clusterCount - 5, 0xffff);
    },
  ],
  [
    'file longer than its chain',
    'FAT_SIZE_MISMATCH',
    async (dev, fs) => {
      const s = await fs.stat('/file.bin');
      await setFat16(dev, fs, s.firstCluster, 0xffff); // chain cut to one cluster
    },
  ],
  [
    'cross-linked files',
    'FAT_CROSS_LINKED',
    async (dev, fs) => {
      const a = await fs.stat('/file.bin');
      const b = await fs.stat('/other.bin');
      await setFat16(dev, fs, b.firstCluster, a.firstCluster + 1);
    },
  ],
  [
    "a wrong '..' entry",
    'FAT_BAD_DOTDOT',
    async (dev, fs) => {
      const d = await fs.stat('/dir/sub');
      await dev.write(clusterOffset(fs, d.firstCluster) + 32 + 26, new Uint8Array([0x7f, 0]));
    },
  ],
  [
    'FAT copies that differ',
    'FAT_COPIES_DIFFER',
    async (dev, fs) => {
      await setFat16(dev, fs, fs.geometry.clusterCount - 9, 0xffff, [1]);
    },
  ],
  [
    'a chain running into a free cluster',
    'FAT_FREE_IN_CHAIN',
    async (dev, fs) => {
      const s = await fs.stat('/file.bin');
      await setFat16(dev, fs, s.firstCluster + 1, 0);
    },
  ],
];

async function sample(): Promise<{ dev: MemoryDevice; fs: FatFileSystem }> {
  const dev = new MemoryDevice(8 << 20);
  await mkfs(dev, { type: 16 });
  const fs = await FatFileSystem.open(dev);
  await fs.writeFile('/file.bin', new Uint8Array(10_000).fill(1));
  await fs.writeFile('/other.bin', new Uint8Array(5000).fill(2));
  await fs.mkdir('/dir/sub', { parents: true });
  await fs.close();
  return { dev, fs };
}

describe('checkFat', () => {
  test('a fresh volume is clean and the counts add up', async () => {
    const { fs } = await sample();
    const r = await checkFat(fs);
    expect(r.clean).toBe(true);
    expect(r.files).toBe(2);
    expect(r.directories).toBe(2);
    expect(r.usedClusters + r.freeClusters).toBe(fs.geometry.clusterCount);
  });

  test.each(CASES)('finds %s', async (_title, code, corrupt) => {
    const { dev, fs } = await sample();
    await corrupt(dev, fs);
    const r = await checkFat(await FatFileSystem.open(dev, { readOnly: true }));
    expect(r.clean).toBe(false);
    expect(r.findings.map((f) => f.code)).toContain(code);
  });
});

describeWithPeers(['fsck.fat'], 'checkFat agrees with fsck.fat -n', () => {
  const tmp = tempDir('lsvm-fatcheck-');
  afterAll(() => tmp.cleanup());
  test.each(CASES)('fsck.fat also complains about %s', async (title, _code, corrupt) => {
    const { dev, fs } = await sample();
    const img = join(tmp.path, `${title.replace(/\W+/g, '_')}.img`);
    writeFileSync(img, dev.bytes);
    expect(run('fsck.fat', ['-n', img]).status).toBe(0);
    await corrupt(dev, fs);
    writeFileSync(img, dev.bytes);
    expect(run('fsck.fat', ['-n', img]).status).not.toBe(0);
  });
});
