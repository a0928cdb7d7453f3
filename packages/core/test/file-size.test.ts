import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  type SizableFileHandle,
  type SizableFileSystem,
  setFileSize,
  setFileSizeSync,
} from '../src/index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lsvm-core-size-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file that only records the truncates asked of it. */
function fakeHandle(size: number): SizableFileHandle & { truncates: number[] } {
  const truncates: number[] = [];
  return {
    truncates,
    stat: async () => ({ size }),
    truncate: async (n = 0) => {
      truncates.push(n);
      size = n;
    },
  };
}

describe('setFileSize', () => {
  test('truncates only when the size differs (never a no-op truncate, e.g. of a new file to 0)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(1 << 20), fc.nat(1 << 20), async (current, wanted) => {
        const h = fakeHandle(current);
        expect(await setFileSize(h, wanted)).toBe(current !== wanted);
        expect(h.truncates).toEqual(current === wanted ? [] : [wanted]);
      }),
    );
    const fresh = fakeHandle(0);
    expect(await setFileSize(fresh, 0)).toBe(false);
    expect(fresh.truncates).toEqual([]);
  });

  test('sets the size of a real file through a FileHandle, extending and shrinking', async () => {
    const p = join(dir, 'a.bin');
    const h = await open(p, 'w+');
    try {
      expect(await setFileSize(h, 0)).toBe(false);
      expect(await setFileSize(h, 3 * 2 ** 32)).toBe(true); // a hole past 4 GiB
      expect(statSync(p).size).toBe(3 * 2 ** 32);
      expect(await setFileSize(h, 10)).toBe(true);
      expect(statSync(p).size).toBe(10);
    } finally {
      await h.close();
    }
  });

  test('rejects a size that is not a byte count before touching the file', async () => {
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 53]) {
      const h = fakeHandle(4);
      await expect(setFileSize(h, bad)).rejects.toMatchObject({ code: 'BAD_SIZE', kind: 'usage' });
      expect(h.truncates).toEqual([]);
    }
  });
});

describe('setFileSizeSync', () => {
  test('same rule on a descriptor, with the fs module passed in', () => {
    const calls: number[] = [];
    const fs: SizableFileSystem = {
      fstatSync: (fd) => fstatSync(fd),
      ftruncateSync: (fd, n) => {
        calls.push(n ?? 0);
        ftruncateSync(fd, n);
      },
    };
    const p = join(dir, 'b.bin');
    const fd = openSync(p, 'w+');
    try {
      expect(setFileSizeSync(fs, fd, 0)).toBe(false);
      expect(setFileSizeSync(fs, fd, 4096)).toBe(true);
      expect(setFileSizeSync(fs, fd, 4096)).toBe(false);
      expect(setFileSizeSync(fs, fd, 0)).toBe(true);
      expect(calls).toEqual([4096, 0]);
      expect(() => setFileSizeSync(fs, fd, -4)).toThrow(expect.objectContaining({ code: 'BAD_SIZE' }));
    } finally {
      closeSync(fd);
    }
  });
});
