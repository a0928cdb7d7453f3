import { MemoryDevice } from '@lsvm/core';
import { FatFileSystem, checkFat, mkfs } from '@lsvm/fat';
import { bytes } from './helpers.js';
import { RecordingDevice } from './recording-device.js';

describe('FAT write-back: what reaches the device, and when', () => {
  test.each([0, undefined])(
    'a create that fails keeps the directories it made on the way (writeBackBytes %p)',
    async (writeBackBytes) => {
      const dev = new MemoryDevice(8 << 20);
      await mkfs(dev, { type: 16, volumeId: 7 });
      const fs = await FatFileSystem.open(dev, writeBackBytes === undefined ? {} : { writeBackBytes });
      await fs.writeFile('/before.txt', bytes(100, 1));
      await expect(
        fs.writeFile('/made/on the way/huge.bin', new Uint8Array(9 << 20), { createParents: true }),
      ).rejects.toMatchObject({ code: 'FAT_NO_SPACE' });
      expect(await fs.exists('/made/on the way')).toBe(true);
      await fs.close();
      const again = await FatFileSystem.open(dev, { readOnly: true });
      expect(await again.exists('/made/on the way')).toBe(true);
      expect(await again.readFile('/before.txt')).toEqual(bytes(100, 1));
      expect((await checkFat(again)).findings).toEqual([]);
    },
  );

  test('close() flushes the device once; close({ sync: false }) hands everything over unflushed', async () => {
    for (const sync of [true, false]) {
      const base = new MemoryDevice(8 << 20);
      await mkfs(base, { type: 16, volumeId: 7 });
      const rec = new RecordingDevice(base);
      const fs = await FatFileSystem.open(rec);
      await fs.writeFile('/one.txt', bytes(3000, 1));
      await fs.close({ sync });
      expect(rec.flushes).toBe(sync ? 1 : 0);
      const again = await FatFileSystem.open(base, { readOnly: true });
      expect(await again.readFile('/one.txt')).toEqual(bytes(3000, 1));
      expect((await checkFat(again)).findings).toEqual([]);
    }
  });
});
