import { MemoryDevice, SliceDevice, crc32, crc32c, formatSize, randomGuid, toHex } from '@lsvm/core';
import type { CliGroup } from '../group.js';

/**
 * `lsvm demo` — the main job. Until the provisioning flows land it builds something small and real
 * with what exists: an in-memory disk, sliced into partitions, each stamped and checksummed.
 */
export const demoGroup: CliGroup = {
  name: 'demo',
  description: 'run the end-to-end demonstration (no arguments needed)',
  register(cmd, ctx) {
    cmd.option('--keep <dir>', 'keep every artifact in DIR').action(async () => {
      const started = Date.now();
      const disk = new MemoryDevice(16 * 1024 * 1024);
      const layout = [
        { name: 'esp', start: 1 << 20, size: 4 << 20 },
        { name: 'boot', start: 5 << 20, size: 4 << 20 },
        { name: 'root', start: 9 << 20, size: 6 << 20 },
      ];
      const rows: {
        partition: string;
        guid: string;
        offset: number;
        size: number;
        crc32: number;
        crc32c: number;
      }[] = [];
      for (const p of layout) {
        const slice = new SliceDevice(disk, p.start, p.size);
        const id = randomGuid();
        const stamp = new TextEncoder().encode(`lsvm ${p.name} ${id}`);
        await slice.write(0, stamp);
        const bytes = await slice.read(0, slice.size);
        rows.push({
          partition: p.name,
          guid: id,
          offset: p.start,
          size: p.size,
          crc32: crc32(bytes),
          crc32c: crc32c(bytes),
        });
      }
      const report = {
        disk: { size: disk.size, sectorSize: disk.sectorSize },
        partitions: rows,
        ms: Date.now() - started,
      };
      ctx.result(report, () =>
        [
          `in-memory disk of ${formatSize(disk.size)}, ${disk.sectorSize}-byte sectors`,
          ...rows.map(
            (r) =>
              `  ${r.partition.padEnd(5)} ${r.guid}  @${formatSize(r.offset).padStart(8)}  ${formatSize(r.size).padStart(8)}  crc32=${toHex(u32be(r.crc32))} crc32c=${toHex(u32be(r.crc32c))}`,
          ),
          `done in ${report.ms} ms`,
        ].join('\n'),
      );
    });
  },
};

function u32be(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
