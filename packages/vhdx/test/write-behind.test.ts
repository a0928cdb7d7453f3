import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { tempDir } from '@lsvm/testkit';
import { startWriteBehind, type WriteBehind } from '../src/write-behind.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('lsvm-vhdx-writebehind-');
});
afterAll(() => tmp.cleanup());
const p = (name: string): string => join(tmp.path, name);

const CHUNK = 64 * 1024;

/** Writes `data` in CHUNK pieces, in a shuffled order of positions, through `q`; returns the expected file. */
function pump(q: WriteBehind, data: Uint8Array, order: number[]): void {
  for (const i of order) {
    const slot = q.current();
    const piece = data.subarray(i * CHUNK, Math.min(data.length, (i + 1) * CHUNK));
    slot.set(piece);
    q.submit(i * CHUNK, slot.subarray(0, piece.length));
  }
  q.drain();
}

function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = (i * 7919 + 13) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function open(
  name: string,
  extra: { startGraceMs?: number; slots?: number; flags?: string } = {},
): Promise<{ q: WriteBehind; fd: number; syncWrites: () => number }> {
  const fd = openSync(p(name), extra.flags ?? 'w+');
  let sync = 0;
  const q = await startWriteBehind({
    fd,
    path: p(name),
    chunkSize: CHUNK,
    slots: extra.slots ?? 4,
    writeSync: (position, d) => {
      sync++;
      writeSync(fd, d, 0, d.length, position);
    },
    ...(extra.startGraceMs === undefined ? {} : { startGraceMs: extra.startGraceMs }),
  });
  if (!q) throw new Error('worker threads are available in node');
  return { q, fd, syncWrites: () => sync };
}

describe('write-behind', () => {
  test('every queued write lands at its position, in any order, with a short last chunk', async () => {
    const data = randomBytes(40 * CHUNK + 1234);
    const { q, fd, syncWrites } = await open('a', { startGraceMs: 60_000 });
    pump(q, data, shuffled(41));
    await q.close();
    closeSync(fd);
    expect(Buffer.compare(readFileSync(p('a')), data)).toBe(0);
    // With a minute of grace the worker did every write.
    expect(syncWrites()).toBe(0);
  });

  test('the buffer stays the same until it is submitted; submitting another buffer is refused', async () => {
    const { q, fd } = await open('b');
    const s1 = q.current();
    expect(q.current()).toBe(s1);
    expect(s1.byteOffset % 4096).toBe(0);
    expect(() => q.submit(0, new Uint8Array(10))).toThrow(RangeError);
    q.submit(0, s1.subarray(0, 10));
    expect(q.current()).not.toBe(s1);
    q.drain();
    await q.close();
    closeSync(fd);
  });

  test('a worker that has not started when the ring fills is replaced by the caller (the writes still land once, in order)', async () => {
    const data = randomBytes(12 * CHUNK);
    // No grace: the two-slot ring is full long before a worker thread can start.
    const { q, fd, syncWrites } = await open('c', { startGraceMs: 0, slots: 2 });
    pump(q, data, shuffled(12));
    await q.close();
    closeSync(fd);
    expect(Buffer.compare(readFileSync(p('c')), data)).toBe(0);
    expect(syncWrites()).toBeGreaterThan(0);
  });

  test("a failing write surfaces as the caller's IoError naming the file and offset", async () => {
    writeFileSync(p('ro'), new Uint8Array(0));
    // A read-only descriptor: the worker's pwrite fails with EBADF.
    const { q, fd } = await open('ro', { startGraceMs: 60_000, flags: 'r' });
    const slot = q.current();
    q.submit(3 * CHUNK, slot.subarray(0, 100));
    expect(() => {
      for (let i = 0; i < 8; i++) q.submit(i * CHUNK, q.current().subarray(0, 1));
      q.drain();
    }).toThrow(expect.objectContaining({ name: 'IoError', code: 'WRITE_FAILED', offset: 3 * CHUNK }));
    await q.close();
    closeSync(fd);
  });

  test('close without a drain stops the worker (the failure path) and never hangs', async () => {
    const { q, fd } = await open('d', { startGraceMs: 60_000 });
    for (let i = 0; i < 3; i++) q.submit(i * CHUNK, q.current());
    await q.close();
    await q.close();
    closeSync(fd);
  });
});
