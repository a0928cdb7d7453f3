import { FileDevice, formatSize, parseSize, UsageError } from '@lsvm/core';
import {
  checkVhdx,
  convertFile,
  createVhdxFile,
  findParent,
  readVhdxInfo,
  type VhdxFinding,
  type VhdxInfo,
} from '@lsvm/vhdx';
import type { CliGroup } from '../group.js';
import { terminalSafe } from '../terminal-safe.js';

/**
 * `lsvm vhdx …` — thin wrapper over @lsvm/vhdx: info, create, convert, check. Format logic lives
 * in the package; this file parses arguments, draws progress and prints results.
 */
export const vhdxGroup: CliGroup = {
  name: 'vhdx',
  description: 'VHDX virtual disks: info, create, convert, check',
  register(cmd, ctx) {
    cmd
      .command('info')
      .argument('<file>', 'VHDX file')
      .description('print the geometry, type, parent and allocation of a VHDX file (never writes)')
      .action(async (file: string) => {
        const dev = await FileDevice.open(file);
        let info: VhdxInfo;
        try {
          info = await readVhdxInfo(dev);
        } finally {
          await dev.close();
        }
        let parentPath: string | null = null;
        if (info.parent) {
          parentPath = await findParent(file, {
            locatorType: '',
            entries: new Map(Object.entries(info.parent.locator)),
          }).catch(() => null);
        }
        const out = {
          virtualSize: info.virtualSize,
          blockSize: info.blockSize,
          logicalSectorSize: info.logicalSectorSize,
          physicalSectorSize: info.physicalSectorSize,
          type: info.type,
          diskId: info.diskId,
          parent: info.parent
            ? { path: parentPath, linkage: info.parent.linkage, locator: info.parent.locator }
            : null,
          logReplayNeeded: info.logReplayNeeded,
          allocatedBytes: info.allocatedBytes,
          fileSize: info.fileSize,
          dataWriteGuid: info.dataWriteGuid,
          creator: info.creator,
        };
        ctx.result(out, () =>
          [
            `image: ${file}`,
            `type: ${out.type}`,
            `virtual size: ${formatSize(out.virtualSize)} (${out.virtualSize} bytes)`,
            `block size: ${formatSize(out.blockSize)}`,
            `sector size: ${out.logicalSectorSize} logical, ${out.physicalSectorSize} physical`,
            `disk id: ${out.diskId}`,
            `allocated: ${formatSize(out.allocatedBytes)} in a ${formatSize(out.fileSize)} file`,
            ...(out.parent
              ? [
                  `parent: ${out.parent.path === undefined ? '(not found)' : terminalSafe(out.parent.path)}`,
                  ...Object.entries(out.parent.locator).map(
                    ([k, v]) => `  ${terminalSafe(k)}: ${terminalSafe(v)}`,
                  ),
                ]
              : []),
            `log replay needed: ${out.logReplayNeeded ? 'yes (read-only opens replay it in memory)' : 'no'}`,
            `creator: ${out.creator}`,
          ].join('\n'),
        );
      });

    cmd
      .command('create')
      .argument('<file>', 'VHDX file to create (replaced if it exists)')
      .description('create an empty fixed or dynamic disk, or a differencing child of --parent')
      .option('--size <size>', 'virtual size, e.g. 64M, 20G')
      .option('--type <type>', 'fixed or dynamic', 'dynamic')
      .option(
        '--block-size <size>',
        'block size, 1M–256M, power of two (default: by disk size, like qemu-img)',
      )
      .option('--logical-sector-size <n>', '512 or 4096')
      .option('--physical-sector-size <n>', '512 or 4096')
      .option('--disk-id <guid>', 'virtual disk id (default: random)')
      .option('--parent <file>', 'make a differencing disk of this parent')
      .action(
        async (
          file: string,
          o: {
            size?: string;
            type: string;
            blockSize?: string;
            logicalSectorSize?: string;
            physicalSectorSize?: string;
            diskId?: string;
            parent?: string;
          },
        ) => {
          if (!o.parent && o.size === undefined)
            throw new UsageError('VHDX_SIZE_REQUIRED', '--size is required');
          const progress = ctx.progress('create');
          const plan = await createVhdxFile(file, {
            ...(o.size !== undefined ? { size: parseSize(o.size) } : {}),
            type: diskType(o.type),
            ...(o.blockSize ? { blockSize: parseSize(o.blockSize) } : {}),
            ...(o.logicalSectorSize ? { logicalSectorSize: sectorSize(o.logicalSectorSize) } : {}),
            ...(o.physicalSectorSize ? { physicalSectorSize: sectorSize(o.physicalSectorSize) } : {}),
            ...(o.diskId ? { diskId: o.diskId } : {}),
            ...(o.parent ? { parentPath: o.parent } : {}),
            onProgress: progress,
          });
          progress.done();
          const g = plan.geometry;
          ctx.result(
            {
              file,
              type: o.parent ? 'differencing' : o.type,
              virtualSize: g.virtualDiskSize,
              blockSize: g.blockSize,
              logicalSectorSize: g.logicalSectorSize,
              parent: o.parent ?? null,
            },
            `created ${file}: ${o.parent ? `differencing child of ${o.parent}` : o.type}, ${formatSize(g.virtualDiskSize)}, ${formatSize(g.blockSize)} blocks, ${g.logicalSectorSize}-byte sectors`,
          );
        },
      );

    cmd
      .command('convert')
      .argument('<in>', 'input: VHDX (chains are flattened) or raw')
      .argument('<out>', 'output file (replaced)')
      .description(
        'convert raw ↔ VHDX or VHDX → VHDX (compact, flatten, change block size or type), streaming',
      )
      .option('--to <format>', 'raw or vhdx (default: from the output extension, .vhdx → vhdx)')
      .option('--type <type>', 'fixed or dynamic VHDX output', 'dynamic')
      .option('--block-size <size>', 'VHDX output block size')
      .option('--logical-sector-size <n>', 'VHDX output logical sector size, 512 or 4096')
      .option('--physical-sector-size <n>', 'VHDX output physical sector size, 512 or 4096')
      .action(
        async (
          input: string,
          output: string,
          o: {
            to?: string;
            type: string;
            blockSize?: string;
            logicalSectorSize?: string;
            physicalSectorSize?: string;
          },
        ) => {
          if (o.to !== undefined && o.to !== 'raw' && o.to !== 'vhdx') {
            throw new UsageError('VHDX_FORMAT', `--to must be raw or vhdx, not ${o.to}`);
          }
          const progress = ctx.progress('convert');
          const started = Date.now();
          const stats = await convertFile(input, output, {
            ...(o.to ? { to: o.to as 'raw' | 'vhdx' } : {}),
            type: diskType(o.type),
            ...(o.blockSize ? { blockSize: parseSize(o.blockSize) } : {}),
            ...(o.logicalSectorSize ? { logicalSectorSize: sectorSize(o.logicalSectorSize) } : {}),
            ...(o.physicalSectorSize ? { physicalSectorSize: sectorSize(o.physicalSectorSize) } : {}),
            onProgress: progress,
          });
          progress.done();
          const seconds = (Date.now() - started) / 1000;
          ctx.result(
            { input, output, ...stats, seconds },
            `converted ${input} → ${output}: ${formatSize(stats.virtualSize)} virtual, ${formatSize(stats.bytesWritten)} written in ${seconds.toFixed(1)} s`,
          );
        },
      );

    cmd
      .command('check')
      .argument('<file>', 'VHDX file')
      .description('check headers, region tables, log, metadata and BAT; exit 1 with findings')
      .option('--repair', 'replay the log, rewrite damaged copies, drop bad BAT entries')
      .action(async (file: string, o: { repair?: boolean }) => {
        const dev = await FileDevice.open(file, { readOnly: !o.repair });
        let result: Awaited<ReturnType<typeof checkVhdx>>;
        try {
          result = await checkVhdx(dev, { repair: o.repair === true });
        } finally {
          await dev.close();
        }
        if (!result.clean) ctx.findings();
        ctx.result({ file, clean: result.clean, findings: result.findings }, () =>
          [
            result.findings.length === 0
              ? `${file}: no errors were found`
              : `${file}: ${result.clean ? 'all problems repaired' : `${result.findings.filter((f) => !f.repaired).length} problem(s) found`}`,
            ...result.findings.map(findingLine),
          ].join('\n'),
        );
      });
  },
};

function findingLine(f: VhdxFinding): string {
  const where = f.offset !== undefined ? ` @${f.offset}` : '';
  return `  ${f.severity}${f.repaired ? ' (repaired)' : ''}: ${f.code}${where}: ${f.message}`;
}

function diskType(t: string): 'fixed' | 'dynamic' {
  if (t !== 'fixed' && t !== 'dynamic')
    throw new UsageError('VHDX_TYPE', `--type must be fixed or dynamic, not ${t}`);
  return t;
}

function sectorSize(s: string): 512 | 4096 {
  if (s !== '512' && s !== '4096')
    throw new UsageError('VHDX_SECTOR_SIZE', `sector size must be 512 or 4096, not ${s}`);
  return Number(s) as 512 | 4096;
}
