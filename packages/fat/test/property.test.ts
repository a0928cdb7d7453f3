import { MemoryDevice } from '@lsvm/core';
import { FatFileSystem, checkFat, mkfs, parseDirEntry, serializeDirEntry } from '@lsvm/fat';
import fc from 'fast-check';

const nameArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_]{1,8}(\.[a-z]{1,3})?$/),
  fc
    .stringMatching(/^[A-Za-z0-9 _+,;=[\]-]{1,40}\.[A-Za-z]{1,6}$/)
    .filter((s) => s.trim() === s && !s.startsWith('.')),
  fc.constantFrom('Ünïcödé', 'naïve café.txt', 'x~1', 'READ ME', 'a.b.c.d'),
);

/** Operations applied both to an in-memory model and to the file system. */
const opArb = fc.tuple(
  fc.boolean(),
  fc.oneof(
    fc.record({
      kind: fc.constant('write' as const),
      dir: fc.constantFrom('', '/d1', '/d1/d2', '/D1'),
      name: nameArb,
      size: fc.integer({ min: 0, max: 9000 }),
      seed: fc.integer(),
    }),
    fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), name: nameArb }),
  ),
);

describe('FAT model-based properties', () => {
  test.each([12, 16, 32] as const)(
    'FAT%i: any sequence of writes, removes and renames reads back as the model and checks clean',
    async (type) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(opArb, { minLength: 1, maxLength: 25 }),
          // Write-through, a tiny write-back buffer (frequent write-outs) and the default.
          fc.constantFrom(0, 512, undefined),
          async (ops, writeBackBytes) => {
            const dev = new MemoryDevice(type === 32 ? 34 << 20 : 4 << 20);
            await mkfs(dev, { type, volumeId: 1 });
            const open = (): Promise<FatFileSystem> =>
              FatFileSystem.open(dev, writeBackBytes === undefined ? {} : { writeBackBytes });
            let fs = await open();
            const model = new Map<string, { path: string; data: Uint8Array }>(); // folded path → file
            for (const [reopen, op] of ops) {
              // Reopening between operations exercises the lazily computed free count and FSInfo.
              if (reopen) {
                await fs.close();
                fs = await open();
              }
              if (op.kind === 'write') {
                const path = `${op.dir}/${op.name}`;
                const data = new Uint8Array(op.size).fill(op.seed & 0xff);
                await fs.writeFile(path, data, { createParents: true });
                const key = path.toUpperCase();
                model.set(key, { path: model.get(key)?.path ?? path, data });
              } else if (model.size > 0) {
                const keys = [...model.keys()];
                const key = keys[op.pick % keys.length]!;
                const f = model.get(key)!;
                if (op.kind === 'remove') {
                  await fs.remove(f.path);
                  model.delete(key);
                } else {
                  const to = `${f.path.slice(0, f.path.lastIndexOf('/'))}/${op.name}`;
                  const toKey = to.toUpperCase();
                  if (model.has(toKey) && toKey !== key) {
                    await expect(fs.rename(f.path, to)).rejects.toMatchObject({ code: 'FAT_EXISTS' });
                  } else {
                    await fs.rename(f.path, to);
                    model.delete(key);
                    model.set(toKey, { path: to, data: f.data });
                  }
                }
              }
            }
            await fs.close();
            const again = await FatFileSystem.open(dev);
            const seen = new Map<string, Uint8Array>();
            for await (const s of again.walk())
              if (!s.isDirectory) seen.set(s.path.toUpperCase(), await again.readFile(s.path));
            expect([...seen.keys()].sort()).toEqual([...model.keys()].sort());
            for (const [k, f] of model)
              expect(Buffer.from(seen.get(k)!).equals(Buffer.from(f.data))).toBe(true);
            const report = await checkFat(again);
            expect(report.findings).toEqual([]);
            expect(again.freeBytes()).toBe(report.freeClusters * again.geometry.clusterSize);
          },
        ),
        { numRuns: type === 32 ? 15 : 30 },
      );
    },
  );

  test('directory entries: serialize(parse(bytes)) is the identity', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        expect(serializeDirEntry(parseDirEntry(b))).toEqual(b);
      }),
    );
  });
});

test('regression: removing right after opening keeps the FSInfo free count exact', async () => {
  const dev = new MemoryDevice(34 << 20);
  await mkfs(dev, { type: 32 });
  let fs = await FatFileSystem.open(dev);
  await fs.writeFile('/a/b.bin', new Uint8Array(5000), { createParents: true });
  await fs.close();
  fs = await FatFileSystem.open(dev);
  await fs.remove('/a/b.bin');
  await fs.close();
  fs = await FatFileSystem.open(dev);
  await fs.remove('/a');
  await fs.close();
  const report = await checkFat(await FatFileSystem.open(dev));
  expect(report.findings).toEqual([]);
});

test('concurrent changes are queued, not interleaved', async () => {
  const dev = new MemoryDevice(4 << 20);
  await mkfs(dev, { type: 16 });
  const fs = await FatFileSystem.open(dev);
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      fs.writeFile(`/dir${i % 3}/file ${i}.bin`, new Uint8Array(1500 + i).fill(i), { createParents: true }),
    ),
  );
  await fs.close();
  const again = await FatFileSystem.open(dev);
  for (let i = 0; i < 40; i++) {
    expect(
      Buffer.from(await again.readFile(`/dir${i % 3}/file ${i}.bin`)).equals(Buffer.alloc(1500 + i, i)),
    ).toBe(true);
  }
  expect((await checkFat(again)).findings).toEqual([]);
});

test('trailing dots and spaces are dropped on write and ignored on lookup', async () => {
  const dev = new MemoryDevice(2 << 20);
  await mkfs(dev, { type: 12 });
  const fs = await FatFileSystem.open(dev);
  await fs.writeFile('/notes. ', new Uint8Array([1, 2]));
  expect((await fs.list('/')).map((s) => s.name)).toEqual(['notes']);
  expect(await fs.readFile('/NOTES.')).toEqual(new Uint8Array([1, 2]));
  await fs.close();
});

test('a full FAT12 root directory is a clear error and leaves no lost clusters', async () => {
  const dev = new MemoryDevice(2 << 20);
  await mkfs(dev, { type: 12, rootEntries: 16 });
  const fs = await FatFileSystem.open(dev);
  for (let i = 0; i < 16; i++) await fs.writeFile(`/F${i}.BIN`, new Uint8Array(100));
  await expect(fs.writeFile('/ONE.MOR', new Uint8Array(100))).rejects.toMatchObject({
    code: 'FAT_ROOT_FULL',
  });
  await expect(fs.mkdir('/DIR')).rejects.toMatchObject({ code: 'FAT_ROOT_FULL' });
  await fs.close();
  expect((await checkFat(await FatFileSystem.open(dev))).findings).toEqual([]);
});
