import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@lsvm/testkit';
import { hasSyncIo, SyncFile } from '../src/sync-file.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('lsvm-vhdx-syncfile-');
});
afterAll(() => tmp.cleanup());
const p = (name: string): string => join(tmp.path, name);

describe('SyncFile', () => {
  test('reads, writes past the end (extending), resizes, and serves the BlockDevice API too', async () => {
    const f = await SyncFile.create(p('a'));
    expect(hasSyncIo(f)).toBe(true);
    expect(f.size).toBe(0);
    f.writeSync(4096, new Uint8Array([1, 2, 3]));
    expect(f.size).toBe(4099);
    await f.write(0, new Uint8Array([9]));
    const back = new Uint8Array(3);
    f.readIntoSync(back, 4096);
    expect([...back]).toEqual([1, 2, 3]);
    expect([...(await f.read(0, 2))]).toEqual([9, 0]);
    f.resizeSync(8192);
    expect(f.size).toBe(8192);
    await f.resize(10);
    expect(f.size).toBe(10);
    await f.flush();
    await f.close();
    expect(statSync(p('a')).size).toBe(10);
    await expect(f.close()).resolves.toBeUndefined();
    expect(() => f.readIntoSync(new Uint8Array(1), 0)).toThrow(
      expect.objectContaining({ code: 'DEVICE_CLOSED' }),
    );
  });

  test('create truncates an existing file', async () => {
    writeFileSync(p('b'), new Uint8Array(1000).fill(7));
    const f = await SyncFile.create(p('b'));
    expect(f.size).toBe(0);
    await f.close();
    expect(statSync(p('b')).size).toBe(0);
  });

  test('ranges are checked like the asynchronous API; a file that shrank is a typed short read, never zeros', async () => {
    writeFileSync(p('c'), new Uint8Array(100));
    const f = await SyncFile.openRegular(p('c'));
    expect(f?.size).toBe(100);
    expect(() => f?.readIntoSync(new Uint8Array(10), 95)).toThrow(
      expect.objectContaining({ name: 'IoError', code: 'OUT_OF_RANGE', offset: 95 }),
    );
    expect(() => f?.readIntoSync(new Uint8Array(1), -1)).toThrow(
      expect.objectContaining({ code: 'BAD_RANGE' }),
    );
    // Shrunk by someone else after the open: the size we know still says 100.
    truncateSync(p('c'), 50);
    expect(() => f?.readIntoSync(new Uint8Array(10), 45)).toThrow(
      expect.objectContaining({ code: 'SHORT_READ', offset: 50 }),
    );
    await f?.close();
    const w = await SyncFile.create(p('c2'));
    expect(() => w.writeSync(-4096, new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'BAD_RANGE' }),
    );
    expect(() => w.writeSync(2 ** 53, new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'BAD_RANGE' }),
    );
    await w.close();
  });

  test('read-only by default; node:fs failures come out as IoError', async () => {
    writeFileSync(p('d'), new Uint8Array(10));
    const f = await SyncFile.openRegular(p('d'));
    expect(f?.readOnly).toBe(true);
    expect(() => f?.writeSync(0, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'READ_ONLY' }));
    expect(() => f?.resizeSync(0)).toThrow(expect.objectContaining({ code: 'READ_ONLY' }));
    await f?.close();
    await expect(SyncFile.openRegular(p('missing'))).rejects.toMatchObject({
      kind: 'io',
      code: 'OPEN_FAILED',
    });
    mkdirSync(p('dir'));
    await expect(SyncFile.create(p('dir'))).rejects.toMatchObject({ kind: 'io', code: 'OPEN_FAILED' });
    const w = await SyncFile.openRegular(p('d'), { writable: true });
    expect(() => w?.resizeSync(-1)).toThrow(expect.objectContaining({ code: 'BAD_SIZE' }));
    await w?.close();
    expect(readFileSync(p('d')).length).toBe(10);
  });

  test('only regular files: a directory or a character device gives undefined (callers use FileDevice)', async () => {
    mkdirSync(p('e'));
    expect(await SyncFile.openRegular(p('e'))).toBeUndefined();
    expect(await SyncFile.openRegular('/dev/null')).toBeUndefined();
  });
});
