import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError, zeroize } from '@lsvm/core';
import {
  type Initramfs,
  type MergedEntry,
  LSVMLOAD_KEY_MODE,
  DEFAULT_KEY_MODE,
  fileEntry,
  fileType,
  injectKeys,
  mergedView,
  modeString,
  normalizeName,
  parseInitramfs,
  rebuildInitramfs,
  safeExtractPath,
} from '@lsvm/cpio';
import type { CliContext } from '../context.js';
import type { CliGroup } from '../group.js';
import { terminalSafe } from '../terminal-safe.js';

/**
 * `lsvm cpio …` — cpio archives and multi-segment initramfs images. Outputs are written to a
 * temporary file renamed into place, so a failed run never leaves a half-written initrd.
 */
export const cpioGroup: CliGroup = {
  name: 'cpio',
  description: 'cpio archives and initramfs images: ls, extract, add, rm, inject-keys',
  register(cmd, ctx) {
    cmd
      .command('ls')
      .argument('<initrd>', 'cpio archive or initramfs (segments: plain, gzip, xz, zstd)')
      .option('--segments', 'list every segment and entry instead of the merged view')
      .description('list the entries (the merged view the kernel unpacks)')
      .action(async (initrd: string, o: { segments?: boolean }) => {
        const img = await load(initrd);
        const rows = o.segments
          ? img.segments.flatMap((s) =>
              s.entries.map((e) => ({
                segment: s.index,
                compression: s.compression,
                path: e.name,
                mode: e.mode,
                size: e.data.length,
                entry: e,
              })),
            )
          : mergedView(img).map((m) => ({
              segment: m.segment,
              compression: img.segments[m.segment]!.compression,
              path: m.path,
              mode: m.entry.mode,
              size: m.data.length,
              entry: m.entry,
            }));
        ctx.result(
          {
            segments: img.segments.map((s) => ({
              index: s.index,
              offset: s.offset,
              length: s.length,
              compression: s.compression,
              entries: s.entries.length,
              expandedSize: s.expandedSize,
            })),
            entries: rows.map((r) => ({
              segment: r.segment,
              compression: r.compression,
              path: r.path,
              type: fileType(r.mode),
              mode: `0${r.mode.toString(8)}`,
              uid: r.entry.uid,
              gid: r.entry.gid,
              size: r.size,
              mtime: r.entry.mtime,
              ...(fileType(r.mode) === 'symlink' ? { target: new TextDecoder().decode(r.entry.data) } : {}),
            })),
          },
          () =>
            rows
              .map(
                (r) =>
                  `${String(r.segment).padStart(2)} ${r.compression.padEnd(4)} ${modeString(r.mode)} ${String(r.entry.uid).padStart(5)} ${String(r.entry.gid).padStart(5)} ${String(r.size).padStart(10)}  ${terminalSafe(r.path)}${fileType(r.mode) === 'symlink' ? ` -> ${terminalSafe(new TextDecoder().decode(r.entry.data))}` : ''}`,
              )
              .join('\n'),
        );
      });

    cmd
      .command('extract')
      .argument('<initrd>', 'cpio archive or initramfs')
      .argument('<dir>', 'destination directory (created)')
      .description('extract the merged view (files, directories, symlinks; device nodes are skipped)')
      .action(async (initrd: string, dir: string) => {
        const img = await load(initrd);
        const r = extract(mergedView(img), dir, ctx);
        ctx.result(
          r,
          () =>
            `${r.files} files, ${r.directories} directories, ${r.symlinks} symlinks extracted to ${dir}${r.skipped.length ? `; skipped ${r.skipped.length} special files` : ''}`,
        );
      });

    cmd
      .command('add')
      .argument('<initrd>', 'input initramfs')
      .argument('<out>', 'output initramfs')
      .argument('<path>', 'path inside the archive')
      .argument('<file>', 'local file')
      .option('--mode <octal>', 'file mode (default 0644)', '644')
      .option('--append', 'add a new segment instead of rewriting the last one')
      .option(
        '--compress <kind>',
        'keep | none | gzip | zstd for the rewritten segment (default keep)',
        'keep',
      )
      .description('add or replace a file in the last segment (earlier segments stay byte-identical)')
      .action(
        async (
          initrd: string,
          out: string,
          path: string,
          file: string,
          o: { mode: string; append?: boolean; compress: string },
        ) => {
          const img = await load(initrd);
          const data = new Uint8Array(readFileSync(file));
          const r = await rebuildInitramfs(
            img,
            {
              put: [
                fileEntry(normalizeName(path), data, {
                  mode: parseMode(o.mode),
                  mtime: Math.floor(Date.now() / 1000),
                }),
              ],
            },
            { target: o.append ? 'append' : 'last', compression: compression(o.compress, true) },
          );
          writeAtomic(out, r.bytes);
          ctx.result(
            { out, rewritten: r.rewritten, size: r.bytes.length },
            () => `${out}: ${r.bytes.length} bytes, segment ${r.rewritten.join(', ')} rewritten`,
          );
        },
      );

    cmd
      .command('rm')
      .argument('<initrd>', 'input initramfs')
      .argument('<out>', 'output initramfs')
      .argument('<paths...>', 'paths to remove')
      .description('remove entries (only segments holding them are rewritten)')
      .action(async (initrd: string, out: string, paths: string[]) => {
        const img = await load(initrd);
        const r = await rebuildInitramfs(img, { remove: paths });
        const missing = paths.map(normalizeName).filter((p) => !r.removed.includes(p));
        if (missing.length > 0)
          throw new UsageError('CPIO_NOT_FOUND', `not in the archive: ${missing.join(', ')}`);
        writeAtomic(out, r.bytes);
        ctx.result(
          { out, removed: r.removed, rewritten: r.rewritten },
          () => `${out}: removed ${r.removed.length} entries`,
        );
      });

    cmd
      .command('inject-keys')
      .argument('<initrd>', 'input initramfs')
      .argument('<out>', 'output initramfs')
      .requiredOption('--boot-key <file>', 'boot volume passphrase file (- for stdin)')
      .requiredOption('--root-key <file>', 'root volume passphrase file (- for stdin)')
      .option(
        '--key-mode <octal>',
        `mode of the key files (default ${DEFAULT_KEY_MODE.toString(8)}; lsvmload writes ${LSVMLOAD_KEY_MODE.toString(8)})`,
      )
      .option(
        '--compress <kind>',
        'none | gzip | zstd | keep for the rewritten last segment (default keep)',
        'keep',
      )
      .description(
        'what lsvmload does: add etc/lsvmload/{bootkey,rootkey}, remove etc/lsvmload/specialize and hyperv-keyboard.ko',
      )
      .action(
        async (
          initrd: string,
          out: string,
          o: { bootKey: string; rootKey: string; keyMode?: string; compress: string },
        ) => {
          if (o.bootKey === '-' && o.rootKey === '-')
            throw new UsageError('BAD_OPTIONS', 'only one key can come from stdin');
          const img = await load(initrd);
          const bootKey = await ctx.readKeyFile(o.bootKey);
          const rootKey = await ctx.readKeyFile(o.rootKey);
          try {
            const r = await injectKeys(img, {
              bootKey,
              rootKey,
              ...(o.keyMode !== undefined ? { keyMode: parseMode(o.keyMode) } : {}),
              compression: compression(o.compress, true),
            });
            writeAtomic(out, r.bytes, 0o600);
            zeroize(r.bytes);
            // Never the keys themselves: only what changed.
            ctx.result({ out, rewritten: r.rewritten, removed: r.removed }, () =>
              [
                `${out}: keys injected into segment ${r.rewritten.join(', ')}`,
                ...r.removed.map((p) => `removed ${p}`),
              ].join('\n'),
            );
          } finally {
            zeroize(bootKey, rootKey);
          }
        },
      );
  },
};

async function load(path: string): Promise<Initramfs> {
  return parseInitramfs(new Uint8Array(readFileSync(path)));
}

function parseMode(s: string): number {
  if (!/^0?[0-7]{1,6}$/.test(s))
    throw new UsageError('BAD_MODE', `mode must be octal, e.g. 0644 or 100400 (got ${s})`);
  return Number.parseInt(s, 8);
}

function compression(s: string, allowKeep: boolean): 'keep' | 'none' | 'gzip' | 'zstd' {
  if (s === 'none' || s === 'gzip' || s === 'zstd' || (allowKeep && s === 'keep')) return s;
  throw new UsageError(
    'BAD_COMPRESSION',
    `--compress must be none, gzip, zstd${allowKeep ? ' or keep' : ''} (got ${s})`,
  );
}

/** Writes through a temporary file and a rename, so `out` is either old or complete. */
function writeAtomic(out: string, data: Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(out), `.${Date.now()}-${process.pid}.lsvm-tmp`);
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Refuses to write through a symlink an earlier entry created (a classic archive escape). */
function checkNoSymlinkParents(root: string, rel: string): void {
  const parts = rel.split('/');
  let p = root;
  for (let i = 0; i < parts.length - 1; i++) {
    p = join(p, parts[i]!);
    try {
      if (lstatSync(p).isSymbolicLink()) {
        throw new UsageError(
          'CPIO_UNSAFE_PATH',
          `'${rel}' would be written through the symlink '${parts.slice(0, i + 1).join('/')}'`,
        );
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
  }
}

function extract(
  entries: MergedEntry[],
  dir: string,
  ctx: CliContext,
): { files: number; directories: number; symlinks: number; skipped: string[] } {
  mkdirSync(dir, { recursive: true });
  const r = { files: 0, directories: 0, symlinks: 0, skipped: [] as string[] };
  const dirModes: [string, number, number][] = [];
  for (const m of entries) {
    const rel = safeExtractPath(m.entry.name);
    if (rel === '.') continue;
    checkNoSymlinkParents(dir, rel);
    const target = join(dir, rel);
    const kind = fileType(m.entry.mode);
    mkdirSync(dirname(target), { recursive: true });
    if (kind === 'directory') {
      mkdirSync(target, { recursive: true });
      // Modes last, so a read-only directory does not stop its own contents from being written.
      dirModes.push([target, m.entry.mode & 0o7777, m.entry.mtime]);
      r.directories++;
    } else if (kind === 'file') {
      rmSync(target, { force: true });
      writeFileSync(target, m.data, { mode: 0o600 });
      chmodSync(target, m.entry.mode & 0o7777);
      utimesSync(target, m.entry.mtime, m.entry.mtime);
      r.files++;
    } else if (kind === 'symlink') {
      rmSync(target, { force: true });
      symlinkSync(new TextDecoder().decode(m.data), target);
      r.symlinks++;
    } else {
      r.skipped.push(m.path);
      ctx.info(`skipped ${kind} ${m.path} (device nodes, fifos and sockets are not created)`);
    }
  }
  for (const [p, mode, mtime] of dirModes.reverse()) {
    chmodSync(p, mode);
    utimesSync(p, mtime, mtime);
  }
  return r;
}
