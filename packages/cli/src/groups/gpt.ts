import { existsSync, statSync } from 'node:fs';
import { type BlockDevice, FileDevice, FormatError, UsageError, formatSize, parseSize } from '@lsvm/core';
import {
  type GptDisk,
  type GptFinding,
  type GptTable,
  PARTITION_TYPES,
  addPartition,
  createGpt,
  decodeAttributes,
  deletePartition,
  formatAttributes,
  isUsedEntry,
  openGpt,
  parseAttributes,
  partitionTypeName,
  repairGpt,
  resizePartition,
  setPartition,
  writeGpt,
} from '@lsvm/gpt';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { CliGroup } from '../group.js';
import { isVhdxFile, openImage } from '../image.js';
import { terminalSafe } from '../terminal-safe.js';

/**
 * `lsvm gpt …` — thin wrapper over @lsvm/gpt: argument parsing, output and exit codes only.
 * Edits refuse a table whose copies are damaged (run `lsvm gpt repair` first), like sgdisk's
 * "verification and recovery are STRONGLY recommended", but without guessing.
 */
export const gptGroup: CliGroup = {
  name: 'gpt',
  description: 'GUID Partition Tables: show, verify, create, add, delete, resize, set, repair',
  register(cmd, ctx) {
    const sectorOpt = (c: Command): Command =>
      c.option('--sector-size <n>', 'logical sector size, 512 or 4096 (default: probed)');

    sectorOpt(
      cmd.command('show').argument('<image>', 'disk image').description('print the partition table'),
    ).action(async (image: string, o: { sectorSize?: string }) => {
      await withDevice(image, false, async (dev) => {
        const disk = await openGpt(dev, sectorOptions(o.sectorSize));
        const view = showJson(disk);
        if (!disk.table) ctx.findings();
        ctx.result(view, () => showText(image, disk));
      });
    });

    sectorOpt(
      cmd
        .command('verify')
        .argument('<image>', 'disk image')
        .description('check both copies and the protective MBR; exit 1 with findings'),
    ).action(async (image: string, o: { sectorSize?: string }) => {
      await withDevice(image, false, async (dev) => {
        const disk = await openGpt(dev, sectorOptions(o.sectorSize));
        const counted = disk.findings.filter((f) => f.severity !== 'info');
        if (counted.length > 0) ctx.findings();
        ctx.result(
          {
            clean: counted.length === 0,
            sectorSize: disk.sectorSize,
            findings: disk.findings.map(findingJson),
          },
          () =>
            counted.length === 0
              ? [`${image}: no problems found`, ...disk.findings.map(findingLine)].join('\n')
              : [`${image}: ${counted.length} problem(s) found`, ...disk.findings.map(findingLine)].join(
                  '\n',
                ),
        );
      });
    });

    sectorOpt(
      cmd
        .command('create')
        .argument('<image>', 'disk image (created if missing)')
        .description('write a new, empty GPT (random disk GUID, 128 entries)')
        .option('--size <size>', 'create or extend the file to SIZE (e.g. 64M, 2G)')
        .option('--entries <n>', 'number of partition entries', '128')
        .option('--entry-size <n>', 'bytes per entry, a multiple of 128', '128')
        .option('--disk-guid <guid>', 'disk GUID (default random)')
        .option('--force', 'overwrite an existing partition table'),
    ).action(
      async (
        image: string,
        o: {
          size?: string;
          sectorSize?: string;
          entries: string;
          entrySize: string;
          diskGuid?: string;
          force?: boolean;
        },
      ) => {
        const size = o.size !== undefined ? parseSize(o.size) : undefined;
        const current = existsSync(image) ? statSync(image).size : 0;
        if (size === undefined && current === 0)
          throw new UsageError('USAGE', `${image} is empty or missing: give --size`);
        const target = Math.max(size ?? 0, current);
        // An existing VHDX is written through its virtual disk, never as raw bytes of the file.
        const vhdx = current > 0 && (await isVhdxFile(image));
        if (vhdx && size !== undefined) {
          throw new UsageError('USAGE', `${image} is a VHDX: its size is the virtual disk's; drop --size`);
        }
        const img = vhdx ? await openImage(image, { writable: true }) : undefined;
        const dev: BlockDevice =
          img?.device ??
          (await FileDevice.open(image, {
            create: true,
            ...(target > current ? { size: target } : {}),
          }));
        try {
          if (!o.force && current > 0 && (await hasTable(dev))) {
            throw new UsageError(
              'GPT_EXISTS',
              `${image} already holds a partition table; use --force to replace it`,
            );
          }
          const ss = o.sectorSize !== undefined ? sectorSize(o.sectorSize) : 512;
          const table = createGpt({
            diskSize: dev.size,
            sectorSize: ss,
            entryCount: intArg(o.entries, '--entries'),
            entrySize: intArg(o.entrySize, '--entry-size'),
            ...(o.diskGuid ? { diskGuid: o.diskGuid } : {}),
          });
          await writeGpt(dev, table);
          ctx.result(
            tableSummary(table),
            () =>
              `created a GPT on ${image}: ${formatSize(table.diskSectors * ss)}, ${ss}-byte sectors, ${table.entries.length} entries, disk GUID ${table.diskGuid.toUpperCase()}`,
          );
        } finally {
          if (img) await img.close();
          else await dev.close();
        }
      },
    );

    sectorOpt(
      cmd
        .command('add')
        .argument('<image>', 'disk image')
        .description('add a partition (first free slot, 1 MiB aligned by default)')
        .requiredOption(
          '--type <type>',
          "type GUID or alias (esp, linux, linux-root-x86-64, swap, xbootldr, luks, … see 'lsvm gpt types')",
        )
        .option('--size <size>', "size in bytes (64M, 1G…) or 'rest'", 'rest')
        .option('--start <lba>', 'first LBA (default: first aligned free sector)')
        .option('--align <size>', 'alignment of the chosen start, in bytes (default 1M)')
        .option('--name <name>', 'partition name, up to 36 UTF-16 code units')
        .option(
          '--attributes <attrs>',
          'attribute word (0x-prefixed or 16 hex digits), or bit numbers/names (required,legacy-bios-bootable,63)',
        )
        .option('--index <n>', 'slot number to use (default: first free)'),
    ).action(
      async (
        image: string,
        o: {
          type: string;
          size: string;
          start?: string;
          align?: string;
          name?: string;
          attributes?: string;
          index?: string;
          sectorSize?: string;
        },
      ) => {
        await edit(ctx, image, o.sectorSize, (t) => {
          const ss = t.sectorSize;
          const r = addPartition(t, {
            type: o.type,
            sizeLba: o.size === 'rest' ? 'rest' : bytesToSectors(parseSize(o.size), ss, '--size'),
            ...(o.start !== undefined ? { firstLba: intArg(o.start, '--start') } : {}),
            ...(o.align !== undefined
              ? { alignment: bytesToSectors(parseSize(o.align), ss, '--align') }
              : {}),
            ...(o.name !== undefined ? { name: o.name } : {}),
            ...(o.attributes !== undefined ? { attributes: parseAttributes(o.attributes) } : {}),
            ...(o.index !== undefined ? { index: intArg(o.index, '--index') } : {}),
          });
          const p = partitionJson(r.entry, ss);
          return {
            table: r.table,
            value: p,
            text: `added partition ${p.index}: ${p.typeName}, LBA ${p.firstLba}..${p.lastLba} (${formatSize(p.sizeBytes)})`,
          };
        });
      },
    );

    sectorOpt(
      cmd
        .command('delete')
        .argument('<image>', 'disk image')
        .argument('<index>', 'partition slot number')
        .description('delete a partition (other slots keep their numbers)'),
    ).action(async (image: string, index: string, o: { sectorSize?: string }) => {
      await edit(ctx, image, o.sectorSize, (t) => {
        const i = intArg(index, '<index>');
        return { table: deletePartition(t, i), value: { deleted: i }, text: `deleted partition ${i}` };
      });
    });

    sectorOpt(
      cmd
        .command('resize')
        .argument('<image>', 'disk image')
        .argument('<index>', 'partition slot number')
        .requiredOption('--size <size>', "new size in bytes or 'rest'")
        .description('move the end of a partition'),
    ).action(async (image: string, index: string, o: { size: string; sectorSize?: string }) => {
      await edit(ctx, image, o.sectorSize, (t) => {
        const i = intArg(index, '<index>');
        const table = resizePartition(
          t,
          i,
          o.size === 'rest' ? 'rest' : bytesToSectors(parseSize(o.size), t.sectorSize, '--size'),
        );
        const p = partitionJson(table.entries[i - 1]!, t.sectorSize);
        return {
          table,
          value: p,
          text: `partition ${i} now LBA ${p.firstLba}..${p.lastLba} (${formatSize(p.sizeBytes)})`,
        };
      });
    });

    sectorOpt(
      cmd
        .command('set')
        .argument('<image>', 'disk image')
        .argument('<index>', 'partition slot number')
        .option('--type <type>', 'type GUID or alias')
        .option('--name <name>', 'partition name')
        .option('--attributes <attrs>', 'attribute word (hex) or bit numbers/names')
        .option('--guid <guid>', 'unique partition GUID')
        .description('change the type, name, attributes or GUID of a partition'),
    ).action(
      async (
        image: string,
        index: string,
        o: { type?: string; name?: string; attributes?: string; guid?: string; sectorSize?: string },
      ) => {
        await edit(ctx, image, o.sectorSize, (t) => {
          const i = intArg(index, '<index>');
          const table = setPartition(t, i, {
            ...(o.type !== undefined ? { type: o.type } : {}),
            ...(o.name !== undefined ? { name: o.name } : {}),
            ...(o.attributes !== undefined ? { attributes: parseAttributes(o.attributes) } : {}),
            ...(o.guid !== undefined ? { uniqueGuid: o.guid } : {}),
          });
          const p = partitionJson(table.entries[i - 1]!, t.sectorSize);
          return {
            table,
            value: p,
            text: `partition ${i}: ${p.typeName}, name ${terminalSafe(JSON.stringify(p.name))}, attributes ${p.attributes}`,
          };
        });
      },
    );

    sectorOpt(
      cmd
        .command('repair')
        .argument('<image>', 'disk image')
        .description(
          'rebuild a damaged copy from the intact one, move the backup to the end, fix the protective MBR',
        )
        .option('--dry-run', 'say what would be done, write nothing')
        .option('--force-protective-mbr', 'replace a plain MBR holding MBR partitions by a protective MBR'),
    ).action(
      async (image: string, o: { dryRun?: boolean; forceProtectiveMbr?: boolean; sectorSize?: string }) => {
        await withDevice(image, !o.dryRun, async (dev) => {
          const r = await repairGpt(dev, {
            ...sectorOptions(o.sectorSize),
            ...(o.dryRun ? { dryRun: true } : {}),
            ...(o.forceProtectiveMbr ? { forceProtectiveMbr: true } : {}),
          });
          const remaining = r.after.filter((f) => f.severity !== 'info');
          if (remaining.length > 0) ctx.findings();
          ctx.result(
            {
              source: r.source,
              actions: r.actions,
              dryRun: o.dryRun === true,
              before: r.before.map(findingJson),
              after: r.after.map(findingJson),
            },
            () =>
              [
                r.actions.length === 0
                  ? `${image}: nothing to repair`
                  : `${image}: ${o.dryRun ? 'would do' : 'repaired'} (from the ${r.source} copy):`,
                ...r.actions.map((a) => `  ${a}`),
                ...(remaining.length > 0 ? ['still wrong:', ...remaining.map(findingLine)] : []),
              ].join('\n'),
          );
        });
      },
    );

    cmd
      .command('types')
      .description('list the partition type aliases --type accepts')
      .action(() => {
        ctx.result(
          PARTITION_TYPES.map((p) => ({ alias: p.alias, guid: p.guid, name: p.name })),
          () => PARTITION_TYPES.map((p) => `${p.alias.padEnd(26)} ${p.guid}  ${p.name}`).join('\n'),
        );
      });
  },
};

/** The JSON `lsvm gpt show` prints (shape fixed by issue 3). */
export function showJson(disk: GptDisk): Record<string, unknown> {
  const t = disk.table;
  const copy = (c: GptDisk['primary']) => ({
    valid: c.valid,
    problems: c.problems.map((p) => ({ code: p.code, message: p.message })),
  });
  return {
    sectorSize: disk.sectorSize,
    diskSectors: disk.diskSectors,
    diskGuid: t ? t.diskGuid.toUpperCase() : null,
    firstUsableLba: t ? t.firstUsableLba : null,
    lastUsableLba: t ? t.lastUsableLba : null,
    entryCount: t ? t.entries.length : null,
    entrySize: t ? t.entrySize : null,
    source: disk.source ?? null,
    mbr: {
      kind: disk.mbr.kind,
      problems: disk.mbrProblems.map((p) => ({ code: p.code, message: p.message })),
    },
    primary: copy(disk.primary),
    backup: copy(disk.backup),
    problems: disk.tableProblems.map((p) => ({ code: p.code, message: p.message })),
    partitions: t ? t.entries.filter(isUsedEntry).map((e) => partitionJson(e, t.sectorSize)) : [],
  };
}

function partitionJson(e: GptTable['entries'][number], ss: number) {
  return {
    index: e.index,
    type: e.typeGuid.toUpperCase(),
    typeName: partitionTypeName(e.typeGuid),
    guid: e.uniqueGuid.toUpperCase(),
    firstLba: e.firstLba,
    lastLba: e.lastLba,
    sizeBytes: (e.lastLba - e.firstLba + 1) * ss,
    attributes: formatAttributes(e.attributes),
    name: e.name,
  };
}

export function showText(image: string, disk: GptDisk): string {
  const t = disk.table;
  const lines = [
    `Disk ${image}: ${disk.diskSectors} sectors of ${disk.sectorSize} bytes, ${formatSize(disk.diskSectors * disk.sectorSize)}`,
  ];
  const state = (c: GptDisk['primary']) => (c.valid ? 'valid' : c.intact ? 'intact, with errors' : 'damaged');
  lines.push(
    `Primary: ${state(disk.primary)}, backup (LBA ${disk.backup.lba}): ${state(disk.backup)}, MBR: ${disk.mbr.kind}`,
  );
  if (t) {
    lines.push(
      `Disk GUID: ${t.diskGuid.toUpperCase()}`,
      `Table: ${t.entries.length} entries of ${t.entrySize} bytes, usable LBA ${t.firstUsableLba}..${t.lastUsableLba}${disk.source === 'backup' ? ' (read from the backup)' : ''}`,
      '',
      `${'#'.padStart(3)}  ${'Start LBA'.padStart(12)}  ${'End LBA'.padStart(12)}  ${'Size'.padStart(10)}  ${'Type'.padEnd(28)}  Name`,
    );
    for (const e of t.entries.filter(isUsedEntry)) {
      const p = partitionJson(e, t.sectorSize);
      const attrs = decodeAttributes(e.attributes, e.typeGuid);
      const flags = [...attrs.uefi, ...attrs.named];
      lines.push(
        `${String(p.index).padStart(3)}  ${String(p.firstLba).padStart(12)}  ${String(p.lastLba).padStart(12)}  ${formatSize(p.sizeBytes).padStart(10)}  ${p.typeName.padEnd(28)}  ${terminalSafe(p.name)}${flags.length ? `  [${flags.join(', ')}]` : ''}`,
      );
    }
  }
  if (disk.findings.length > 0) lines.push('', 'Problems:', ...disk.findings.map(findingLine));
  return lines.join('\n');
}

function tableSummary(t: GptTable) {
  return {
    sectorSize: t.sectorSize,
    diskSectors: t.diskSectors,
    diskGuid: t.diskGuid.toUpperCase(),
    firstUsableLba: t.firstUsableLba,
    lastUsableLba: t.lastUsableLba,
    entryCount: t.entries.length,
    entrySize: t.entrySize,
  };
}

function findingJson(f: GptFinding) {
  return {
    code: f.code,
    severity: f.severity,
    location: f.location,
    message: f.message,
    ...(f.partitions ? { partitions: f.partitions } : {}),
  };
}

function findingLine(f: GptFinding): string {
  return `  ${f.severity.padEnd(7)} ${f.code}: ${f.message}`;
}

async function edit(
  ctx: CliContext,
  image: string,
  sectorSizeArg: string | undefined,
  fn: (t: GptTable) => { table: GptTable; value: unknown; text: string },
): Promise<void> {
  await withDevice(image, true, async (dev) => {
    const disk = await openGpt(dev, sectorOptions(sectorSizeArg));
    const errors = disk.findings.filter((f) => f.severity === 'error');
    if (!disk.table || errors.length > 0) {
      throw new FormatError(
        'GPT_NEEDS_REPAIR',
        `the table has ${errors.length} error(s) (${errors.map((f) => f.code).join(', ')}); run 'lsvm gpt verify' and 'lsvm gpt repair' first`,
      );
    }
    const r = fn(disk.table);
    await writeGpt(dev, r.table, { mbr: disk.mbr });
    ctx.result(r.value, r.text);
  });
}

async function withDevice<T>(
  image: string,
  writable: boolean,
  fn: (dev: BlockDevice) => Promise<T>,
): Promise<T> {
  // Raw images and VHDX disks alike: openImage recognises the VHDX signature.
  const img = await openImage(image, { writable });
  try {
    return await fn(img.device);
  } finally {
    await img.close();
  }
}

async function hasTable(dev: BlockDevice): Promise<boolean> {
  try {
    await openGpt(dev);
    return true;
  } catch {
    const lba0 = await dev.read(0, Math.min(512, dev.size));
    return lba0.length === 512 && lba0[510] === 0x55 && lba0[511] === 0xaa;
  }
}

function sectorOptions(arg: string | undefined): { sectorSize?: number } {
  return arg === undefined ? {} : { sectorSize: sectorSize(arg) };
}

function sectorSize(arg: string): number {
  const n = intArg(arg, '--sector-size');
  if (n !== 512 && n !== 4096) throw new UsageError('USAGE', `--sector-size must be 512 or 4096, not ${arg}`);
  return n;
}

function intArg(s: string, what: string): number {
  if (!/^\d+$/.test(s.trim()))
    throw new UsageError('USAGE', `${what} must be a non-negative integer, not ${JSON.stringify(s)}`);
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n)) throw new UsageError('USAGE', `${what} is too large`);
  return n;
}

function bytesToSectors(bytes: number, ss: number, what: string): number {
  if (bytes % ss !== 0)
    throw new UsageError('USAGE', `${what} ${bytes} is not a multiple of the ${ss}-byte sector`);
  return bytes / ss;
}
