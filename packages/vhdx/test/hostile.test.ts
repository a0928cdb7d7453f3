import { ChecksumError, FormatError, isLsvmError, LimitError, MemoryDevice } from '@lsvm/core';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, tempDir } from '@lsvm/testkit';
import {
  MemoryFile,
  VhdxDevice,
  checkVhdx,
  checksum4k,
  convertToVhdx,
  readBatEntry,
  writeBatEntry,
} from '../src/index.js';
import { dirtyImage, eq, mixedData } from './helpers.js';

const MiB = 1 << 20;
const HEADER = [64 * 1024, 128 * 1024];
const REGION = [192 * 1024, 256 * 1024];
// Layout of images we write: log at 1 MiB, metadata at 2 MiB, BAT at 3 MiB.
const BAT = 3 * MiB;
const META = 2 * MiB;

let image: Uint8Array;
let content: Uint8Array;
beforeAll(async () => {
  content = mixedData(4 * MiB, 9);
  const f = new MemoryFile();
  await convertToVhdx(new MemoryDevice(content), f, { blockSize: MiB });
  image = f.bytes.slice();
});

function mutate(fn: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = image.slice();
  fn(b, new DataView(b.buffer));
  return b;
}
function flip(b: Uint8Array, at: number, mask: number): void {
  b[at] = (b[at] ?? 0) ^ mask;
}
function recrc(b: Uint8Array, at: number, len: number): void {
  new DataView(b.buffer).setUint32(at + 4, checksum4k(b.subarray(at, at + len)), true);
}
const open = (b: Uint8Array) => VhdxDevice.open(new MemoryDevice(b, { readOnly: true }));

describe('damaged structures', () => {
  test('one damaged header copy is survivable, two are a ChecksumError', async () => {
    const one = mutate((b) => {
      b[HEADER[1]! + 200] = 1;
    });
    const dev = await open(one);
    expect(eq(await dev.read(0, dev.size), content)).toBe(true);
    const both = mutate((b) => {
      b[HEADER[0]! + 200] = 1;
      b[HEADER[1]! + 200] = 1;
    });
    await expect(open(both)).rejects.toBeInstanceOf(ChecksumError);
    const c = await checkVhdx(new MemoryDevice(one));
    expect(c.findings.map((f) => f.code)).toEqual(['VHDX_HEADER_CHECKSUM']);
  });
  test('a torn header with the higher sequence number loses to the valid one', async () => {
    const b = mutate((_b, v) => {
      // Slot 1 holds sequence 2 in our files: make slot 0 claim 99 but break its CRC.
      v.setBigUint64(HEADER[0]! + 8, 99n, true);
    });
    const dev = await open(b);
    expect(dev.currentHeader.sequenceNumber).toBe(2n);
  });
  test('region tables: one damaged copy is survivable, two are fatal', async () => {
    const one = mutate((b) => {
      flip(b, REGION[0]! + 40, 0xff);
    });
    expect(await open(one)).toBeInstanceOf(VhdxDevice);
    const both = mutate((b) => {
      flip(b, REGION[0]! + 40, 0xff);
      flip(b, REGION[1]! + 40, 0xff);
    });
    await expect(open(both)).rejects.toBeInstanceOf(ChecksumError);
  });
  test('metadata: bad signature, huge item length, missing item', async () => {
    await expect(open(mutate((b) => b.set([0], META)))).rejects.toMatchObject({ code: 'VHDX_BAD_SIGNATURE' });
    await expect(
      open(mutate((_b, v) => v.setUint32(META + 32 + 20, 0xfffffff0, true))),
    ).rejects.toMatchObject({ code: 'VHDX_METADATA_RANGE' });
    await expect(open(mutate((_b, v) => v.setUint16(META + 10, 2, true)))).rejects.toMatchObject({
      code: 'VHDX_METADATA_MISSING',
    });
  });
  test('BAT: overlapping offsets, past EOF, invalid states, offsets into the header section', async () => {
    const overlap = mutate((b) => writeBatEntry(b.subarray(BAT), 1, readBatEntry(b.subarray(BAT), 0)));
    await expect(open(overlap)).rejects.toMatchObject({ code: 'VHDX_BAT_OVERLAP' });
    const past = mutate((b) => writeBatEntry(b.subarray(BAT), 2, { state: 6, fileOffset: 2 ** 40 }));
    await expect(open(past)).rejects.toMatchObject({ code: 'VHDX_BAT_PAST_EOF' });
    const state = mutate((b) => writeBatEntry(b.subarray(BAT), 0, { state: 4, fileOffset: 0 }));
    await expect(open(state)).rejects.toMatchObject({ code: 'VHDX_BAT_STATE' });
    const partial = mutate((b) => writeBatEntry(b.subarray(BAT), 0, { state: 7, fileOffset: 4 * MiB }));
    await expect(open(partial)).rejects.toMatchObject({ code: 'VHDX_BAT_STATE' });
    const reserved = mutate((b) => writeBatEntry(b.subarray(BAT), 0, { state: 6, fileOffset: 2 * MiB }));
    await expect(open(reserved)).rejects.toMatchObject({ code: 'VHDX_BAT_IN_RESERVED' });
    // check lists them and repair drops the entries, after which the file opens.
    const f = new MemoryFile(past.slice());
    const c = await checkVhdx(f, { repair: true });
    expect(c.findings).toEqual([expect.objectContaining({ code: 'VHDX_BAT_PAST_EOF', repaired: true })]);
    expect(c.clean).toBe(true);
    expect(await VhdxDevice.open(f)).toBeInstanceOf(VhdxDevice);
  });
  test('a region table pointing past the end of the file or into the log', async () => {
    const past = mutate((b, v) => {
      for (const at of REGION) {
        v.setBigUint64(at + 16 + 16, BigInt(64 * MiB), true);
        recrc(b, at, 64 * 1024);
      }
    });
    await expect(open(past)).rejects.toMatchObject({ code: 'VHDX_REGION_PAST_EOF' });
    const inLog = mutate((b, v) => {
      for (const at of REGION) {
        v.setBigUint64(at + 16 + 16, BigInt(MiB), true);
        recrc(b, at, 64 * 1024);
      }
    });
    await expect(open(inLog)).rejects.toMatchObject({ code: 'VHDX_REGION_OVERLAP' });
  });
  test('BAT larger than the limits is a LimitError', async () => {
    await expect(
      VhdxDevice.open(new MemoryDevice(image), { limits: { maxBatEntries: 2 } }),
    ).rejects.toBeInstanceOf(LimitError);
  });
});

describe('dirty logs', () => {
  test('read-only open replays in memory and leaves the file untouched; read-write replays to disk', async () => {
    const { bytes, expected } = await dirtyImage();
    const frozen = bytes.slice();
    const ro = await VhdxDevice.open(new MemoryDevice(frozen, { readOnly: true }));
    expect(ro.info().logReplayNeeded).toBe(true);
    expect(eq(await ro.read(0, ro.size), expected)).toBe(true);
    expect(eq(frozen, bytes)).toBe(true);
    const c = await checkVhdx(new MemoryDevice(bytes.slice()));
    expect(c.findings.map((f) => f.code)).toEqual(['VHDX_LOG_REPLAY_NEEDED']);
    const f = new MemoryFile(bytes.slice());
    const rw = await VhdxDevice.open(f, { readOnly: false });
    await rw.close();
    const again = await VhdxDevice.open(f);
    expect(again.info().logReplayNeeded).toBe(false);
    expect(eq(await again.read(0, again.size), expected)).toBe(true);
    expect((await checkVhdx(f)).findings).toEqual([]);
  });
  test('a truncated file (shorter than FlushedFileOffset) is refused', async () => {
    const { bytes } = await dirtyImage();
    await expect(VhdxDevice.open(new MemoryDevice(bytes.slice(0, 4 * MiB)))).rejects.toMatchObject({
      code: 'VHDX_LOG_TRUNCATED_FILE',
    });
  });
  test('a damaged log entry is not replayed (old state), bad sequence numbers break the chain', async () => {
    const { bytes } = await dirtyImage();
    // Find the entry ("loge") in the log at 1 MiB and damage its data sector.
    let at = -1;
    for (let o = MiB; o < 2 * MiB; o += 4096) if (bytes[o] === 0x6c && bytes[o + 1] === 0x6f) at = o;
    expect(at).toBeGreaterThan(0);
    const damaged = bytes.slice();
    flip(damaged, at + 4096 + 100, 1);
    const dev = await VhdxDevice.open(new MemoryDevice(damaged));
    expect(dev.info().logReplayNeeded).toBe(false);
    expect((await dev.read(4096, 1))[0]).toBe(0);
    // Sequence number 0 (recomputed CRC) is invalid too.
    const seq0 = bytes.slice();
    new DataView(seq0.buffer).setBigUint64(at + 16, 0n, true);
    const dv = new DataView(seq0.buffer);
    const len = dv.getUint32(at + 8, true);
    dv.setUint32(at + 4, 0, true);
    const { crc32c } = await import('@lsvm/core');
    dv.setUint32(at + 4, crc32c(seq0.subarray(at, at + len)), true);
    expect((await VhdxDevice.open(new MemoryDevice(seq0))).info().logReplayNeeded).toBe(false);
  });
});

describeWithPeers(['qemu-img'], 'dirty logs against qemu-img', () => {
  test('qemu refuses a read-only open of a dirty log; we read it; after our replay qemu is clean', async () => {
    const tmp = tempDir('lsvm-vhdx-dirty-');
    try {
      const { bytes, expected } = await dirtyImage();
      const path = join(tmp.path, 'dirty.vhdx');
      writeFileSync(path, bytes);
      const r = run('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', path, join(tmp.path, 'x.raw')]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/log/i);
      const { openVhdxFile } = await import('../src/index.js');
      const ro = await openVhdxFile(path);
      expect(eq(await ro.read(0, ro.size), expected)).toBe(true);
      await ro.close();
      const rw = await openVhdxFile(path, { readOnly: false });
      await rw.close();
      const c = run('qemu-img', ['check', '-f', 'vhdx', path]);
      expect(`${c.status} ${c.stdout}`).toMatch(/^0 No errors were found/);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('random mutations never escape as anything but LsvmError', () => {
  test('200 mutated images: open + read + check', async () => {
    // Mutations aimed at the structures: headers, region tables, log, metadata table/items, BAT.
    const targets = [
      [0, 16],
      [HEADER[0]!, 128],
      [HEADER[1]!, 128],
      [REGION[0]!, 128],
      [REGION[1]!, 128],
      [META, 400],
      [META + 64 * 1024, 64],
      [BAT, 64],
    ] as const;
    const { bytes: dirty } = await dirtyImage();
    let lsvm = 0;
    for (let i = 0; i < 200; i++) {
      const src = i % 2 === 0 ? image : dirty;
      const b = src.slice();
      const n = 1 + (i % 6);
      for (let k = 0; k < n; k++) {
        const [start, len] = targets[(i * 7 + k) % targets.length]!;
        const off = start + (randomBytes(4).readUInt32LE() % len);
        b[off] = randomBytes(1)[0]!;
      }
      // Keep some CRCs valid so the mutation reaches the parsers behind them.
      if (i % 3 === 0) for (const at of HEADER) recrc(b, at, 4096);
      if (i % 3 === 1) for (const at of REGION) recrc(b, at, 64 * 1024);
      try {
        const dev = await VhdxDevice.open(new MemoryDevice(b, { readOnly: true }));
        // A mutated size can be huge: read the start, a middle and the end, not the whole disk.
        const n = Math.min(dev.size, 2 * MiB);
        await dev.read(0, n);
        await dev.read(dev.size - n, n);
        await dev.read(
          Math.floor(dev.size / 2 / 512) * 512,
          Math.min(n, dev.size - Math.floor(dev.size / 2 / 512) * 512),
        );
      } catch (e) {
        if (!isLsvmError(e)) throw e;
        lsvm++;
      }
      try {
        await checkVhdx(new MemoryDevice(b, { readOnly: true }));
      } catch (e) {
        if (!isLsvmError(e)) throw e;
      }
    }
    expect(lsvm).toBeGreaterThan(25);
  });
  test('garbage and truncated inputs', async () => {
    for (const len of [0, 100, 64 * 1024, 320 * 1024, MiB]) {
      await expect(open(new Uint8Array(len))).rejects.toBeInstanceOf(FormatError);
    }
    await expect(open(image.slice(0, 2 * MiB))).rejects.toMatchObject({ code: 'VHDX_REGION_PAST_EOF' });
  });
});
