import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/** `lsvm fat …`: exit codes, --json, and the peers' view of what the commands write. */

let tmp: { path: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('lsvm-cli-fat-');
});
afterAll(() => tmp.cleanup());

const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

describe('lsvm fat', () => {
  test('mkfs, put, ls, get, mv, rm, mkdir, info, check on an image file', async () => {
    const img = join(tmp.path, 'esp.img');
    const mk = await lsvm([
      'fat',
      'mkfs',
      img,
      '--size',
      '40M',
      '--label',
      'ESP',
      '--volume-id',
      '1234ABCD',
      '--json',
    ]);
    expect(mk.code).toBe(0);
    expect(JSON.parse(mk.stdout)).toMatchObject({
      type: 32,
      clusterSize: 512,
      volumeId: 0x1234abcd,
      label: 'ESP',
    });
    const conf = join(tmp.path, 'lsvmconf');
    writeFileSync(conf, 'ROOTDEVICE=/dev/sda2\n');
    expect((await lsvm(['fat', 'put', img, '/EFI/boot/lsvmconf', conf])).code).toBe(0);
    expect((await lsvm(['fat', 'mkdir', img, '/EFI/ubuntu/deeper', '-p'])).code).toBe(0);
    const ls = await lsvm(['fat', 'ls', img, '/efi/boot', '--json']);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([
      expect.objectContaining({ path: '/EFI/boot/lsvmconf', name: 'lsvmconf', type: 'file', size: 21 }),
    ]);
    const get = await lsvm(['fat', 'get', img, '/EFI/BOOT/LSVMCONF']);
    expect(get.stdout).toBe('ROOTDEVICE=/dev/sda2\n');
    expect(
      (await lsvm(['fat', 'mv', img, '/EFI/boot/lsvmconf', '/EFI/ubuntu/Renamed Config.txt'])).code,
    ).toBe(0);
    expect((await lsvm(['fat', 'rm', img, '/EFI/ubuntu/deeper'])).code).toBe(0);
    const info = JSON.parse((await lsvm(['fat', 'info', img, '--json'])).stdout) as {
      type: string;
      label: string;
    };
    expect(info).toMatchObject({ type: 'FAT32', label: 'ESP' });
    const check = await lsvm(['fat', 'check', img]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('clean');
  });

  test('errors map to exit codes: missing path 2, not a FAT image 3, bad option 2', async () => {
    const img = join(tmp.path, 'small.img');
    expect((await lsvm(['fat', 'mkfs', img, '--size', '2M', '--fat', '12'])).code).toBe(0);
    const missing = await lsvm(['fat', 'get', img, '/nope.txt']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('FAT_NOT_FOUND');
    const junk = join(tmp.path, 'junk.img');
    writeFileSync(junk, new Uint8Array(4096).fill(0x41));
    const bad = await lsvm(['fat', 'ls', junk]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('FAT_BOOT_SIGNATURE');
    expect((await lsvm(['fat', 'mkfs', join(tmp.path, 'x.img'), '--size', '2M', '--fat', '13'])).code).toBe(
      2,
    );
    expect((await lsvm(['fat', 'mkfs', join(tmp.path, 'y.img')])).code).toBe(2);
  });

  test('check exits 1 on findings', async () => {
    const img = join(tmp.path, 'broken.img');
    expect((await lsvm(['fat', 'mkfs', img, '--size', '8M', '--fat', '16'])).code).toBe(0);
    const bytes = readFileSync(img);
    // Mark a cluster allocated that nothing uses (both FATs): lost clusters.
    const bs = { reserved: bytes.readUInt16LE(14), fatSectors: bytes.readUInt16LE(22) };
    for (const k of [0, 1]) bytes.writeUInt16LE(0xffff, (bs.reserved + k * bs.fatSectors) * 512 + 2 * 100);
    writeFileSync(img, bytes);
    const r = await lsvm(['fat', 'check', img, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).findings[0].code).toBe('FAT_LOST_CLUSTERS');
  });
});

describeWithPeers(['fsck.fat', 'mdir'], 'lsvm fat on a GPT partition (--partition)', () => {
  test('mkfs and put inside partition 1 of a raw disk; fsck.fat and mtools agree', async () => {
    const disk = join(tmp.path, 'disk.img');
    expect((await lsvm(['gpt', 'create', disk, '--size', '64M'])).code).toBe(0);
    expect(
      (await lsvm(['gpt', 'add', disk, '--type', 'esp', '--size', '40M', '--name', 'EFI system'])).code,
    ).toBe(0);
    expect((await lsvm(['fat', 'mkfs', disk, '--partition', '1', '--label', 'EFI'])).code).toBe(0);
    const f = join(tmp.path, 'sealedkeys');
    writeFileSync(f, new Uint8Array(3000).fill(7));
    expect((await lsvm(['fat', 'put', disk, '--partition', '1', '/EFI/boot/sealedkeys', f])).code).toBe(0);
    const start = 1 << 20; // the first aligned free sector
    const part = join(tmp.path, 'part.img');
    writeFileSync(part, readFileSync(disk).subarray(start, start + (40 << 20)));
    expect(run('fsck.fat', ['-n', part]).status).toBe(0);
    expect(readFileSync(part).readUInt32LE(28)).toBe(start / 512); // BPB_HiddSec
    expect(runOk('mdir', ['-b', '-i', part, '::/EFI/boot'], { env }).trim()).toBe('::/EFI/boot/sealedkeys');
  });
});

describeWithPeers(['qemu-img', 'fsck.fat', 'mtype'], 'lsvm fat on a GPT partition of a .vhdx disk', () => {
  test('put into partition 1 of a VHDX; qemu-img converts it back and the peers read our file', async () => {
    const raw = join(tmp.path, 'vdisk.img');
    expect((await lsvm(['gpt', 'create', raw, '--size', '48M'])).code).toBe(0);
    expect((await lsvm(['gpt', 'add', raw, '--type', 'esp', '--size', '36M'])).code).toBe(0);
    expect((await lsvm(['fat', 'mkfs', raw, '--partition', '1', '--fat', '32'])).code).toBe(0);
    const vhdx = join(tmp.path, 'vdisk.vhdx');
    runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
    const conf = join(tmp.path, 'conf');
    writeFileSync(conf, 'ROOTDEVICE=/dev/sda2\n');
    const put = await lsvm(['fat', 'put', vhdx, '--partition', '1', '/EFI/boot/lsvmconf', conf]);
    expect(put.stderr).toBe('');
    expect(put.code).toBe(0);
    const ls = await lsvm(['fat', 'ls', vhdx, '--partition', '1', '/EFI/boot', '--json']);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ name: 'lsvmconf', size: 21 })]);
    const back = join(tmp.path, 'back.img');
    runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', vhdx, back]);
    const part = join(tmp.path, 'back-part.img');
    writeFileSync(part, readFileSync(back).subarray(1 << 20, (1 << 20) + (36 << 20)));
    expect(run('fsck.fat', ['-n', part]).status).toBe(0);
    expect(runOk('mtype', ['-i', part, '::/EFI/BOOT/LSVMCONF'], { env })).toBe('ROOTDEVICE=/dev/sda2\n');
  });
});
