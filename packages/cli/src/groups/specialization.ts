import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, fromHex, zeroize } from '@lsvm/core';
import {
  type SpecializationFile,
  SPECIALIZATION_UNATTEND_NAME,
  packSpecialization,
  parseSpecializationHeader,
  unpackSpecialization,
} from '@lsvm/shielding-data';
import type { CliContext } from '../context.js';
import type { CliGroup } from '../group.js';
import { safeText } from '../terminal-safe.js';
import { readInput, writeFileAtomic } from './guardian.js';

/**
 * `lsvm specialization …` — lsvmload's \EFI\boot\specialization.aes, keyed by the boot
 * partition's LUKS volume key.
 */
export const specializationGroup: CliGroup = {
  name: 'specialization',
  description: "lsvmload's specialization.aes: pack, unpack, show",
  register(cmd, ctx) {
    const keyOpts = (c: ReturnType<typeof cmd.command>) =>
      c
        .option('--key-hex <hex>', 'boot volume key in hex (16, 24 or 32 bytes)')
        .option('--key-file <file>', 'boot volume key as raw bytes (- for stdin)');

    keyOpts(
      cmd
        .command('pack')
        .argument('<dir>', 'directory whose regular files are packed (unattend.xml first, then by name)')
        .requiredOption('--out <file>', 'specialization.aes to write')
        .option('--mode <n>', '2 = AES-CBC + HMAC-SHA256 (default), 1 = AES-CBC only', '2')
        .description('encrypt the files of DIR into specialization.aes'),
    ).action(async (dir: string, o: { out: string; mode: string; keyHex?: string; keyFile?: string }) => {
      if (o.mode !== '1' && o.mode !== '2') throw new UsageError('USAGE', '--mode must be 1 or 2');
      const names = readdirSync(dir)
        .filter((n) => statSync(join(dir, n)).isFile())
        .sort((a, b) =>
          a === SPECIALIZATION_UNATTEND_NAME
            ? -1
            : b === SPECIALIZATION_UNATTEND_NAME
              ? 1
              : a < b
                ? -1
                : a > b
                  ? 1
                  : 0,
        );
      const files: SpecializationFile[] = names.map((name) => ({ name, data: readInput(join(dir, name)) }));
      const key = await readKey(ctx, o);
      try {
        const bytes = packSpecialization(files, key, { mode: Number(o.mode) as 1 | 2 });
        writeFileAtomic(o.out, bytes);
        ctx.result(
          { out: o.out, bytes: bytes.length, mode: Number(o.mode), files: names },
          [
            safeText`${o.out}: ${bytes.length} bytes, mode ${o.mode}, ${names.length} file(s): `,
            names.map((n) => safeText`${n}`).join(', '),
          ].join(''),
        );
      } finally {
        zeroize(key);
        for (const f of files) f.data.fill(0);
      }
    });

    keyOpts(
      cmd
        .command('unpack')
        .argument('<file>', 'specialization.aes')
        .requiredOption('--out <dir>', 'directory to write the files to (created, mode 0700)')
        .description('verify (mode 2), decrypt and extract the files'),
    ).action(async (file: string, o: { out: string; keyHex?: string; keyFile?: string }) => {
      const key = await readKey(ctx, o);
      try {
        const r = unpackSpecialization(readInput(file), key);
        mkdirSync(o.out, { recursive: true, mode: 0o700 });
        for (const f of r.files) writeFileAtomic(join(o.out, f.name), f.data, 0o600);
        if (!r.authenticated) ctx.info('warning: mode 1 file: no HMAC, contents are not authenticated');
        ctx.result(
          {
            out: o.out,
            mode: r.mode,
            authenticated: r.authenticated,
            files: r.files.map((f) => ({ name: f.name, bytes: f.data.length })),
          },
          [
            safeText`mode ${r.mode}${r.authenticated ? ' (HMAC verified)' : ' (not authenticated)'}; wrote ${r.files.length} file(s) to ${o.out}:`,
            ...r.files.map((f) => safeText`  ${f.name}  ${f.data.length} bytes`),
          ].join('\n'),
        );
        for (const f of r.files) f.data.fill(0);
      } finally {
        zeroize(key);
      }
    });

    cmd
      .command('show')
      .argument('<file>', 'specialization.aes')
      .description('print the SECURE_SPECIALIZATION_HEADER_V1 (no key needed)')
      .action((file: string) => {
        const h = parseSpecializationHeader(readInput(file));
        ctx.result(h, () =>
          Object.entries(h)
            .map(([k, v]) => safeText`${k.padEnd(13)}${v}`)
            .join('\n'),
        );
      });
  },
};

async function readKey(ctx: CliContext, o: { keyHex?: string; keyFile?: string }): Promise<Uint8Array> {
  if ((o.keyHex === undefined) === (o.keyFile === undefined))
    throw new UsageError('USAGE', 'give exactly one of --key-hex and --key-file');
  if (o.keyHex !== undefined) return fromHex(o.keyHex);
  return ctx.readKeyFile(o.keyFile!);
}
