import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { isVhdxFile, openImage } from '../src/image.js';

describeWithPeers(['sgdisk', 'qemu-img'], 'openImage: raw and VHDX disks, GPT partitions', () => {
  const t = tempDir('lsvm-cli-image-');
  afterAll(() => t.cleanup());

  test('a partition inside a raw disk and inside the same disk converted to VHDX read the same bytes', async () => {
    const raw = join(t.path, 'disk.img');
    writeFileSync(raw, new Uint8Array(0));
    runOk('truncate', ['-s', '16M', raw]);
    runOk('sgdisk', ['-n', '1:2048:+4M', '-t', '1:ef00', '-n', '2:0:+4M', '-t', '2:8300', raw]);
    const start2 = Number(/First sector: (\d+)/.exec(runOk('sgdisk', ['-i', '2', raw]))![1]);
    const marker = Buffer.from('lsvm partition 2 marker');
    runOk('dd', [`of=${raw}`, `seek=${start2 * 512}`, 'bs=1', 'conv=notrunc', 'status=none'], {
      input: marker,
    });
    const vhdx = join(t.path, 'disk.vhdx');
    runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
    expect(await isVhdxFile(vhdx)).toBe(true);
    expect(await isVhdxFile(raw)).toBe(false);
    for (const path of [raw, vhdx]) {
      const img = await openImage(path, { partition: 2 });
      try {
        expect(img.format).toBe(path === vhdx ? 'vhdx' : 'raw');
        expect(img.device.size).toBe(4 << 20);
        expect(Buffer.from(await img.device.read(0, marker.length)).equals(marker)).toBe(true);
        expect(img.device.readOnly).toBe(true);
      } finally {
        await img.close();
      }
    }
  });

  test('a missing partition and a disk without GPT are typed errors', async () => {
    const raw = join(t.path, 'plain.img');
    writeFileSync(raw, new Uint8Array(1 << 20));
    await expect(openImage(raw, { partition: 1 })).rejects.toMatchObject({ code: 'GPT_NOT_FOUND' });
    await expect(openImage(raw, { partition: 0 })).rejects.toMatchObject({ code: 'BAD_PARTITION' });
    const disk = join(t.path, 'disk.img');
    await expect(openImage(disk, { partition: 9 })).rejects.toHaveProperty('code');
  });
});

describeWithPeers(['qemu-img', 'sgdisk'], 'gpt commands on VHDX disks', () => {
  test('lsvm gpt add/show on a .vhdx made by qemu-img; qemu-img sees a valid GPT inside', async () => {
    const { lsvm } = await import('./helpers.js');
    const t = tempDir('lsvm-cli-gpt-vhdx-');
    try {
      const vhdx = join(t.path, 'disk.vhdx');
      runOk('qemu-img', ['create', '-f', 'vhdx', vhdx, '64M']);
      expect((await lsvm(['gpt', 'create', vhdx, '--size', '1G'])).code).toBe(2);
      expect((await lsvm(['gpt', 'create', vhdx])).code).toBe(0);
      expect((await lsvm(['gpt', 'add', vhdx, '--type', 'esp', '--size', '8M', '--name', 'EFI'])).code).toBe(
        0,
      );
      const show = await lsvm(['gpt', 'show', vhdx, '--json']);
      expect(show.code).toBe(0);
      const j = JSON.parse(show.stdout) as {
        partitions: { index: number; typeName: string; sizeBytes: number }[];
      };
      expect(j.partitions).toEqual([expect.objectContaining({ index: 1, sizeBytes: 8 << 20 })]);
      expect(run('qemu-img', ['check', vhdx]).status).toBe(0);
      const back = join(t.path, 'back.img');
      runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', vhdx, back]);
      expect(runOk('sgdisk', ['-v', back])).toContain('No problems found');
      expect(runOk('sgdisk', ['-i', '1', back])).toContain('EFI system partition');
    } finally {
      t.cleanup();
    }
  });
});

describeWithPeers(['qemu-img', 'sgdisk', 'cryptsetup'], 'luks commands on a partition of a VHDX disk', () => {
  test('format partition 2 of a raw disk, convert to VHDX, open-test through --partition; cryptsetup agrees', async () => {
    const { lsvm } = await import('./helpers.js');
    const t = tempDir('lsvm-cli-luks-vhdx-');
    try {
      const raw = join(t.path, 'disk.img');
      runOk('truncate', ['-s', '40M', raw]);
      runOk('sgdisk', ['-n', '1:2048:+4M', '-t', '1:ef00', '-n', '2:0:+24M', '-t', '2:8309', raw]);
      const key = join(t.path, 'key');
      writeFileSync(key, 'correct horse');
      const wrong = join(t.path, 'wrong');
      writeFileSync(wrong, 'battery staple');
      const fmt = await lsvm([
        'luks',
        'format',
        raw,
        '--partition',
        '2',
        '--key-file',
        key,
        '--type',
        'luks2',
        '--pbkdf',
        'pbkdf2',
        '--pbkdf-force-iterations',
        '1000',
      ]);
      expect(fmt.code).toBe(0);
      const vhdx = join(t.path, 'disk.vhdx');
      runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
      expect((await lsvm(['luks', 'open-test', vhdx, '--partition', '2', '--key-file', key])).code).toBe(0);
      expect((await lsvm(['luks', 'open-test', vhdx, '--partition', '2', '--key-file', wrong])).code).toBe(5);
      const dump = await lsvm(['luks', 'dump', vhdx, '--partition', '2', '--json']);
      expect(JSON.parse(dump.stdout)).toMatchObject({ version: 2 });
      // cryptsetup on the partition's bytes, extracted from the VHDX by qemu-img.
      const back = join(t.path, 'back.img');
      runOk('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', vhdx, back]);
      const start = Number(/First sector: (\d+)/.exec(runOk('sgdisk', ['-i', '2', back]))![1]);
      const part = join(t.path, 'part.img');
      runOk('dd', [
        `if=${back}`,
        `of=${part}`,
        'bs=512',
        `skip=${start}`,
        `count=${24 * 2048}`,
        'status=none',
      ]);
      expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', key, part]).status).toBe(0);
    } finally {
      t.cleanup();
    }
  });
});
