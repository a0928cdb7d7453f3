import { join } from 'node:path';
import { FileDevice, MemoryDevice, SliceDevice } from '@lsvm/core';
import { describeWithPeers, runOk, run, tempDir } from '@lsvm/testkit';
import { mkfsExt, withExtFs } from '../src/ext-fs.js';

describeWithPeers(
  ['mke2fs', 'e2fsck', 'debugfs'],
  'ext file systems on BlockDevices (libext2fs WASM)',
  () => {
    test('mkfs on a slice, write files and directories, e2fsck clean, debugfs reads them back', async () => {
      const t = tempDir();
      try {
        const path = join(t.path, 'disk.img');
        const disk = await FileDevice.open(path, { create: true, size: 48 << 20 });
        // A "partition" 8 MiB into the file, as the flows use GPT slices.
        const part = new SliceDevice(disk, 8 << 20, 32 << 20);
        await mkfsExt(part, { type: 'ext4', label: 'boot' });
        const payload = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
        await withExtFs(part, async (fs) => {
          await fs.mkdirp('/lsvmload/specialize', 0o700);
          await fs.writeFile(
            '/lsvmload/specialize/specialize',
            new TextEncoder().encode('<unattend/>'),
            0o600,
          );
          await fs.writeFile('/big.bin', payload);
          expect(await fs.exists('/lsvmload')).toBe(true);
          expect(await fs.exists('/nope')).toBe(false);
          expect((await fs.stat('/lsvmload/specialize/specialize')).mode & 0o777).toBe(0o600);
        });
        await disk.close();
        // Extract the partition and let e2fsprogs judge it.
        const fsImg = join(t.path, 'fs.img');
        runOk('dd', [`if=${path}`, `of=${fsImg}`, 'bs=1M', 'skip=8', 'count=32', 'status=none']);
        const fsck = run('e2fsck', ['-fn', fsImg]);
        expect(fsck.status).toBe(0);
        expect(runOk('debugfs', ['-R', 'cat /lsvmload/specialize/specialize', fsImg])).toBe('<unattend/>');
        const again = await FileDevice.open(fsImg);
        await withExtFs(again, async (fs) => {
          expect(Buffer.from(await fs.readFile('/big.bin')).equals(Buffer.from(payload))).toBe(true);
          expect((await fs.readdir('/')).sort()).toEqual(
            expect.arrayContaining(['big.bin', 'lost+found', 'lsvmload']),
          );
        });
        await again.close();
      } finally {
        t.cleanup();
      }
    });

    test('a device without an ext file system is a typed mount error', async () => {
      await expect(withExtFs(new MemoryDevice(4 << 20), async () => 0)).rejects.toMatchObject({
        code: 'EXT_MOUNT_FAILED',
      });
    });
  },
);

describeWithPeers(['mke2fs'], 'ext file systems on read-only devices', () => {
  test('reading through a read-only device never writes to it (libext2fs updates go to an overlay)', async () => {
    const t = tempDir();
    try {
      const path = join(t.path, 'ro.img');
      const rw = await FileDevice.open(path, { create: true, size: 16 << 20 });
      await mkfsExt(rw, { type: 'ext2', assumeZeroed: true });
      await withExtFs(rw, (fs) => fs.writeFile('/a.txt', new TextEncoder().encode('hello')));
      await rw.close();
      const { readFileSync } = await import('node:fs');
      const before = readFileSync(path);
      const ro = await FileDevice.open(path);
      await withExtFs(ro, async (fs) => {
        expect(new TextDecoder().decode(await fs.readFile('/a.txt'))).toBe('hello');
        await fs.writeFile('/b.txt', new TextEncoder().encode('overlay only'));
        expect(new TextDecoder().decode(await fs.readFile('/b.txt'))).toBe('overlay only');
      });
      await ro.close();
      expect(readFileSync(path).equals(before)).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});
