/**
 * GPT: reading and validating partition tables (both headers, both arrays, CRCs, entry checks)
 * with @lsvm/gpt, side by side with `sgdisk -v` and `sfdisk --json` on the same images.
 *
 * The library runs in-process (what @lsvm/provisioning pays per disk); the peers run as processes,
 * so their figure includes process start-up, which is most of their time on a small table. The
 * `lsvm gpt verify` CLI is not timed here: from sources its time is node + tsx start-up (seconds on
 * a loaded machine), which says nothing about GPT. Images: 128 entries/30 partitions and
 * 4096 entries/1000 partitions (both made by sgdisk).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
// benchmarks/ is not a dependent of @lsvm/gpt; import its sources directly (run through tsx).
import { openGpt } from '../../packages/gpt/src/index.js';
import type { BenchCase, BenchContext, Benchmark, Peer } from '../harness.js';
import { execFileSync } from 'node:child_process';

function peers(ctx: BenchContext, img: string): Peer[] {
  const out: Peer[] = [];
  const sg = ctx.which('sgdisk');
  out.push(
    sg
      ? { name: 'sgdisk -v', runner: { kind: 'cmd', argv: [sg, '-v', img] } }
      : { name: 'sgdisk -v', missing: 'sgdisk not on PATH (gdisk)' },
  );
  const sf = ctx.which('sfdisk');
  out.push(
    sf
      ? { name: 'sfdisk --json', runner: { kind: 'cmd', argv: [sf, '--json', img] } }
      : { name: 'sfdisk --json', missing: 'sfdisk not on PATH (fdisk)' },
  );
  return out;
}

export const benchmark: Benchmark = {
  name: 'gpt',
  description: 'GPT read + validate: @lsvm/gpt (in-process) vs sgdisk -v and sfdisk --json',
  async setup(ctx) {
    const sg = ctx.which('sgdisk');
    if (!sg) ctx.log('sgdisk missing: images cannot be built, only the missing peers are reported');
    const cases: BenchCase[] = [];
    for (const [entries, parts, mib] of [
      [128, 30, 64],
      [4096, 1000, 256],
    ] as const) {
      const img = join(ctx.dir, `t${entries}.img`);
      writeFileSync(img, '');
      execFileSync('truncate', ['-s', `${mib}M`, img]);
      if (sg) {
        const args = ['-S', String(entries)];
        for (let i = 1; i <= parts; i++) args.push('-n', `${i}:0:+64K`, '-c', `${i}:partition ${i}`);
        execFileSync(sg, [...args, img], { stdio: 'ignore' });
      }
      const bytes = new Uint8Array(readFileSync(img));
      const tableBytes = entries * 128 * 2 + 3 * 512;
      cases.push({
        name: `library: open + validate, ${entries} entries / ${parts} partitions`,
        bytes: tableBytes,
        ours: {
          kind: 'fn',
          run: async () => {
            const d = await openGpt(new MemoryDevice(bytes));
            if (!d.table) throw new Error('no table');
          },
        },
        peers: peers(ctx, img),
      });
    }
    return cases;
  },
};
