import { MemoryDevice } from '@lsvm/core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tempDir, which } from '@lsvm/testkit';
import { MemoryFile, VhdxDevice, convertToVhdx, createVhdx, checkVhdx } from '../src/index.js';
import { CrashingFile, eq, mixedData } from './helpers.js';

const MiB = 1 << 20;

interface Scenario {
  name: string;
  initial: Uint8Array;
  parent?: VhdxDevice;
  ops: [number, Uint8Array][];
}

/** The disk contents after each prefix of the operations: states[k] = after k ops. */
async function states(s: Scenario): Promise<Uint8Array[]> {
  const f = new MemoryFile(s.initial.slice());
  const dev = await VhdxDevice.open(f, { readOnly: false, ...(s.parent ? { parent: s.parent } : {}) });
  const out = [await dev.read(0, dev.size)];
  for (const [off, data] of s.ops) {
    await dev.write(off, data);
    out.push(await dev.read(0, dev.size));
  }
  await dev.close();
  return out;
}

/** Runs the scenario on a file that fails at write `n` (optionally tearing that write in half). */
async function crashAt(
  s: Scenario,
  n: number,
  torn: boolean,
): Promise<{ bytes: Uint8Array; crashed: boolean }> {
  const f = new CrashingFile(s.initial, n);
  if (torn) {
    const orig = f.write.bind(f);
    f.write = async (offset: number, data: Uint8Array) => {
      // Only structure writes (headers, log, BAT: the first 4 MiB here) are torn: a torn payload
      // write mixes old and new user data on any disk, with or without a log.
      if (f.writes === n && data.length > 1 && offset < 4 * MiB) {
        await MemoryFile.prototype.write.call(f, offset, data.subarray(0, data.length >> 1));
      }
      return orig(offset, data);
    };
  }
  let crashed = false;
  try {
    const dev = await VhdxDevice.open(f, { readOnly: false, ...(s.parent ? { parent: s.parent } : {}) });
    for (const [off, data] of s.ops) await dev.write(off, data);
    await dev.close();
  } catch (e) {
    if (!String(e).includes('injected crash')) throw e;
    crashed = true;
  }
  return { bytes: f.bytes.slice(), crashed };
}

async function scenarios(): Promise<Scenario[]> {
  const dyn = new MemoryFile();
  await createVhdx(dyn, { size: 2 * MiB, blockSize: MiB });
  const withData = new MemoryFile();
  await convertToVhdx(new MemoryDevice(mixedData(2 * MiB, 5)), withData, { blockSize: MiB });
  const parent = await VhdxDevice.open(withData);
  const child = new MemoryFile();
  await createVhdx(child, {
    parent: {
      dataWriteGuid: parent.dataWriteGuid,
      size: parent.size,
      logicalSectorSize: 512,
      physicalSectorSize: 4096,
      blockSize: MiB,
    },
  });
  const ops: [number, Uint8Array][] = [
    [0, new Uint8Array(64 * 1024).fill(1)],
    [MiB + MiB / 2, new Uint8Array(4096).fill(2)],
    [100, new Uint8Array(50).fill(3)],
  ];
  return [
    { name: 'dynamic', initial: dyn.bytes.slice(), ops },
    { name: 'dynamic with data', initial: withData.bytes.slice(), ops },
    { name: 'differencing', initial: child.bytes.slice(), parent, ops },
  ];
}

describe('crash safety: a crash after any single write opens to the old or the new state', () => {
  const qemu = which('qemu-img');
  test.each([false, true])('every write in turn (torn write: %s)', async (torn) => {
    const tmp = tempDir('lsvm-vhdx-crash-');
    try {
      let total = 0;
      for (const s of await scenarios()) {
        const expected = await states(s);
        let n = 0;
        let qemuChecked = 0;
        for (; ; n++) {
          const { bytes, crashed } = await crashAt(s, n, torn);
          const opts = s.parent ? { parent: s.parent } : {};
          // Read-only open: the log is replayed in memory and the file stays untouched.
          const frozen = bytes.slice();
          const ro = await VhdxDevice.open(new MemoryDevice(frozen, { readOnly: true }), opts);
          const seen = await ro.read(0, ro.size);
          const k = expected.findIndex((st) => eq(st, seen));
          if (k < 0)
            throw new Error(`${s.name}: crash at write ${n} left a state that is neither old nor new`);
          expect(eq(frozen, bytes)).toBe(true);
          // Read-write open: replayed on disk, then the same contents, and a clean check.
          const rwFile = new MemoryFile(bytes.slice());
          const rw = await VhdxDevice.open(rwFile, { readOnly: false, ...opts });
          expect(eq(await rw.read(0, rw.size), seen)).toBe(true);
          await rw.close();
          const c = await checkVhdx(rwFile);
          expect(c.findings).toEqual([]);
          if (qemu && !torn && !s.parent && (ro.logReplayNeeded || n % 4 === 0) && qemuChecked < 6) {
            const p = join(tmp.path, `c${n}.vhdx`);
            writeFileSync(p, rwFile.bytes);
            const r = run(qemu, ['check', '-f', 'vhdx', p]);
            expect(`${r.status} ${r.stdout}${r.stderr}`).toMatch(/^0 .*No errors were found/s);
            qemuChecked++;
          }
          if (!crashed) break;
        }
        expect(n).toBeGreaterThan(5);
        if (qemu && !torn && !s.parent) expect(qemuChecked).toBeGreaterThan(0);
        total += n;
      }
      console.log(`crash points exercised: ${total}`);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('the log ring wraps', () => {
  test('300 metadata updates in one session (2.3 turns of a 1 MiB log), crashes after the wrap', async () => {
    const base = new MemoryFile();
    await convertToVhdx(new MemoryDevice(mixedData(2 * MiB, 3)), base, { blockSize: MiB });
    const parent = await VhdxDevice.open(base);
    const child = new MemoryFile();
    await createVhdx(child, {
      parent: {
        dataWriteGuid: parent.dataWriteGuid,
        size: 2 * MiB,
        logicalSectorSize: 512,
        physicalSectorSize: 512,
        blockSize: MiB,
      },
    });
    const initial = child.bytes.slice();
    // Each single-sector write into the same partially present block sets one more bitmap bit:
    // one log entry (header + one data sector, 8 KiB) per write.
    const ops = Array.from(
      { length: 300 },
      (_, i) => [i * 512, new Uint8Array(512).fill((i % 250) + 1)] as const,
    );
    const counter = new CrashingFile(initial, Number.MAX_SAFE_INTEGER);
    const dev = await VhdxDevice.open(counter, { readOnly: false, parent });
    const writesAfterOp: number[] = [];
    for (const [off, data] of ops) {
      await dev.write(off, data);
      writesAfterOp.push(counter.writes);
    }
    await dev.close();
    const expectedPrefix = async (content: Uint8Array): Promise<number> => {
      // The number of ops whose sector shows the op's data; the rest must show the parent's.
      const parentBytes = await parent.read(0, 300 * 512);
      let k = 0;
      while (k < 300 && content[k * 512] === (k % 250) + 1 && content[k * 512 + 511] === (k % 250) + 1) k++;
      for (let j = k; j < 300; j++) {
        if (!eq(content.subarray(j * 512, (j + 1) * 512), parentBytes.subarray(j * 512, (j + 1) * 512)))
          return -1;
      }
      return k;
    };
    for (const op of [141, 299]) {
      for (let n = writesAfterOp[op - 1]!; n <= writesAfterOp[op]!; n++) {
        const f = new CrashingFile(initial, n);
        try {
          const d = await VhdxDevice.open(f, { readOnly: false, parent });
          for (const [off, data] of ops) await d.write(off, data);
          await d.close();
        } catch (e) {
          if (!String(e).includes('injected crash')) throw e;
        }
        const ro = await VhdxDevice.open(new MemoryDevice(f.bytes.slice(), { readOnly: true }), { parent });
        const k = await expectedPrefix(await ro.read(0, 300 * 512));
        expect([op, op + 1]).toContain(k);
      }
    }
  });
});
