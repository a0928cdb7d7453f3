import { writeFileSync, readFileSync, truncateSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, MemoryDevice } from '@lsvm/core';
import { FatFileSystem, checkFat, mkfs, parseBootSector } from '@lsvm/fat';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  bytes,
  expectSameTree,
  readFatTree,
  readHostTree,
  sampleTree,
  writeFatTree,
  writeHostTree,
} from './helpers.js';

const env = { ...process.env, MTOOLS_SKIP_CHECK: '1', MTOOLS_NO_VFAT: '', TZ: 'UTC' };
const mt = (cmd: string, args: string[]): string => runOk(cmd, args, { env });

/** fsck.fat -n must exit 0 and print nothing beyond its banner and the summary line. */
function expectFsckClean(img: string): void {
  const r = run('fsck.fat', ['-n', img]);
  const lines = (r.stdout + r.stderr)
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('fsck.fat ') && !/files, \d+\/\d+ clusters$/.test(l));
  expect({ status: r.status, complaints: lines }).toEqual({ status: 0, complaints: [] });
}

const SIZES = { 12: 8, 16: 32, 32: 64 } as const; // MiB

describeWithPeers(
  ['mkfs.fat', 'fsck.fat', 'mcopy', 'mmd', 'mdel', 'mdir', 'mlabel', 'mtype'],
  'FAT interop with dosfstools and mtools',
  () => {
    let tmp: { path: string; cleanup: () => void };
    beforeAll(() => {
      tmp = tempDir('lsvm-fat-');
    });
    afterAll(() => tmp.cleanup());

    describe.each([12, 16, 32] as const)('FAT%i', (type) => {
      test('an image made by mkfs.fat and filled by mtools reads back byte-identical', async () => {
        const img = join(tmp.path, `peer${type}.img`);
        writeFileSync(img, '');
        truncateSync(img, SIZES[type] << 20);
        runOk('mkfs.fat', ['-F', String(type), '-n', 'PEERVOL', img]);
        const host = join(tmp.path, `host${type}`);
        const tree = sampleTree(3 << 20);
        writeHostTree(host, tree);
        // Fragment the free space first: many small files, every other one deleted, then the tree.
        mt('mmd', ['-i', img, '::/frag']);
        const fragDir = join(tmp.path, `frag${type}`);
        mkdirSync(fragDir);
        const fragFiles: string[] = [];
        for (let i = 0; i < 24; i++) {
          const f = join(fragDir, `f${i}.bin`);
          writeFileSync(f, bytes(9000, 500 + i));
          fragFiles.push(f);
        }
        mt('mcopy', ['-i', img, ...fragFiles, '::/frag/']);
        for (let i = 0; i < 24; i += 2) mt('mdel', ['-i', img, `::/frag/f${i}.bin`]);
        for (const name of [
          'EFI',
          'deep',
          'many',
          'empty dir',
          'MixedCase.Txt',
          'lower.txt',
          'big.bin',
          'Ünïcödé name.dat',
        ]) {
          mt('mcopy', ['-s', '-i', img, join(host, name), '::/']);
        }
        // Rewrite one file so its chain reuses freed, scattered clusters.
        mt('mdel', ['-i', img, '::/frag/f1.bin']);
        const frag = bytes(60_000, 999);
        writeFileSync(join(fragDir, 'rewritten.bin'), frag);
        mt('mcopy', ['-i', img, join(fragDir, 'rewritten.bin'), '::/frag/']);

        const dev = await FileDevice.open(img, { readOnly: true });
        try {
          const fs = await FatFileSystem.open(dev);
          expect(fs.type).toBe(type);
          expect(await fs.label()).toBe('PEERVOL');
          const ours = await readFatTree(fs);
          const expected = readHostTree(host);
          for (let i = 3; i < 24; i += 2) expected.files.set(`/frag/f${i}.bin`, bytes(9000, 500 + i));
          expected.files.set('/frag/rewritten.bin', frag);
          expectSameTree(ours, expected);
          // On FAT12/16 mtools fills the holes, so the rewritten file really is fragmented and chains
          // were followed, not assumed contiguous (on FAT32 it follows the FSInfo hint instead).
          const st = await fs.stat('/FRAG/REWRITTEN.BIN');
          const chain = fs.fat.chain(st.firstCluster);
          if (type !== 32) expect(chain.some((c, i) => i > 0 && c !== chain[i - 1]! + 1)).toBe(true);
          // Long names as mtools wrote them, including case.
          expect((await fs.list('/efi/ubuntu')).map((s) => s.name)).toEqual([
            'A file with a rather long name, commas & spaces.cfg',
          ]);
          const report = await checkFat(fs);
          expect(report.findings).toEqual([]);
        } finally {
          await dev.close();
        }
      });

      test('an image we make and modify passes fsck.fat -n and mtools sees our tree and bytes', async () => {
        const img = join(tmp.path, `ours${type}.img`);
        writeFileSync(img, '');
        truncateSync(img, SIZES[type] << 20);
        const dev = await FileDevice.open(img, { readOnly: false });
        const tree = sampleTree(3 << 20);
        try {
          await mkfs(dev, { type, label: 'LSVM ESP', volumeId: 0xdeadbeef });
          const fs = await FatFileSystem.open(dev);
          await writeFatTree(fs, tree);
          // Modify: shrink, grow, delete, rename/move (a directory too), so chains change size.
          const grown = bytes(200_000, 77);
          await fs.writeFile('/lower.txt', grown);
          tree.files.set('/lower.txt', grown);
          const shrunk = bytes(100, 78);
          await fs.writeFile('/big.bin', shrunk);
          tree.files.set('/big.bin', shrunk);
          await fs.remove('/many/entry number 7.txt');
          tree.files.delete('/many/entry number 7.txt');
          await fs.rename('/many', '/deep/a/moved many');
          for (const [p, d] of [...tree.files]) {
            if (p.startsWith('/many/')) {
              tree.files.delete(p);
              tree.files.set(`/deep/a/moved many/${p.slice(6)}`, d);
            }
          }
          await fs.rename('/MixedCase.Txt', '/EFI/renamed file.txt');
          tree.files.set('/EFI/renamed file.txt', tree.files.get('/MixedCase.Txt')!);
          tree.files.delete('/MixedCase.Txt');
          await fs.close();
          expect((await checkFat(await FatFileSystem.open(dev))).findings).toEqual([]);
        } finally {
          await dev.close();
        }
        expectFsckClean(img);
        const out = join(tmp.path, `out${type}`);
        mkdirSync(out);
        mt('mcopy', ['-s', '-n', '-i', img, '::/*', out]);
        expectSameTree(readHostTree(out), tree);
        const listing = mt('mdir', ['-i', img, '::/EFI/ubuntu']);
        expect(listing).toContain('A file with a rather long name, commas & spaces.cfg');
        expect(mt('mlabel', ['-s', '-i', img, '::'])).toContain('LSVM ESP');
        // mtools writes into our image and we read its change back.
        mt('mcopy', ['-i', img, join(out, 'lower.txt'), '::/from mtools.txt']);
        const dev2 = await FileDevice.open(img, { readOnly: true });
        try {
          const fs = await FatFileSystem.open(dev2);
          expect(
            Buffer.from(await fs.readFile('/FROM MTOOLS.TXT')).equals(
              Buffer.from(tree.files.get('/lower.txt')!),
            ),
          ).toBe(true);
        } finally {
          await dev2.close();
        }
      });

      test('mkfs chooses the same cluster size and FAT size as mkfs.fat', async () => {
        const sizes = type === 12 ? [2, 8, 16] : type === 16 ? [32, 150] : [40, 100, 300];
        for (const mib of sizes) {
          const img = join(tmp.path, `layout${type}-${mib}.img`);
          writeFileSync(img, '');
          truncateSync(img, mib << 20);
          runOk('mkfs.fat', ['-F', String(type), img]);
          const peer = parseBootSector(readFileSync(img).subarray(0, 512));
          const dev = await FileDevice.open(img, { readOnly: false });
          try {
            await mkfs(dev, { type });
            const ours = parseBootSector(await dev.read(0, 512));
            expect({ mib, spc: ours.sectorsPerCluster, fat: ours.fatSectors }).toEqual({
              mib,
              spc: peer.sectorsPerCluster,
              fat: peer.fatSectors,
            });
          } finally {
            await dev.close();
          }
          expectFsckClean(img);
        }
      });
    });

    test('an ESP-sized FAT32 (260 MiB) with the default options', async () => {
      const img = join(tmp.path, 'esp.img');
      writeFileSync(img, '');
      truncateSync(img, 260 << 20);
      const dev = await FileDevice.open(img, { readOnly: false });
      try {
        const r = await mkfs(dev, { label: 'ESP' });
        expect(r.type).toBe(32);
        const fs = await FatFileSystem.open(dev);
        await fs.writeFile('/EFI/boot/bootx64.efi', bytes(900_000, 11), { createParents: true });
        await fs.writeFile('/EFI/boot/lsvmconf', new TextEncoder().encode('ROOTDEVICE=/dev/sda2\n'));
        await fs.writeFile('/EFI/boot/sealedkeys', bytes(512, 12));
        await fs.close();
        expect(fs.freeBytes()).toBe(
          r.clusterSize * (r.clusterCount - 1) - Math.ceil(900_000 / 512) * 512 - 1024 - 512 * 2,
        );
      } finally {
        await dev.close();
      }
      expectFsckClean(img);
      expect(mt('mtype', ['-i', img, '::/EFI/BOOT/LSVMCONF'])).toBe('ROOTDEVICE=/dev/sda2\n');
    });

    test('4096-byte logical sectors (a 4Kn disk): FAT16 that fsck.fat and mtools accept', async () => {
      const dev = new MemoryDevice(24 << 20, { sectorSize: 4096 });
      const r = await mkfs(dev, { label: 'FOURK' });
      expect({ type: r.type, sectorSize: r.sectorSize }).toEqual({ type: 16, sectorSize: 4096 });
      const fs = await FatFileSystem.open(dev);
      await fs.writeFile('/EFI/boot/bootx64.efi', bytes(100_000, 21), { createParents: true });
      await fs.close();
      const img = join(tmp.path, 'fourk.img');
      writeFileSync(img, dev.bytes);
      expectFsckClean(img);
      const out = join(tmp.path, 'fourk.efi');
      mt('mcopy', ['-n', '-i', img, '::/EFI/BOOT/BOOTX64.EFI', out]);
      expect(readFileSync(out).equals(Buffer.from(bytes(100_000, 21)))).toBe(true);
    });

    test('a tiny FAT12 (64 KiB) works and fills up with a clear error', async () => {
      const dev = new MemoryDevice(64 * 1024);
      const r = await mkfs(dev, {});
      expect(r.type).toBe(12);
      const fs = await FatFileSystem.open(dev);
      await fs.writeFile('/a.txt', bytes(1000, 1));
      await expect(fs.writeFile('/huge.bin', bytes(100_000, 2))).rejects.toMatchObject({
        code: 'FAT_NO_SPACE',
      });
      await fs.close();
      const img = join(tmp.path, 'tiny.img');
      writeFileSync(img, dev.bytes);
      expectFsckClean(img);
      expect(mt('mdir', ['-b', '-i', img, '::/']).trim()).toBe('::/a.txt');
    });
  },
);
