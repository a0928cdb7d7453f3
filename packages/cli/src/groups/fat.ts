import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { FileDevice, SliceDevice, UsageError, formatSize, parseSize } from '@lsvm/core';
import { type FatStat, type FatType, FatFileSystem, checkFat, mkfs } from '@lsvm/fat';
import type { Command } from 'commander';
import type { CliGroup } from '../group.js';
import { type OpenedImage, openImage } from '../image.js';
import { terminalSafe } from '../terminal-safe.js';

/**
 * `lsvm fat …` — FAT12/16/32 images (the EFI System Partition), directly or as a GPT partition of
 * a raw or VHDX disk (`--partition N`). Thin: every operation is @lsvm/fat's public API.
 */
export const fatGroup: CliGroup = {
  name: 'fat',
  description: 'FAT12/16/32 file systems (the ESP): mkfs, info, ls, get, put, rm, mkdir, mv, check',
  register(cmd, ctx) {
    const partOpt = (c: Command): Command =>
      c.option('--partition <n>', 'use GPT partition N (1-based) of a raw or .vhdx disk');

    partOpt(
      cmd
        .command('mkfs')
        .argument('<image>', 'image file (created when missing; needs --size then) or disk with --partition')
        .option('--size <size>', 'size of a new image, e.g. 260M')
        .option('--fat <n>', 'force FAT12, 16 or 32 (default: FAT32 when large enough, as for an ESP)')
        .option('--label <label>', 'volume label (up to 11 characters)')
        .option('--cluster-size <size>', 'cluster size in bytes (default: by size, as mkfs.fat)')
        .option('--volume-id <hex>', 'volume serial number, 8 hex digits (default: random)')
        .description('create an empty FAT file system'),
    ).action(
      async (
        image: string,
        o: {
          size?: string;
          fat?: string;
          label?: string;
          clusterSize?: string;
          volumeId?: string;
          partition?: string;
        },
      ) => {
        const type = o.fat === undefined ? undefined : (Number(o.fat) as FatType);
        if (type !== undefined && ![12, 16, 32].includes(type)) {
          throw new UsageError('BAD_FAT_TYPE', `--fat must be 12, 16 or 32 (got ${o.fat})`);
        }
        let volumeId: number | undefined;
        if (o.volumeId !== undefined) {
          if (!/^(0x)?[0-9a-fA-F]{1,8}$/.test(o.volumeId.replace('-', ''))) {
            throw new UsageError(
              'BAD_VOLUME_ID',
              `--volume-id must be up to 8 hex digits (got ${o.volumeId})`,
            );
          }
          volumeId = Number.parseInt(o.volumeId.replace('-', '').replace(/^0x/, ''), 16);
        }
        const options = {
          ...(type !== undefined ? { type } : {}),
          ...(o.label !== undefined ? { label: o.label } : {}),
          ...(o.clusterSize !== undefined ? { clusterSize: parseSize(o.clusterSize) } : {}),
          ...(volumeId !== undefined ? { volumeId } : {}),
        };
        let img: OpenedImage | undefined;
        let file: FileDevice | undefined;
        if (o.partition !== undefined) {
          if (o.size !== undefined)
            throw new UsageError('BAD_OPTIONS', '--size cannot be used with --partition');
          img = await openImage(image, { partition: partitionNumber(o.partition), writable: true });
        } else if (!existsSync(image)) {
          if (o.size === undefined)
            throw new UsageError('NEED_SIZE', `${image} does not exist: give --size to create it`);
          file = await FileDevice.open(image, { create: true, size: parseSize(o.size) });
        } else {
          if (o.size !== undefined)
            throw new UsageError('BAD_OPTIONS', `${image} exists: --size is only for new images`);
          file = await FileDevice.open(image, { readOnly: false });
        }
        const dev = img?.device ?? file!;
        try {
          // A partition's boot sector records where it starts (BPB_HiddSec), as mkfs.fat does.
          const hidden = dev instanceof SliceDevice ? dev.start / dev.sectorSize : undefined;
          const r = await mkfs(dev, {
            ...options,
            ...(hidden !== undefined ? { hiddenSectors: hidden } : {}),
          });
          ctx.result(r, () =>
            [
              `FAT${r.type} on ${image}${o.partition ? ` partition ${o.partition}` : ''}: ${formatSize(r.clusterCount * r.clusterSize)} in ${r.clusterCount} clusters of ${r.clusterSize} bytes`,
              `volume id ${volumeIdText(r.volumeId)}${r.label ? `, label ${r.label}` : ''}`,
            ].join('\n'),
          );
        } finally {
          if (img) await img.close();
          else await file!.close();
        }
      },
    );

    partOpt(
      cmd.command('info').argument('<image>', 'FAT image').description('show the volume layout'),
    ).action(async (image: string, o: { partition?: string }) => {
      await withFat(image, o.partition, false, async (fs) => {
        const g = fs.geometry;
        const info = {
          type: `FAT${fs.type}`,
          label: await fs.label(),
          volumeId: volumeIdText(fs.volumeId),
          sectorSize: g.bytesPerSector,
          clusterSize: g.clusterSize,
          clusterCount: g.clusterCount,
          fatSectors: g.fatSectors,
          numFats: g.numFats,
          totalBytes: fs.totalBytes,
          freeBytes: fs.freeBytes(),
        };
        ctx.result(info, () =>
          [
            `${info.type}, label ${info.label || '(none)'}, volume id ${info.volumeId}`,
            `${info.clusterCount} clusters of ${info.clusterSize} bytes, ${info.numFats} FATs of ${info.fatSectors} sectors`,
            `${formatSize(info.freeBytes)} free of ${formatSize(info.totalBytes)}`,
          ].join('\n'),
        );
      });
    });

    partOpt(
      cmd
        .command('ls')
        .argument('<image>', 'FAT image')
        .argument('[path]', 'directory (or file) to list', '/')
        .option('-R, --recursive', 'list every level below')
        .description('list a directory'),
    ).action(async (image: string, path: string, o: { partition?: string; recursive?: boolean }) => {
      await withFat(image, o.partition, false, async (fs) => {
        const st = await fs.stat(path);
        let rows: FatStat[];
        if (!st.isDirectory) rows = [st];
        else if (o.recursive) {
          rows = [];
          for await (const s of fs.walk(path)) rows.push(s);
        } else rows = await fs.list(path);
        ctx.result(rows.map(statJson), () => rows.map(statLine).join('\n'));
      });
    });

    partOpt(
      cmd
        .command('get')
        .argument('<image>', 'FAT image')
        .argument('<path>', 'file in the image')
        .argument('[out]', 'output file (default: stdout)')
        .description('copy a file out of the image'),
    ).action(async (image: string, path: string, out: string | undefined, o: { partition?: string }) => {
      await withFat(image, o.partition, false, async (fs) => {
        const data = await fs.readFile(path);
        if (out === undefined || out === '-') ctx.io.stdout.write(data);
        else {
          writeFileSync(out, data);
          ctx.info(`${path}: ${data.length} bytes written to ${out}`);
        }
      });
    });

    partOpt(
      cmd
        .command('put')
        .argument('<image>', 'FAT image')
        .argument('<path>', 'destination in the image (parent directories are created)')
        .argument('<file>', 'local file (- for stdin)')
        .description('copy a file into the image (create or replace)'),
    ).action(async (image: string, path: string, file: string, o: { partition?: string }) => {
      const data = file === '-' ? await ctx.io.readStdin() : new Uint8Array(readFileSync(file));
      await withFat(image, o.partition, true, async (fs) => {
        const st = await fs.writeFile(path, data, { createParents: true });
        ctx.result(statJson(st), () => `${terminalSafe(st.path)}: ${st.size} bytes`);
      });
    });

    partOpt(
      cmd
        .command('rm')
        .argument('<image>', 'FAT image')
        .argument('<path>', 'file or empty directory')
        .description('remove a file or an empty directory'),
    ).action(async (image: string, path: string, o: { partition?: string }) => {
      await withFat(image, o.partition, true, async (fs) => {
        await fs.remove(path);
        ctx.result({ removed: path }, () => '');
      });
    });

    partOpt(
      cmd
        .command('mkdir')
        .argument('<image>', 'FAT image')
        .argument('<path>', 'directory to create')
        .option('-p, --parents', 'create missing parents; no error if it exists')
        .description('create a directory'),
    ).action(async (image: string, path: string, o: { partition?: string; parents?: boolean }) => {
      await withFat(image, o.partition, true, async (fs) => {
        const st = await fs.mkdir(path, { parents: o.parents === true });
        ctx.result(statJson(st), () => '');
      });
    });

    partOpt(
      cmd
        .command('mv')
        .argument('<image>', 'FAT image')
        .argument('<from>', 'existing path')
        .argument('<to>', 'new path (its directory must exist)')
        .description('rename or move a file or directory'),
    ).action(async (image: string, from: string, to: string, o: { partition?: string }) => {
      await withFat(image, o.partition, true, async (fs) => {
        const st = await fs.rename(from, to);
        ctx.result(statJson(st), () => '');
      });
    });

    partOpt(
      cmd
        .command('check')
        .argument('<image>', 'FAT image')
        .description('check the file system read-only (like fsck.fat -n); exit 1 on findings'),
    ).action(async (image: string, o: { partition?: string }) => {
      await withFat(image, o.partition, false, async (fs) => {
        const r = await checkFat(fs);
        if (!r.clean) ctx.findings();
        ctx.result(r, () =>
          [
            ...r.findings.map(
              (f) => `${f.code}: ${f.path ? `${terminalSafe(f.path)}: ` : ''}${terminalSafe(f.message)}`,
            ),
            `${r.files} files, ${r.directories} directories, ${r.usedClusters}/${fs.geometry.clusterCount} clusters used${r.clean ? ', clean' : `, ${r.findings.length} problem(s)`}`,
          ].join('\n'),
        );
      });
    });
  },
};

function partitionNumber(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError('BAD_PARTITION', `--partition must be a slot number from 1 (got ${s})`);
  return n;
}

async function withFat<T>(
  image: string,
  partition: string | undefined,
  writable: boolean,
  fn: (fs: FatFileSystem) => Promise<T>,
): Promise<T> {
  const img = await openImage(image, {
    ...(partition !== undefined ? { partition: partitionNumber(partition) } : {}),
    writable,
  });
  try {
    const fs = await FatFileSystem.open(img.device, { readOnly: !writable });
    try {
      return await fn(fs);
    } finally {
      // Also after a failed change: every step leaves the volume consistent, so mark it clean.
      await fs.close();
    }
  } finally {
    await img.close();
  }
}

function volumeIdText(id: number): string {
  const h = (id >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${h.slice(0, 4)}-${h.slice(4)}`;
}

function statJson(s: FatStat): Record<string, unknown> {
  return {
    path: s.path,
    name: s.name,
    shortName: s.shortName,
    type: s.isDirectory ? 'directory' : 'file',
    size: s.size,
    attributes: s.attributes,
    firstCluster: s.firstCluster,
    ...(s.modified ? { modified: s.modified.toISOString() } : {}),
    ...(s.created ? { created: s.created.toISOString() } : {}),
  };
}

function statLine(s: FatStat): string {
  const when = s.modified ? s.modified.toISOString().slice(0, 16).replace('T', ' ') : '                ';
  const size = s.isDirectory ? '<DIR>' : String(s.size);
  return `${size.padStart(12)}  ${when}  ${terminalSafe(s.path)}${s.isDirectory ? '/' : ''}`;
}
