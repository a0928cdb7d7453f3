import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/** `lsvm vhdx …`: JSON shapes, exit codes, and qemu-img's view of what the commands write. */

let tmp: { path: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('lsvm-cli-vhdx-');
});
afterAll(() => tmp.cleanup());
const MiB = 1 << 20;
const p = (n: string): string => join(tmp.path, n);

describe('lsvm vhdx', () => {
  it('create → info --json → convert both ways → check', async () => {
    const r = await lsvm(['vhdx', 'create', p('a.vhdx'), '--size', '6M', '--block-size', '2M', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'dynamic', virtualSize: 6 * MiB, blockSize: 2 * MiB });
    const info = await lsvm(['vhdx', 'info', p('a.vhdx'), '--json']);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({
      virtualSize: 6 * MiB,
      blockSize: 2 * MiB,
      logicalSectorSize: 512,
      physicalSectorSize: 4096,
      type: 'dynamic',
      parent: null,
      logReplayNeeded: false,
      allocatedBytes: 0,
      fileSize: statSync(p('a.vhdx')).size,
    });
    const raw = Buffer.alloc(3 * MiB);
    raw.fill(0xab, MiB, MiB + 1000);
    writeFileSync(p('in.raw'), raw);
    expect((await lsvm(['vhdx', 'convert', p('in.raw'), p('b.vhdx'), '--block-size', '1M'])).code).toBe(0);
    const b = JSON.parse((await lsvm(['vhdx', 'info', p('b.vhdx'), '--json'])).stdout);
    expect(b.allocatedBytes).toBe(MiB);
    expect((await lsvm(['vhdx', 'convert', p('b.vhdx'), p('out.img')])).code).toBe(0);
    expect(readFileSync(p('out.img')).equals(raw)).toBe(true);
    const c = await lsvm(['vhdx', 'check', p('b.vhdx'), '--json']);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toEqual({ file: p('b.vhdx'), clean: true, findings: [] });
  });

  it('differencing child: create --parent, info shows the parent', async () => {
    await lsvm(['vhdx', 'create', p('base.vhdx'), '--size', '4M', '--block-size', '1M']);
    expect((await lsvm(['vhdx', 'create', p('child.vhdx'), '--parent', p('base.vhdx')])).code).toBe(0);
    const info = JSON.parse((await lsvm(['vhdx', 'info', p('child.vhdx'), '--json'])).stdout);
    expect(info.type).toBe('differencing');
    expect(info.parent.path).toBe(p('base.vhdx'));
    expect(info.parent.locator.relative_path).toBe('.\\base.vhdx');
  });

  it('check finds a damaged header (exit 1) and --repair fixes it', async () => {
    await lsvm(['vhdx', 'create', p('d.vhdx'), '--size', '2M', '--block-size', '1M']);
    const bytes = readFileSync(p('d.vhdx'));
    bytes.writeUInt8(bytes.readUInt8(64 * 1024 + 300) ^ 0xff, 64 * 1024 + 300);
    writeFileSync(p('d.vhdx'), bytes);
    const c = await lsvm(['vhdx', 'check', p('d.vhdx'), '--json']);
    expect(c.code).toBe(1);
    expect(JSON.parse(c.stdout).findings[0].code).toBe('VHDX_HEADER_CHECKSUM');
    const r = await lsvm(['vhdx', 'check', p('d.vhdx'), '--repair']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/repaired/);
    expect((await lsvm(['vhdx', 'check', p('d.vhdx')])).code).toBe(0);
  });

  it('usage and input errors map to exit codes', async () => {
    expect((await lsvm(['vhdx', 'create', p('x.vhdx')])).code).toBe(2);
    expect((await lsvm(['vhdx', 'create', p('x.vhdx'), '--size', '3M', '--block-size', '3M'])).code).toBe(2);
    expect((await lsvm(['vhdx', 'create', p('x.vhdx'), '--size', '3M', '--type', 'sparse'])).code).toBe(2);
    expect(existsSync(p('x.vhdx'))).toBe(false);
    expect((await lsvm(['vhdx', 'convert', p('x.vhdx'), p('x.vhdx')])).code).toBe(2);
    writeFileSync(p('junk.vhdx'), Buffer.alloc(1 << 20, 7));
    const r = await lsvm(['vhdx', 'info', p('junk.vhdx')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/VHDX_BAD_SIGNATURE/);
  });
});

describeWithPeers(['qemu-img'], 'lsvm vhdx against qemu-img', () => {
  it('fixed disks from create pass qemu-img check; qemu images convert to identical raw', async () => {
    expect(
      (await lsvm(['vhdx', 'create', p('f.vhdx'), '--size', '3M', '--type', 'fixed', '--block-size', '1M']))
        .code,
    ).toBe(0);
    const r = run('qemu-img', ['check', '-f', 'vhdx', p('f.vhdx')]);
    expect(r.stdout).toMatch(/No errors were found/);
    const raw = Buffer.alloc(5 * MiB);
    raw.fill(1, 0, 4096);
    raw.fill(2, 4 * MiB, 5 * MiB);
    writeFileSync(p('q.raw'), raw);
    runOk('qemu-img', ['convert', '-O', 'vhdx', p('q.raw'), p('q.vhdx')]);
    expect((await lsvm(['vhdx', 'convert', p('q.vhdx'), p('q.out'), '--to', 'raw'])).code).toBe(0);
    expect(readFileSync(p('q.out')).equals(raw)).toBe(true);
  });
});
