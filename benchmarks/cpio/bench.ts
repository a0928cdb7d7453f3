/**
 * cpio / initramfs: listing and key injection on a Debian-style initramfs (uncompressed
 * microcode segment + compressed main segment of ~40 MiB of real files from /usr/lib) with
 * @lsvm/cpio, side by side with the shell pipelines people use: `gzip -dc | cpio -t`,
 * `zstd -dc | cpio -t`, and for the injection, unpack + add the keys + repack with gzip.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// benchmarks/ is not a dependent of @lsvm/cpio; import its sources directly (run through tsx).
import { injectKeys, mergedView, parseInitramfs } from '../../packages/cpio/src/index.js';
import type { BenchCase, Benchmark, Peer } from '../harness.js';

const MiB = 1 << 20;

export const benchmark: Benchmark = {
  name: 'cpio',
  description: 'initramfs list + inject-keys: @lsvm/cpio vs gzip/zstd | cpio pipelines',
  async setup(ctx) {
    const tree = join(ctx.dir, 'tree');
    mkdirSync(tree, { recursive: true });
    // ~40 MiB of real files (shared libraries compress like an initramfs's modules and binaries).
    execFileSync('sh', [
      '-c',
      `cd /usr/lib && find . -type f -size -4M 2>/dev/null | head -n 4000 | while read f; do s=$(du -sk "$f" | cut -f1); t=$(du -sk '${tree}' | cut -f1); [ "$t" -gt 40960 ] && break; mkdir -p "${tree}/$(dirname "$f")"; cp "$f" "${tree}/$f"; done`,
    ]);
    const micro = join(ctx.dir, 'micro');
    mkdirSync(join(micro, 'kernel/x86/microcode'), { recursive: true });
    writeFileSync(join(micro, 'kernel/x86/microcode/GenuineIntel.bin'), new Uint8Array(3 * MiB).fill(0x5a));
    const cpioOf = (dir: string): Buffer =>
      execFileSync('sh', ['-c', `cd '${dir}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet`], {
        maxBuffer: 1 << 30,
      });
    const early = cpioOf(micro);
    const main = cpioOf(tree);
    ctx.log(`initramfs main archive: ${(main.length / MiB).toFixed(1)} MiB`);
    const cases: BenchCase[] = [];
    const keyDir = join(ctx.dir, 'keys');
    mkdirSync(join(keyDir, 'etc/lsvmload'), { recursive: true });
    writeFileSync(join(keyDir, 'etc/lsvmload/bootkey'), 'boot');
    writeFileSync(join(keyDir, 'etc/lsvmload/rootkey'), 'root');
    for (const [comp, tool] of [
      ['gzip', 'gzip'],
      ['zstd', 'zstd'],
    ] as const) {
      const t = ctx.which(tool);
      if (!t) {
        ctx.log(`${tool} missing: ${comp} cases skipped`);
        continue;
      }
      const compressed = execFileSync(t, comp === 'gzip' ? ['-6', '-c'] : ['-q', '-3', '-c'], {
        input: main,
        maxBuffer: 1 << 30,
      });
      const mainFile = join(ctx.dir, `main.${comp}`);
      writeFileSync(mainFile, compressed);
      const img = new Uint8Array(Buffer.concat([early, compressed]));
      const imgFile = join(ctx.dir, `initrd.${comp}`);
      writeFileSync(imgFile, img);
      const cpio = ctx.which('cpio');
      const listPeer: Peer = cpio
        ? {
            name: `${tool} -dc | cpio -t`,
            runner: {
              kind: 'cmd',
              argv: ['sh', '-c', `${t} -dc '${mainFile}' | ${cpio} -t --quiet > /dev/null`],
            },
          }
        : { name: `${tool} -dc | cpio -t`, missing: 'cpio not on PATH' };
      cases.push({
        name: `list a ${comp} initramfs (${(main.length / MiB).toFixed(0)} MiB expanded)`,
        bytes: main.length,
        ours: {
          kind: 'fn',
          run: async () => {
            const parsed = await parseInitramfs(img);
            if (mergedView(parsed).length < 10) throw new Error('too few entries');
          },
        },
        peers: [listPeer],
      });
      const work = join(ctx.dir, `work-${comp}`);
      const out = join(ctx.dir, `out-${comp}.gz`);
      cases.push({
        name: `inject-keys into a ${comp} initramfs, gzip output`,
        bytes: main.length,
        ours: {
          kind: 'fn',
          run: async () => {
            const r = await injectKeys(img, {
              bootKey: new Uint8Array([1]),
              rootKey: new Uint8Array([2]),
              compression: 'gzip',
            });
            writeFileSync(out, r.bytes);
          },
        },
        peers: [
          cpio
            ? {
                name: `${tool} -dc | cpio -i, add keys, cpio -o | gzip`,
                runner: {
                  kind: 'cmd',
                  argv: [
                    'sh',
                    '-c',
                    `rm -rf '${work}' && mkdir '${work}' && cd '${work}' && ${t} -dc '${mainFile}' | ${cpio} -id --quiet && rm -f etc/lsvmload/specialize && cp -r '${keyDir}/etc' . && find . | ${cpio} -o -H newc --quiet | gzip -6 > '${out}'`,
                  ],
                },
              }
            : { name: 'unpack/repack pipeline', missing: 'cpio not on PATH' },
        ],
        afterEach: async () => {
          rmSync(work, { recursive: true, force: true });
        },
      });
    }
    return cases;
  },
};
