import { mkdtempSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDevice } from '../src/index.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lsvm-core-fd-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One macrotask turn: long enough for a close() that is not waiting on anything to finish. */
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('FileDevice.fd and leaseFd', () => {
  test('fd reads the file the device opened, even after another file was renamed over its path', async () => {
    const p = join(dir, 'a.img');
    writeFileSync(p, new Uint8Array(4096).fill(1));
    const dev = await FileDevice.open(p);
    try {
      const other = join(dir, 'b.img');
      writeFileSync(other, new Uint8Array(4096).fill(2));
      renameSync(other, p);
      const buf = new Uint8Array(16);
      expect(readSync(dev.fd, buf, 0, 16, 100)).toBe(16);
      expect(Array.from(buf)).toEqual(new Array(16).fill(1));
      const lease = dev.leaseFd();
      expect(lease.fd).toBe(dev.fd);
      lease.release();
    } finally {
      await dev.close();
    }
    expect(() => dev.fd).toThrow(expect.objectContaining({ code: 'DEVICE_CLOSED' }));
    expect(() => dev.leaseFd()).toThrow(expect.objectContaining({ code: 'DEVICE_CLOSED' }));
  });

  test('close() marks the device closed at once but closes the descriptor only after every lease', async () => {
    const p = join(dir, 'c.img');
    writeFileSync(p, new Uint8Array(8192).fill(7));
    const dev = await FileDevice.open(p);
    const a = dev.leaseFd();
    const b = dev.leaseFd();
    let closed = false;
    const closing = dev.close().then(() => {
      closed = true;
    });
    await expect(dev.read(0, 1)).rejects.toMatchObject({ code: 'DEVICE_CLOSED' });
    expect(() => dev.leaseFd()).toThrow(expect.objectContaining({ code: 'DEVICE_CLOSED' }));
    a.release();
    a.release(); // idempotent: must not count for b
    await turn();
    expect(closed).toBe(false);
    const buf = new Uint8Array(4);
    expect(readSync(b.fd, buf, 0, 4, 8188)).toBe(4); // still the open file
    expect(Array.from(buf)).toEqual([7, 7, 7, 7]);
    b.release();
    await closing;
    expect(closed).toBe(true);
  });

  test('close() without leases closes at once', async () => {
    const p = join(dir, 'd.img');
    writeFileSync(p, new Uint8Array(512));
    const dev = await FileDevice.open(p);
    dev.leaseFd().release();
    await dev.close();
    await dev.close();
  });
});

describe('FileDevice.resize', () => {
  test('a failing truncate is a typed IoError', async () => {
    const dev = await FileDevice.open('/dev/null', { readOnly: false });
    try {
      await expect(dev.resize(4096)).rejects.toMatchObject({ code: 'WRITE_FAILED', kind: 'io' });
    } finally {
      await dev.close();
    }
  });

  test('sets the size, leaves an equal size alone, and rejects a bad size with a typed error', async () => {
    const p = join(dir, 'r.img');
    const dev = await FileDevice.open(p, { create: true });
    try {
      await dev.resize(0); // new, empty file: nothing to do
      expect(statSync(p).size).toBe(0);
      await dev.resize(12345);
      expect(statSync(p).size).toBe(12345);
      await dev.write(12344, Uint8Array.of(5));
      await dev.resize(12345);
      expect(Array.from(await dev.read(12343, 2))).toEqual([0, 5]);
      await dev.resize(100);
      expect(dev.size).toBe(100);
      expect(statSync(p).size).toBe(100);
      await expect(dev.resize(-1)).rejects.toMatchObject({ code: 'BAD_SIZE', kind: 'usage' });
      await expect(dev.resize(1.5)).rejects.toMatchObject({ code: 'BAD_SIZE' });
      expect(dev.size).toBe(100);
      await expect(FileDevice.open(p, { readOnly: false, size: -2 })).rejects.toMatchObject({
        code: 'BAD_SIZE',
      });
      expect(statSync(p).size).toBe(100);
    } finally {
      await dev.close();
    }
  });
});
