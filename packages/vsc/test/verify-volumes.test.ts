import fc from 'fast-check';
import { type Catalog, type VolumesReport, buildCatalog, verifyVolumes } from '../src/index.js';
import { type TestDisk, makeDisk } from './disk.js';

const BLOCK = 64 * 1024;
let disk: TestDisk;
let catalog: Catalog;

beforeAll(async () => {
  disk = makeDisk();
  catalog = await buildCatalog(
    {
      name: 't',
      version: '1.0.0.0',
      disk: disk.identity,
      volumes: [disk.boot, disk.root],
      certificates: [new Uint8Array([0x30, 0])],
    },
    { blockSize: BLOCK, workers: 2 },
  );
});

async function check(
  options: { firstDifference?: boolean } = {},
  partitions = disk.all,
  identity = disk.identity,
): Promise<VolumesReport> {
  return verifyVolumes(catalog, identity, partitions, { workers: 1, ...options });
}

/** Flips one byte of the disk at `offset`, runs `f`, restores it. */
async function withFlip<T>(offset: number, f: () => Promise<T>): Promise<T> {
  disk.disk.bytes[offset]! ^= 0x5a;
  try {
    return await f();
  } finally {
    disk.disk.bytes[offset]! ^= 0x5a;
  }
}

describe('verifyVolumes', () => {
  it('matches the untouched disk', async () => {
    const r = await check();
    expect(r.match).toBe(true);
    expect(r.volumes.map((v) => [v.index, v.role, v.status])).toEqual([
      [2, 'boot', 'match'],
      [3, 'root', 'match'],
    ]);
  });

  it('names the partition and the block of any flipped byte in a protected partition', async () => {
    const rootLen = disk.root.device.size;
    const cases: [typeof disk.boot, number][] = [
      [disk.boot, 0],
      [disk.boot, BLOCK - 1],
      [disk.boot, BLOCK],
      [disk.boot, disk.boot.device.size - 1],
      [disk.root, 12345],
      [disk.root, rootLen - 1], // inside the short last block
    ];
    for (const [part, off] of cases) {
      const r = await withFlip(part.firstLba * 512 + off, () => check());
      const v = r.volumes.find((x) => x.index === part.index)!;
      const block = Math.floor(off / BLOCK);
      expect(r.match).toBe(false);
      expect(v.status).toBe('changed');
      const lastLen = part.device.size - block * BLOCK;
      expect(v.changed).toEqual([
        { firstBlock: block, lastBlock: block, offset: block * BLOCK, length: Math.min(BLOCK, lastLen) },
      ]);
      for (const other of r.volumes.filter((x) => x.index !== part.index)) expect(other.status).toBe('match');
    }
  });

  it('property: any flipped byte of boot or root is found in exactly its block', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('boot' as const, 'root' as const),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (which, frac) => {
          const part = disk[which];
          const off = Math.floor(frac * part.device.size);
          const r = await withFlip(part.firstLba * 512 + off, () => check());
          const v = r.volumes.find((x) => x.index === part.index)!;
          expect(v.changed.map((c) => c.firstBlock)).toEqual([Math.floor(off / BLOCK)]);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('merges adjacent changed blocks into ranges', async () => {
    const base = disk.root.firstLba * 512;
    for (const b of [1, 2, 3, 6]) disk.disk.bytes[base + b * BLOCK + 7]! ^= 1;
    try {
      const r = await check();
      expect(r.volumes[1]!.changed).toEqual([
        { firstBlock: 1, lastBlock: 3, offset: BLOCK, length: 3 * BLOCK },
        { firstBlock: 6, lastBlock: 6, offset: 6 * BLOCK, length: BLOCK },
      ]);
    } finally {
      for (const b of [1, 2, 3, 6]) disk.disk.bytes[base + b * BLOCK + 7]! ^= 1;
    }
  });

  it('ignores a flipped byte outside the protected partitions (ESP, gaps, GPT)', async () => {
    for (const off of [disk.esp.firstLba * 512 + 100, 0, 600, disk.disk.size - 1]) {
      expect((await withFlip(off, () => check())).match).toBe(true);
    }
  });

  it('stops at the first difference when asked', async () => {
    const r = await withFlip(disk.boot.firstLba * 512 + 5, () => check({ firstDifference: true }));
    expect(r.volumes[0]!.status).toBe('changed');
    expect(r.volumes[1]!.status).toBe('not-checked');
    const both = await withFlip(disk.boot.firstLba * 512 + 5, () =>
      withFlip(disk.boot.firstLba * 512 + 3 * BLOCK, () => check({ firstDifference: true })),
    );
    expect(both.volumes[0]!.changed).toHaveLength(1);
  });

  it('reports a missing partition', async () => {
    const r = await check({}, [disk.esp, disk.boot]);
    expect(r.volumes[1]).toMatchObject({ index: 3, status: 'missing' });
    expect(r.match).toBe(false);
  });

  it('reports a resized partition without hashing it', async () => {
    const { SliceDevice } = await import('@lsvm/core');
    const shrunk = {
      ...disk.root,
      lastLba: disk.root.lastLba - 8,
      device: new SliceDevice(disk.disk, disk.root.firstLba * 512, disk.root.device.size - 8 * 512),
    };
    const r = await check({}, [disk.esp, disk.boot, shrunk]);
    expect(r.volumes[1]!.status).toBe('resized');
    expect(r.volumes[1]!.problems.join(' ')).toMatch(/size is/);
  });

  it('reports a changed GPT identity: type GUID, partition number, GUID, disk GUID', async () => {
    const retyped = { ...disk.boot, typeGuid: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' };
    let r = await check({}, [disk.esp, retyped, disk.root]);
    expect(r.volumes[0]).toMatchObject({ status: 'identity-changed', changed: [] });
    r = await check({}, [disk.esp, { ...disk.boot, index: 5 }, disk.root]);
    expect(r.volumes[0]!.status).toBe('identity-changed');
    r = await check({}, [
      disk.esp,
      { ...disk.boot, partitionGuid: '11111111-1111-4111-8111-111111111111' },
      disk.root,
    ]);
    expect(r.volumes[0]!.status).toBe('identity-changed');
    expect(r.volumes[0]!.problems[0]).toMatch(/now has GUID/);
    r = await check({}, disk.all, { ...disk.identity, diskGuid: '11111111-1111-4111-8111-111111111111' });
    expect(r.match).toBe(false);
    expect(r.diskProblems).toHaveLength(1);
    expect(r.volumes.every((v) => v.status === 'match')).toBe(true);
  });
});
