/**
 * FAT: filling and reading an ESP-sized FAT32 image with @lsvm/fat, side by side with mtools
 * (`mcopy`) and dosfstools (`fsck.fat -n`) on the same files. Ours runs in-process on a file
 * (FileDevice), the peers as processes — their start-up is part of their time, as it is for a
 * user choosing between them.
 *
 * What the write case compares (strace of `mcopy -s` on this tree): mcopy buffers its writes
 * (about 90 write(2) calls for the 301 files: data runs, then FAT and directory sectors once per
 * directory) and never calls fsync, so the image is only in the page cache when it exits. Ours
 * ends with `close()`, which fsyncs the image. So there are two write cases, each like for like:
 * durable (ours with fsync vs `mcopy -s; sync FILE`, an fsync of the image) and page cache only
 * (ours with `close({ sync: false })` vs plain `mcopy -s`). Every image starts as a sparse copy of
 * the freshly made one, synced before the timed run, so neither side pays for writing back the
 * copy itself. The image ours writes is checked once in setup: `fsck.fat -n` clean, and every
 * file read back by mcopy identical.
 */
import {
  closeSync,
  copyFileSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { FileDevice } from '@lsvm/core';
// benchmarks/ is not a dependent of @lsvm/fat; import its sources directly (run through tsx).
import { FatFileSystem, checkFat, mkfs } from '../../packages/fat/src/index.js';
import type { BenchCase, Benchmark, Peer } from '../harness.js';

const MiB = 1 << 20;

function fill(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const benchmark: Benchmark = {
  name: 'fat',
  description: 'FAT32 ESP: write a tree, read it back, check — @lsvm/fat vs mcopy and fsck.fat -n',
  async setup(ctx) {
    const env = { MTOOLS_SKIP_CHECK: '1' };
    // The tree: one 48 MiB file (a big initrd-like blob) and 300 small files in 10 directories.
    const src = join(ctx.dir, 'tree');
    const files: [string, Uint8Array][] = [['big.bin', fill(48 * MiB, 7)]];
    for (let d = 0; d < 10; d++)
      for (let f = 0; f < 30; f++)
        files.push([`dir${d}/file number ${f}.txt`, fill(3000 + f * 100, d * 100 + f)]);
    const total = files.reduce((n, [, b]) => n + b.length, 0);
    for (const [p, b] of files) {
      mkdirSync(join(src, p, '..'), { recursive: true });
      writeFileSync(join(src, p), b);
    }
    const pristine = join(ctx.dir, 'empty.img');
    writeFileSync(pristine, '');
    execFileSync('truncate', ['-s', '260M', pristine]);
    const dev0 = await FileDevice.open(pristine, { readOnly: false });
    await mkfs(dev0, { label: 'ESP', volumeId: 1 });
    await dev0.close();
    const oursImg = join(ctx.dir, 'ours.img');
    const peerImg = join(ctx.dir, 'peer.img');
    const reset = async (): Promise<void> => {
      for (const img of [oursImg, peerImg]) {
        // Sparse, as the pristine image (copyFileSync would write all 260 MiB), and synced.
        execFileSync('cp', ['--sparse=always', pristine, img]);
        const fd = openSync(img, 'r+');
        fsyncSync(fd);
        closeSync(fd);
      }
    };
    await reset();
    const mcopy = ctx.which('mcopy');
    const fsck = ctx.which('fsck.fat');
    const dirs = [...new Set(files.map(([p]) => p.split('/')[0]!))].map((d) => join(src, d));

    const writePeer: Peer = mcopy
      ? { name: 'mcopy -s', runner: { kind: 'cmd', argv: [mcopy, '-s', '-i', peerImg, ...dirs, '::/'], env } }
      : { name: 'mcopy -s', missing: 'mcopy not on PATH (mtools)' };
    const sync = ctx.which('sync');
    const writeSyncedPeer: Peer =
      mcopy && sync
        ? {
            name: 'mcopy -s; sync FILE',
            runner: {
              kind: 'cmd',
              argv: [
                '/bin/sh',
                '-c',
                `m="$1" img="$2"; shift 2; "$m" -s -i "$img" "$@" ::/ && "$0" "$img"`,
                sync,
                mcopy,
                peerImg,
                ...dirs,
              ],
              env,
            },
          }
        : { name: 'mcopy -s; sync FILE', missing: 'mcopy (mtools) or sync (coreutils) not on PATH' };
    // A full image for the read and check cases, written once by us.
    const full = join(ctx.dir, 'full.img');
    copyFileSync(pristine, full);
    {
      const dev = await FileDevice.open(full, { readOnly: false });
      const fs = await FatFileSystem.open(dev);
      for (const [p, b] of files) await fs.writeFile(`/${p}`, b, { createParents: true });
      await fs.close();
      await dev.close();
    }
    if (fsck && mcopy) {
      // What ours writes must pass fsck.fat -n and read back identically through mtools.
      execFileSync(fsck, ['-n', full], { stdio: 'ignore' });
      const verify = join(ctx.dir, 'verify');
      mkdirSync(verify);
      execFileSync(mcopy, ['-s', '-n', '-i', full, '::/*', verify], { env: { ...process.env, ...env } });
      for (const [p, b] of files) {
        if (!Buffer.from(readFileSync(join(verify, p))).equals(Buffer.from(b))) {
          throw new Error(`mcopy reads ${p} differently from what was written`);
        }
      }
      rmSync(verify, { recursive: true });
    }
    const outDir = join(ctx.dir, 'out');
    const writeOurs = (sync: boolean): (() => Promise<void>) => {
      return async () => {
        const dev = await FileDevice.open(oursImg, { readOnly: false });
        const fs = await FatFileSystem.open(dev);
        for (const [p, b] of files) await fs.writeFile(`/${p}`, b, { createParents: true });
        await fs.close({ sync });
        await dev.close();
      };
    };
    const writeName = `write ${files.length} files (${(total / MiB).toFixed(0)} MiB) into a fresh 260 MiB FAT32`;
    const cases: BenchCase[] = [
      {
        name: `${writeName}, durable (ours: close() fsyncs)`,
        bytes: total,
        ours: { kind: 'fn', run: writeOurs(true) },
        peers: [writeSyncedPeer],
        afterEach: reset,
      },
      {
        name: `${writeName}, left in the page cache as mcopy does (ours: close({ sync: false }))`,
        bytes: total,
        ours: { kind: 'fn', run: writeOurs(false) },
        peers: [writePeer],
        afterEach: reset,
      },
      {
        name: 'read every file back',
        bytes: total,
        ours: {
          kind: 'fn',
          run: async () => {
            const dev = await FileDevice.open(full);
            const fs = await FatFileSystem.open(dev);
            let n = 0;
            for await (const s of fs.walk()) if (!s.isDirectory) n += (await fs.readFile(s.path)).length;
            if (n !== total) throw new Error(`read ${n} bytes, expected ${total}`);
            await dev.close();
          },
        },
        peers: [
          mcopy
            ? {
                name: 'mcopy -s to a directory',
                runner: { kind: 'cmd', argv: [mcopy, '-s', '-n', '-i', full, '::/*', outDir], env },
              }
            : { name: 'mcopy -s to a directory', missing: 'mcopy not on PATH (mtools)' },
        ],
        afterEach: async () => {
          rmSync(outDir, { recursive: true, force: true });
          mkdirSync(outDir);
        },
      },
      {
        name: 'check the file system',
        bytes: 0,
        ours: {
          kind: 'fn',
          run: async () => {
            const dev = await FileDevice.open(full);
            const r = await checkFat(await FatFileSystem.open(dev));
            if (!r.clean) throw new Error('not clean');
            await dev.close();
          },
        },
        peers: [
          fsck
            ? { name: 'fsck.fat -n', runner: { kind: 'cmd', argv: [fsck, '-n', full] } }
            : { name: 'fsck.fat -n', missing: 'fsck.fat not on PATH (dosfstools)' },
        ],
      },
    ];
    mkdirSync(outDir, { recursive: true });
    return cases;
  },
};
