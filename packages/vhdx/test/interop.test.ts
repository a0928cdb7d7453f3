import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { FileDevice } from '@lsvm/core';
import { convertFile, createVhdxFile, openVhdxFile } from '../src/index.js';
import { mixedData } from './helpers.js';
import { hasPyvhdi, libvhdiRead, vhdiinfo } from './peers.js';

const MiB = 1 << 20;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('lsvm-vhdx-interop-');
  if (!hasPyvhdi()) throw new Error('python3-libvhdi (pyvhdi) is not importable under /usr/bin/python3');
});
afterAll(() => tmp.cleanup());
const p = (name: string): string => join(tmp.path, name);

function qemuCheckClean(path: string): void {
  const r = run('qemu-img', ['check', '-f', 'vhdx', path]);
  expect(`${r.status}: ${r.stdout}${r.stderr}`).toMatch(/^0: No errors were found on the image/);
  expect(r.stdout).not.toMatch(/leak/i);
}

/** qemu 7.2 opens only 512-byte logical sectors (block/vhdx.c returns ENOTSUP otherwise). */
function qemuRefuses4k(path: string): void {
  const r = run('qemu-img', ['info', '-f', 'vhdx', path]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/Operation not supported/);
}

describeWithPeers(
  ['qemu-img', 'vhdiinfo'],
  'qemu-made images read like qemu-img and libvhdi read them',
  () => {
    // Sizes deliberately not a multiple of the block size; data mixes random runs and holes.
    const cases = [
      { name: 'dynamic-1M', opts: 'block_size=1M', size: 13 * MiB + 512 * 7 },
      { name: 'dynamic-8M', opts: 'block_size=8M', size: 19 * MiB + 4096 },
      { name: 'dynamic-32M', opts: 'block_size=32M', size: 40 * MiB + 1536 },
      { name: 'fixed-1M', opts: 'subformat=fixed,block_size=1M', size: 6 * MiB + 512 },
      { name: 'fixed-8M', opts: 'subformat=fixed,block_size=8M', size: 9 * MiB + 1024 },
    ];
    test.each(cases)('$name', async ({ name, opts, size }) => {
      const data = mixedData(size, name.length);
      writeFileSync(p(`${name}.raw`), data);
      runOk('qemu-img', [
        'convert',
        '-f',
        'raw',
        '-O',
        'vhdx',
        '-o',
        opts,
        p(`${name}.raw`),
        p(`${name}.vhdx`),
      ]);
      runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', p(`${name}.vhdx`), p(`${name}.q.raw`)]);
      const viaQemu = readFileSync(p(`${name}.q.raw`));
      const dev = await openVhdxFile(p(`${name}.vhdx`));
      try {
        const ours = Buffer.from(await dev.read(0, dev.size));
        expect(ours.equals(viaQemu)).toBe(true);
        expect(ours.equals(libvhdiRead(p(`${name}.vhdx`)))).toBe(true);
        expect(ours.subarray(0, data.length).equals(Buffer.from(data))).toBe(true);
        const info = dev.info();
        expect(info.type).toBe(name.startsWith('fixed') ? 'fixed' : 'dynamic');
        const v = vhdiinfo(p(`${name}.vhdx`));
        expect(v.mediaSize).toBe(info.virtualSize);
        expect(v.bytesPerSector).toBe(info.logicalSectorSize);
      } finally {
        await dev.close();
      }
      // And our converter makes the same raw bytes, as a sparse file.
      await convertFile(p(`${name}.vhdx`), p(`${name}.o.raw`));
      expect(readFileSync(p(`${name}.o.raw`)).equals(viaQemu)).toBe(true);
    });

    test('writing into a qemu-made image keeps it clean for qemu-img check', async () => {
      const data = mixedData(10 * MiB, 3);
      writeFileSync(p('w.raw'), data);
      runOk('qemu-img', [
        'convert',
        '-f',
        'raw',
        '-O',
        'vhdx',
        '-o',
        'block_size=1M',
        p('w.raw'),
        p('w.vhdx'),
      ]);
      const dev = await openVhdxFile(p('w.vhdx'), { readOnly: false });
      const patch = new Uint8Array(3 * MiB + 1000).fill(0x5a);
      await dev.write(MiB / 2 + 17, patch);
      data.set(patch, MiB / 2 + 17);
      await dev.close();
      qemuCheckClean(p('w.vhdx'));
      runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', p('w.vhdx'), p('w.q.raw')]);
      expect(readFileSync(p('w.q.raw')).equals(Buffer.from(data))).toBe(true);
    });
  },
);

describeWithPeers(
  ['qemu-img', 'vhdiinfo'],
  'images we write pass qemu-img check and read identically in qemu and libvhdi',
  () => {
    const cases = [
      { type: 'dynamic', lss: 512, pss: 4096, bs: MiB },
      { type: 'dynamic', lss: 512, pss: 512, bs: 32 * MiB },
      { type: 'dynamic', lss: 4096, pss: 4096, bs: 2 * MiB },
      { type: 'fixed', lss: 512, pss: 4096, bs: 2 * MiB },
      { type: 'fixed', lss: 4096, pss: 4096, bs: MiB },
    ] as const;
    test.each(cases)('$type, logical $lss, block $bs', async ({ type, lss, pss, bs }) => {
      const name = `ours-${type}-${lss}-${bs}`;
      const size = 11 * MiB + 3 * 4096;
      const data = mixedData(size, 7);
      writeFileSync(p(`${name}.raw`), data);
      await convertFile(p(`${name}.raw`), p(`${name}.vhdx`), {
        type,
        blockSize: bs,
        logicalSectorSize: lss,
        physicalSectorSize: pss,
      });
      if (lss === 512) {
        qemuCheckClean(p(`${name}.vhdx`));
        runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', p(`${name}.vhdx`), p(`${name}.q.raw`)]);
        expect(readFileSync(p(`${name}.q.raw`)).equals(Buffer.from(data))).toBe(true);
        const qinfo = JSON.parse(runOk('qemu-img', ['info', '--output=json', p(`${name}.vhdx`)]));
        expect(qinfo['virtual-size']).toBe(size);
        expect(qinfo['cluster-size']).toBe(bs);
      } else {
        qemuRefuses4k(p(`${name}.vhdx`));
      }
      expect(libvhdiRead(p(`${name}.vhdx`)).equals(Buffer.from(data))).toBe(true);
      const v = vhdiinfo(p(`${name}.vhdx`));
      expect(v).toEqual({ mediaSize: size, bytesPerSector: lss, diskType: type });
      if (type === 'fixed') {
        // A fixed disk is really allocated: its payload blocks hold no holes.
        const st = statSync(p(`${name}.vhdx`));
        const payload = Math.ceil(size / bs) * bs;
        expect(st.blocks * 512).toBeGreaterThanOrEqual(payload);
      }
    });

    test('256 MiB blocks with 4 KiB sectors (chunk ratio 128) and 512-byte sectors (16), sparse files', async () => {
      for (const lss of [512, 4096] as const) {
        const f = p(`big-${lss}.vhdx`);
        const size = 600 * MiB;
        await createVhdxFile(f, { size, blockSize: 256 * MiB, logicalSectorSize: lss });
        const dev = await openVhdxFile(f, { readOnly: false });
        expect(dev.layout.geometry.chunkRatio).toBe(lss === 512 ? 16 : 128);
        await dev.write(0, new Uint8Array(4096).fill(1));
        await dev.write(size - 4096, new Uint8Array(4096).fill(2));
        await dev.close();
        const ro = await openVhdxFile(f);
        expect((await ro.read(size - 4096, 4096)).every((x) => x === 2)).toBe(true);
        expect((await ro.read(256 * MiB, 4096)).every((x) => x === 0)).toBe(true);
        expect(ro.info().allocatedBytes).toBe(512 * MiB);
        await ro.close();
        if (lss === 512) qemuCheckClean(f);
        expect(vhdiinfo(f).mediaSize).toBe(size);
      }
    });

    test('created empty disks (dynamic, fixed) are clean and read as zeros in both peers', async () => {
      for (const [type, lss] of [
        ['dynamic', 512],
        ['fixed', 512],
        ['dynamic', 4096],
      ] as const) {
        const f = p(`empty-${type}-${lss}.vhdx`);
        await createVhdxFile(f, { size: 5 * MiB, type, blockSize: MiB, logicalSectorSize: lss });
        if (lss === 512) qemuCheckClean(f);
        else qemuRefuses4k(f);
        const r = libvhdiRead(f);
        expect(r.length).toBe(5 * MiB);
        expect(r.every((x) => x === 0)).toBe(true);
        expect(vhdiinfo(f).diskType).toBe(type);
      }
    });
  },
);

describeWithPeers(['vhdiinfo'], 'differencing chains read identically through libvhdi', () => {
  test('a two-level chain with writes at each level', async () => {
    const size = 12 * MiB;
    const base = mixedData(size, 11);
    writeFileSync(p('base.raw'), base);
    await convertFile(p('base.raw'), p('base.vhdx'), { blockSize: 2 * MiB });
    await createVhdxFile(p('mid.vhdx'), { parentPath: p('base.vhdx') });
    const mid = await openVhdxFile(p('mid.vhdx'), { readOnly: false });
    await mid.write(MiB + 512, new Uint8Array(5000).fill(1));
    await mid.write(7 * MiB, new Uint8Array(2 * MiB).fill(2));
    await mid.close();
    await createVhdxFile(p('top.vhdx'), { parentPath: p('mid.vhdx') });
    const top = await openVhdxFile(p('top.vhdx'), { readOnly: false });
    await top.write(MiB + 1024, new Uint8Array(1024).fill(3));
    await top.write(11 * MiB, new Uint8Array(4096).fill(4));
    await top.close();
    const ro = await openVhdxFile(p('top.vhdx'));
    const ours = Buffer.from(await ro.read(0, size));
    expect(ro.info().type).toBe('differencing');
    await ro.close();
    const expected = Buffer.from(base);
    expected.fill(1, MiB + 512, MiB + 512 + 5000);
    expected.fill(2, 7 * MiB, 9 * MiB);
    expected.fill(3, MiB + 1024, MiB + 2048);
    expected.fill(4, 11 * MiB, 11 * MiB + 4096);
    expect(ours.equals(expected)).toBe(true);
    expect(libvhdiRead(p('top.vhdx'), [p('mid.vhdx'), p('base.vhdx')]).equals(expected)).toBe(true);
    expect(vhdiinfo(p('top.vhdx')).diskType).toBe('differential');
    // Flattening the chain through our converter.
    await convertFile(p('top.vhdx'), p('flat.vhdx'));
    const flat = await openVhdxFile(p('flat.vhdx'));
    expect(flat.info().type).toBe('dynamic');
    expect(Buffer.from(await flat.read(0, size)).equals(expected)).toBe(true);
    await flat.close();
  });

  test('a parent rewritten after the child was made is refused (linkage), cycles are detected', async () => {
    writeFileSync(p('b2.raw'), mixedData(4 * MiB, 1));
    await convertFile(p('b2.raw'), p('b2.vhdx'), { blockSize: MiB });
    await createVhdxFile(p('c2.vhdx'), { parentPath: p('b2.vhdx') });
    const parent = await openVhdxFile(p('b2.vhdx'), { readOnly: false });
    await parent.write(0, new Uint8Array(512).fill(1));
    await parent.close();
    await expect(openVhdxFile(p('c2.vhdx'))).rejects.toMatchObject({ code: 'VHDX_PARENT_LINKAGE' });
    // A child pointing at itself.
    const dev = await FileDevice.open(p('c2.vhdx'));
    await dev.close();
    await expect(openVhdxFile(p('c2.vhdx'), { parentPath: p('c2.vhdx') })).rejects.toMatchObject({
      code: 'VHDX_PARENT_CYCLE',
    });
    await expect(openVhdxFile(p('c2.vhdx'), { parentPath: p('nope.vhdx') })).rejects.toMatchObject({
      kind: 'io',
    });
  });
});
