import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice, guidFromBytes } from '@lsvm/core';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { VhdxDevice, openVhdxFile, parseHeader, parseLogEntry, serializeHeader } from '../src/index.js';

/**
 * qemu-img's VHDX driver writes its BAT updates through the log too. These tests read the entries
 * qemu-io leaves in the log region — the same entry format from an independent writer — and rebuild
 * a file as it would be after a crash between qemu's log flush and its BAT update.
 */
describeWithPeers(['qemu-img', 'qemu-io'], 'log entries written by qemu', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let expected: Buffer;
  beforeAll(() => {
    tmp = tempDir('lsvm-vhdx-qlog-');
    path = join(tmp.path, 'q.vhdx');
    runOk('qemu-img', ['create', '-f', 'vhdx', '-o', 'block_size=1M', path, '8M']);
    runOk('qemu-io', [
      '-c',
      'write -P 0x55 0 64k',
      '-c',
      'write -P 0x66 3M 4k',
      '-c',
      'write -P 0x77 7340544 512',
      path,
    ]);
    runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', path, join(tmp.path, 'q.raw')]);
    expected = readFileSync(join(tmp.path, 'q.raw'));
  });
  afterAll(() => tmp.cleanup());

  function entries(file: Uint8Array): { offset: number; guid: string }[] {
    const h = parseHeader(file.subarray(64 * 1024));
    const out: { offset: number; guid: string }[] = [];
    for (let o = 0; o < h.logLength; o += 4096) {
      const at = h.logOffset + o;
      if (String.fromCharCode(...file.subarray(at, at + 4)) === 'loge')
        out.push({ offset: o, guid: guidFromBytes(file, at + 32) });
    }
    return out;
  }

  test('every entry qemu wrote parses (CRC, descriptors, data sectors) and matches what qemu applied', () => {
    const file = new Uint8Array(readFileSync(path));
    const h = parseHeader(file.subarray(64 * 1024));
    const log = file.subarray(h.logOffset, h.logOffset + h.logLength);
    const found = entries(file);
    expect(found.length).toBeGreaterThanOrEqual(3);
    const last = found[found.length - 1]!;
    const e = parseLogEntry(log, last.offset, last.guid)!;
    expect(e.writes.length).toBeGreaterThan(0);
    for (const w of e.writes) {
      if (w.kind !== 'data') continue;
      // qemu applied the entry: the file holds the sector the entry describes.
      expect(Buffer.from(file.subarray(w.fileOffset, w.fileOffset + 4096)).equals(Buffer.from(w.data))).toBe(
        true,
      );
    }
  });

  test('a crash after qemu flushed its log: we replay it in memory (read-only) and on disk (read-write)', async () => {
    const file = new Uint8Array(readFileSync(path));
    const found = entries(file);
    const guid = found[found.length - 1]!.guid;
    const h = parseHeader(file.subarray(64 * 1024));
    const h2 = parseHeader(file.subarray(128 * 1024));
    // Re-arm the log in the current header and undo every BAT update (the BAT back to empty).
    const current = h.sequenceNumber >= h2.sequenceNumber ? 64 * 1024 : 128 * 1024;
    const cur = current === 64 * 1024 ? h : h2;
    file.set(serializeHeader({ ...cur, logGuid: guid, sequenceNumber: cur.sequenceNumber + 1n }), current);
    const clean = await VhdxDevice.open(new MemoryDevice(new Uint8Array(readFileSync(path))));
    const batOffset = clean.layout.regions.bat.fileOffset;
    file.fill(0, batOffset, batOffset + 4096);
    const dirty = join(tmp.path, 'dirty.vhdx');
    writeFileSync(dirty, file);
    const r = run('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', dirty, join(tmp.path, 'x.raw')]);
    expect(r.status).not.toBe(0);
    const ro = await openVhdxFile(dirty);
    expect(ro.info().logReplayNeeded).toBe(true);
    expect(Buffer.from(await ro.read(0, ro.size)).equals(expected)).toBe(true);
    await ro.close();
    expect(Buffer.from(readFileSync(dirty)).equals(Buffer.from(file))).toBe(true);
    const rw = await openVhdxFile(dirty, { readOnly: false });
    await rw.close();
    const c = run('qemu-img', ['check', '-f', 'vhdx', dirty]);
    expect(`${c.status} ${c.stdout}`).toMatch(/^0 No errors were found/);
    runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', dirty, join(tmp.path, 'y.raw')]);
    expect(readFileSync(join(tmp.path, 'y.raw')).equals(expected)).toBe(true);
  });
});
