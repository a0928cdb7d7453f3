import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AbortedError, LsvmError, MemoryDevice, SliceDevice, UsageError } from '@lsvm/core';
import fc from 'fast-check';
import { fuzz } from '../fuzz/vsc.fuzz.js';
import { buildCatalog, decodeCatalog, encodeCatalog, verifyVolumes } from '../src/index.js';
import { makeDisk, pattern } from './disk.js';

const cert = [new Uint8Array([0x30, 0x00])];

describe('buildCatalog', () => {
  it('reports progress over all volumes and is cancelled by its signal', async () => {
    const d = makeDisk();
    const seen: [number, number][] = [];
    const c = await buildCatalog(
      { name: 'p', version: '1.0.0.0', disk: d.identity, volumes: [d.root, d.boot], certificates: cert },
      { blockSize: 4096, workers: 1, onProgress: (done, total) => seen.push([done, total]) },
    );
    const total = d.boot.device.size + d.root.device.size;
    expect(seen[seen.length - 1]).toEqual([total, total]);
    expect(c.volumes.map((v) => v.index)).toEqual([2, 3]); // sorted by first LBA
    const ac = new AbortController();
    const p = buildCatalog(
      { name: 'p', version: '1.0.0.0', disk: d.identity, volumes: [d.boot, d.root], certificates: cert },
      { blockSize: 4096, workers: 1, signal: ac.signal, onProgress: () => ac.abort() },
    );
    await expect(p).rejects.toBeInstanceOf(AbortedError);
  });

  it('checks its input before hashing', async () => {
    const d = makeDisk();
    const input = {
      name: 'p',
      version: '1.0.0.0',
      disk: d.identity,
      volumes: [d.boot, d.root],
      certificates: cert,
    };
    await expect(buildCatalog({ ...input, version: '1.0' })).rejects.toMatchObject({
      code: 'VSC_BAD_VERSION',
    });
    await expect(
      buildCatalog({ ...input, volumes: [d.boot, { ...d.root, partitionGuid: d.boot.partitionGuid }] }),
    ).rejects.toMatchObject({ code: 'VSC_DUPLICATE_VOLUME' });
    await expect(
      buildCatalog({ ...input, volumes: [{ ...d.boot, lastLba: d.boot.lastLba + 1 }] }),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(buildCatalog({ ...input, volumes: [] })).rejects.toBeInstanceOf(UsageError);
    await expect(buildCatalog(input, { blockSize: 1000 })).rejects.toBeInstanceOf(UsageError);
  });

  it('works with 4096-byte sectors and SHA-384', async () => {
    const disk = new MemoryDevice(pattern(64 * 4096 + 8 * 4096, 9), { sectorSize: 4096 });
    const part = {
      device: new SliceDevice(disk, 8 * 4096, 64 * 4096),
      index: 1,
      role: 'root' as const,
      partitionGuid: '12345678-1234-4234-8234-123456789abc',
      typeGuid: '0fc63daf-8483-4772-8e79-3d69d8477de4',
      firstLba: 8,
      lastLba: 71,
    };
    const identity = { diskGuid: '12345678-1234-4234-8234-000000000000', sectorSize: 4096 };
    const c = await buildCatalog(
      { name: '4Kn', version: '2.0.0.0', disk: identity, volumes: [part], certificates: cert },
      { algorithm: 'sha384', blockSize: 8192, workers: 2 },
    );
    expect(c.volumes[0]!.blockHashes.length).toBe(32 * 48);
    expect(decodeCatalog(encodeCatalog(c))).toEqual(c);
    expect((await verifyVolumes(c, identity, [part], { workers: 0 })).match).toBe(true);
    expect(
      (await verifyVolumes(c, { ...identity, sectorSize: 512 }, [part], { workers: 0 })).diskProblems,
    ).toHaveLength(1);
  });
});

describe('fuzz target vsc', () => {
  it('holds its contract on the seed corpus and on mutations of it', () => {
    const dir = join(__dirname, '..', 'fuzz', 'corpus', 'vsc');
    const seeds = readdirSync(dir).map((f) => new Uint8Array(readFileSync(join(dir, f))));
    expect(seeds.length).toBeGreaterThanOrEqual(3);
    for (const s of seeds) fuzz(Buffer.from(s));
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }),
        fc.nat(),
        (k, flips, cut) => {
          const m = seeds[k]!.slice(0, seeds[k]!.length - (cut % 8));
          for (const [i, x] of flips) m[i % m.length] = x;
          try {
            fuzz(Buffer.from(m));
          } catch (e) {
            expect(e).toBeInstanceOf(LsvmError);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
