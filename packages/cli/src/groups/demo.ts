import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice, crc32, formatSize, toHex } from '@lsvm/core';
import { addPartition, createGpt, isUsedEntry, openGpt, partitionSlice, writeGpt } from '@lsvm/gpt';
import type { CliGroup } from '../group.js';
import { showJson, showText } from './gpt.js';

/**
 * `lsvm demo` — the main job. Until the provisioning flows land it builds something small and real
 * with what exists: a 64 MiB GPT disk in memory (ESP, Linux extended boot, Linux root, by alias),
 * each partition opened as a BlockDevice slice and stamped, then the table re-read, validated and
 * printed like `lsvm gpt show`.
 */
export const demoGroup: CliGroup = {
  name: 'demo',
  description: 'run the end-to-end demonstration (no arguments needed)',
  register(cmd, ctx) {
    cmd.option('--keep <dir>', 'keep every artifact in DIR').action(async (o: { keep?: string }) => {
      const started = Date.now();
      const size = 64 * 1024 * 1024;
      const disk = new MemoryDevice(size);
      let table = createGpt({ diskSize: size, sectorSize: disk.sectorSize });
      const layout = [
        { type: 'esp', size: 16 * 1024 * 1024, name: 'EFI System Partition' },
        { type: 'xbootldr', size: 16 * 1024 * 1024, name: 'Linux extended boot' },
        { type: 'linux-root-x86-64', size: 'rest' as const, name: 'Linux root (x86-64)' },
      ];
      for (const p of layout) {
        table = addPartition(table, {
          type: p.type,
          sizeLba: p.size === 'rest' ? 'rest' : p.size / disk.sectorSize,
          name: p.name,
        }).table;
      }
      await writeGpt(disk, table);
      const stamps: { index: number; crc32: string }[] = [];
      for (const e of table.entries.filter(isUsedEntry)) {
        const slice = partitionSlice(disk, table, e.index);
        await slice.write(0, new TextEncoder().encode(`lsvm partition ${e.index} ${e.uniqueGuid}`));
        stamps.push({ index: e.index, crc32: toHex(u32be(crc32(await slice.read(0, 4096)))) });
      }
      const read = await openGpt(disk);
      const problems = read.findings.filter((f) => f.severity !== 'info');
      if (problems.length > 0) ctx.findings();
      let kept: string | undefined;
      if (o.keep) {
        mkdirSync(o.keep, { recursive: true });
        kept = join(o.keep, 'demo-gpt.img');
        writeFileSync(kept, disk.bytes);
      }
      const ms = Date.now() - started;
      ctx.result(
        { ...showJson(read), clean: problems.length === 0, stamps, ...(kept ? { image: kept } : {}), ms },
        () =>
          [
            showText(kept ?? `(in memory, ${formatSize(size)})`, read),
            '',
            problems.length === 0
              ? 'validation: no problems found'
              : `validation: ${problems.length} problem(s)`,
            ...stamps.map((s) => `  partition ${s.index} stamped, first 4 KiB crc32=${s.crc32}`),
            ...(kept ? [`image kept at ${kept}`] : []),
            `done in ${ms} ms`,
          ].join('\n'),
      );
    });
  },
};

function u32be(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
