import {
  type BlockDevice,
  FileDevice,
  UsageError,
  forEachChunk,
  formatSize,
  parseSize,
  toHex,
  zeroize,
} from '@lsvm/core';
import {
  type FormatOptions,
  type KdfOptions,
  type LuksVolume,
  addKeyslot,
  addUnboundKeyslot,
  formatLuks,
  fromJsonValue,
  openLuks,
  REENCRYPT_DEFAULT_CHUNK,
  readLuks,
  reencryptJournalSize,
  reencryptJournalStatus,
  reencryptLuks,
  removeKeyslot,
  scanLuksHeaders,
  unlockLuks,
} from '@lsvm/luks2';
import { rm, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { CliGroup } from '../group.js';
import { openImage as openDiskImage, parsePartitionOption } from '../image.js';
import { terminalSafe } from '../terminal-safe.js';

/**
 * `lsvm luks …` — LUKS1/LUKS2 containers on image files (or a partition of a raw GPT disk with
 * `--partition N`, raw or VHDX): dump, format, open-test, dump-volume-key, add-key, remove-key, decrypt,
 * encrypt, reencrypt. All format logic lives in @lsvm/luks2.
 */

interface ImageOpts {
  partition?: string;
}

/** The container: an image file, or partition N of a raw or VHDX disk (through ../image.ts). */
async function openImage(
  path: string,
  o: ImageOpts,
  writable: boolean,
): Promise<{ dev: BlockDevice; close(): Promise<void> }> {
  const img = await openDiskImage(path, { partition: parsePartitionOption(o.partition), writable });
  return { dev: img.device, close: () => img.close() };
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v))
    throw new UsageError('BAD_NUMBER', `${name} takes a non-negative integer, not ${JSON.stringify(v)}`);
  return Number(v);
}

interface KdfCli {
  pbkdf?: string;
  iterTime?: string;
  pbkdfForceIterations?: string;
  pbkdfMemory?: string;
  pbkdfParallel?: string;
  hash?: string;
}

function kdfOptions(o: KdfCli): KdfOptions {
  const k: KdfOptions = {};
  if (o.pbkdf !== undefined) {
    if (o.pbkdf !== 'pbkdf2' && o.pbkdf !== 'argon2i' && o.pbkdf !== 'argon2id')
      throw new UsageError('BAD_PBKDF', `--pbkdf is pbkdf2, argon2i or argon2id, not ${o.pbkdf}`);
    k.type = o.pbkdf;
  }
  const it = int(o.iterTime, '--iter-time');
  const force = int(o.pbkdfForceIterations, '--pbkdf-force-iterations');
  if (it !== undefined && force !== undefined)
    throw new UsageError('BAD_PBKDF', '--iter-time and --pbkdf-force-iterations exclude each other');
  if (it !== undefined) k.iterTimeMs = it;
  if (force !== undefined) k.iterations = force;
  const mem = int(o.pbkdfMemory, '--pbkdf-memory');
  if (mem !== undefined) k.memoryKiB = mem;
  const par = int(o.pbkdfParallel, '--pbkdf-parallel');
  if (par !== undefined) k.parallel = par;
  if (o.hash !== undefined) k.hash = o.hash;
  return k;
}

function addKdfOptions(c: Command): Command {
  return c
    .option('--pbkdf <type>', 'pbkdf2, argon2i or argon2id')
    .option('--iter-time <ms>', 'calibrate the KDF to this unlock time')
    .option('--pbkdf-force-iterations <n>', 'PBKDF2 iterations or Argon2 passes, no calibration')
    .option('--pbkdf-memory <kib>', 'Argon2 memory in KiB')
    .option('--pbkdf-parallel <n>', 'Argon2 lanes')
    .option('--hash <name>', 'hash for PBKDF2, AF and digest (default sha256)');
}

interface FormatCli extends KdfCli {
  type?: string;
  cipher?: string;
  keySize?: string;
  sectorSize?: string;
  label?: string;
  subsystem?: string;
  uuid?: string;
}

function formatOptions(o: FormatCli): FormatOptions {
  const f: FormatOptions = { kdf: kdfOptions(o) };
  if (o.type !== undefined) {
    if (o.type !== 'luks1' && o.type !== 'luks2')
      throw new UsageError('BAD_TYPE', `--type is luks1 or luks2, not ${o.type}`);
    f.type = o.type;
  }
  if (o.cipher !== undefined) f.cipher = o.cipher;
  const ks = int(o.keySize, '--key-size');
  if (ks !== undefined) f.keySizeBits = ks;
  const ss = int(o.sectorSize, '--sector-size');
  if (ss !== undefined) f.sectorSize = ss;
  if (o.label !== undefined) f.label = o.label;
  if (o.subsystem !== undefined) f.subsystem = o.subsystem;
  if (o.uuid !== undefined) f.uuid = o.uuid;
  if (o.hash !== undefined) f.hash = o.hash;
  return f;
}

/** The `--json` form of `luks dump`: everything luksDump shows, and no secret. */
export function describeVolume(v: LuksVolume): Record<string, unknown> {
  if (v.version === 1) {
    const h = v.header;
    return {
      version: 1,
      uuid: h.uuid,
      label: null,
      subsystem: null,
      epoch: null,
      cipher: `${h.cipherName}-${h.cipherMode}`,
      hash: h.hashSpec,
      keyBits: h.keyBytes * 8,
      payloadOffset: h.payloadOffset * 512,
      mkDigestIterations: h.mkDigestIterations,
      keyslots: h.keyslots.map((k) => ({
        id: k.index,
        active: k.active,
        ...(k.active ? { iterations: k.iterations, salt: toHex(k.salt) } : {}),
        keyMaterialOffset: k.keyMaterialOffset * 512,
        stripes: k.stripes,
      })),
      segments: [
        {
          id: 0,
          offset: h.payloadOffset * 512,
          size: 'dynamic',
          encryption: `${h.cipherName}-${h.cipherMode}`,
          sectorSize: 512,
        },
      ],
      digests: [],
      tokens: [],
      config: null,
      copies: { primary: { offset: 0, valid: true } },
    };
  }
  const b = v.active.binary;
  const m = v.active.metadata;
  const copy = (c: typeof v.primary) => ({
    offset: c.offset,
    valid: c.valid,
    ...(c.seqid !== undefined ? { seqid: c.seqid.toString() } : {}),
    ...(c.problem ? { problem: c.problem } : {}),
  });
  return {
    version: 2,
    uuid: b.uuid,
    label: b.label,
    subsystem: b.subsystem,
    epoch: b.seqid.toString(),
    metadataSize: b.hdrSize,
    keyslots: m.keyslots.map((k) => ({
      id: k.id,
      type: k.type,
      keyBits: k.keySize * 8,
      priority: ['ignore', 'normal', 'high'][k.priority],
      area: {
        offset: k.area.offset,
        size: k.area.size,
        encryption: k.area.encryption,
        keyBits: k.area.keySize * 8,
      },
      af: k.af,
      kdf: { ...k.kdf, salt: toHex(k.kdf.salt) },
    })),
    segments: m.segments.map((s) => ({ ...s, ivTweak: s.ivTweak.toString() })),
    digests: m.digests.map((d) => ({ ...d, salt: toHex(d.salt), digest: toHex(d.digest) })),
    tokens: m.tokens.map((t) => ({
      id: t.id,
      type: t.type,
      keyslots: t.keyslots,
      json: fromJsonValue(t.json),
    })),
    config: m.config,
    copies: { primary: copy(v.primary), secondary: copy(v.secondary) },
  };
}

function humanDump(v: LuksVolume): string {
  const out: string[] = [];
  if (v.version === 1) {
    const h = v.header;
    out.push(
      'LUKS header information',
      'Version:       \t1',
      `Cipher name:   \t${h.cipherName}`,
      `Cipher mode:   \t${h.cipherMode}`,
    );
    out.push(
      `Hash spec:     \t${h.hashSpec}`,
      `Payload offset:\t${h.payloadOffset}`,
      `MK bits:       \t${h.keyBytes * 8}`,
    );
    out.push(`MK iterations: \t${h.mkDigestIterations}`, `UUID:          \t${h.uuid}`, '');
    for (const k of h.keyslots) {
      out.push(`Key Slot ${k.index}: ${k.active ? 'ENABLED' : 'DISABLED'}`);
      if (k.active)
        out.push(
          `\tIterations:         \t${k.iterations}`,
          `\tKey material offset:\t${k.keyMaterialOffset}`,
          `\tAF stripes:         \t${k.stripes}`,
        );
    }
    return out.join('\n');
  }
  const b = v.active.binary;
  const m = v.active.metadata;
  out.push(
    'LUKS header information',
    'Version:       \t2',
    `Epoch:         \t${b.seqid}`,
    `Metadata area: \t${b.hdrSize} [bytes]`,
  );
  out.push(
    `Keyslots area: \t${m.config.keyslotsSize} [bytes]`,
    `UUID:          \t${b.uuid}`,
    `Label:         \t${b.label ? terminalSafe(b.label) : '(no label)'}`,
  );
  out.push(
    `Subsystem:     \t${b.subsystem ? terminalSafe(b.subsystem) : '(no subsystem)'}`,
    `Flags:       \t${m.config.flags.join(' ') || '(no flags)'}`,
  );
  if (m.config.requirements.length) out.push(`Requirements:\t${m.config.requirements.join(' ')}`);
  for (const [name, c] of [
    ['Primary', v.primary],
    ['Secondary', v.secondary],
  ] as const)
    if (!c.valid || c.problem) out.push(`${name} header at ${c.offset}: ${c.problem?.message ?? 'invalid'}`);
  out.push('', 'Data segments:');
  for (const s of m.segments) {
    out.push(
      `  ${s.id}: ${s.type}`,
      `\toffset: ${s.offset} [bytes]`,
      `\tlength: ${s.size === 'dynamic' ? '(whole device)' : `${s.size} [bytes]`}`,
    );
    out.push(`\tcipher: ${s.encryption}`, `\tsector: ${s.sectorSize} [bytes]`);
  }
  out.push('', 'Keyslots:');
  for (const k of m.keyslots) {
    out.push(
      `  ${k.id}: ${k.type}`,
      `\tKey:        ${k.keySize * 8} bits`,
      `\tPriority:   ${['ignore', 'normal', 'high'][k.priority]}`,
    );
    out.push(`\tCipher:     ${k.area.encryption}`, `\tPBKDF:      ${k.kdf.type}`);
    if (k.kdf.type === 'pbkdf2') out.push(`\tHash:       ${k.kdf.hash}`, `\tIterations: ${k.kdf.iterations}`);
    else
      out.push(`\tTime cost:  ${k.kdf.time}`, `\tMemory:     ${k.kdf.memory}`, `\tThreads:    ${k.kdf.cpus}`);
    out.push(
      `\tAF stripes: ${k.af.stripes}`,
      `\tAF hash:    ${k.af.hash}`,
      `\tArea offset:${k.area.offset} [bytes]`,
      `\tArea length:${k.area.size} [bytes]`,
    );
  }
  out.push('Tokens:');
  for (const t of m.tokens) out.push(`  ${t.id}: ${t.type}`, ...t.keyslots.map((k) => `\tKeyslot:    ${k}`));
  out.push('Digests:');
  for (const d of m.digests)
    out.push(`  ${d.id}: ${d.type}`, `\tHash:       ${d.hash}`, `\tIterations: ${d.iterations}`);
  return out.join('\n');
}

async function withUnlocked<T>(
  ctx: CliContext,
  image: string,
  o: ImageOpts & { keyFile: string; keySlot?: string },
  fn: (dev: BlockDevice, v: LuksVolume, key: { volumeKey: Uint8Array; keyslot: number }) => Promise<T>,
): Promise<T> {
  const pass = await ctx.readKeyFile(o.keyFile);
  const img = await openImage(image, o, false);
  try {
    const v = await readLuks(img.dev);
    const slot = int(o.keySlot, '--key-slot');
    const r = await unlockLuks(img.dev, v, pass, slot !== undefined ? { keyslot: slot } : {});
    try {
      return await fn(img.dev, v, r);
    } finally {
      zeroize(r.volumeKey);
    }
  } finally {
    zeroize(pass);
    await img.close();
  }
}

export const luksGroup: CliGroup = {
  name: 'luks',
  description: 'LUKS1/LUKS2 containers: dump, format, unlock test, keyslots, decrypt, encrypt',
  register(cmd, ctx) {
    const partOpt = (c: Command): Command =>
      c.option('--partition <n>', 'use partition N of a GPT disk (raw image or .vhdx)');

    partOpt(
      cmd.command('dump <image>').description('show the header(s) like cryptsetup luksDump (never secrets)'),
    ).action(async (image: string, o: ImageOpts) => {
      const img = await openImage(image, o, false);
      try {
        const v = await readLuks(img.dev);
        ctx.result(describeVolume(v), () => humanDump(v));
        if (
          v.version === 2 &&
          (!v.primary.valid || !v.secondary.valid || v.primary.problem || v.secondary.problem)
        )
          ctx.findings();
      } finally {
        await img.close();
      }
    });

    cmd
      .command('scan <image>')
      .description('find LUKS headers anywhere in an image (lost partition tables, backups)')
      .option('--step <bytes>', 'alignment to look at (default 4096)')
      .action(async (image: string, o: { step?: string }) => {
        const file = await FileDevice.open(image);
        try {
          const step = int(o.step, '--step');
          if (step !== undefined && (step < 512 || step % 512 !== 0))
            throw new UsageError('BAD_STEP', '--step must be a multiple of 512');
          const found = await scanLuksHeaders(file, step !== undefined ? { step } : {});
          const rows = found.map((f) => ({
            ...f,
            ...(f.seqid !== undefined ? { seqid: f.seqid.toString() } : {}),
          }));
          ctx.result(rows, () =>
            rows.length === 0
              ? 'no LUKS header found'
              : rows
                  .map(
                    (f) =>
                      `${String(f.offset).padStart(12)}  LUKS${f.version} ${f.kind.padEnd(9)} ${f.valid ? `valid   ${f.uuid ?? ''}${f.seqid !== undefined ? ` seqid ${f.seqid}` : ''}` : `invalid ${f.problem?.message ?? ''}`}`,
                  )
                  .join('\n'),
          );
        } finally {
          await file.close();
        }
      });

    addKdfOptions(
      partOpt(
        cmd
          .command('format <image>')
          .description('create a new LUKS container (destroys the metadata area)')
          .requiredOption('--key-file <file>', 'passphrase file for keyslot 0 (- for stdin)')
          .option('--type <type>', 'luks1 or luks2 (default luks2)')
          .option('--cipher <spec>', 'default aes-xts-plain64')
          .option('--key-size <bits>', 'volume key bits (default 512 for XTS)')
          .option('--sector-size <n>', 'LUKS2 encryption sector size (512 or 4096)')
          .option('--label <label>', 'LUKS2 label')
          .option('--subsystem <name>', 'LUKS2 subsystem')
          .option('--uuid <uuid>', 'volume UUID'),
      ),
    ).action(async (image: string, o: FormatCli & ImageOpts & { keyFile: string }) => {
      const opts = formatOptions(o);
      const pass = await ctx.readKeyFile(o.keyFile);
      const img = await openImage(image, o, true);
      try {
        const r = await formatLuks(img.dev, pass, opts);
        zeroize(r.volumeKey);
        const out = {
          version: r.version,
          uuid: r.uuid,
          keyslot: r.keyslot,
          dataOffset: r.dataOffset,
          dataSize: r.dataSize,
        };
        ctx.result(
          out,
          `formatted LUKS${r.version} ${r.uuid}: data at ${r.dataOffset}, ${formatSize(r.dataSize)}`,
        );
      } finally {
        zeroize(pass);
        await img.close();
      }
    });

    partOpt(
      cmd
        .command('open-test <image>')
        .description('check that a key file opens the container (exit 5 if not)')
        .requiredOption('--key-file <file>', 'passphrase file (- for stdin)')
        .option('--key-slot <n>', 'try only this keyslot'),
    ).action(async (image: string, o: ImageOpts & { keyFile: string; keySlot?: string }) => {
      await withUnlocked(ctx, image, o, async (_d, _v, r) => {
        ctx.result({ opened: true, keyslot: r.keyslot }, `key slot ${r.keyslot} unlocked.`);
      });
    });

    partOpt(
      cmd
        .command('dump-volume-key <image>')
        .description('print the volume key as lower-case hex (and nothing else)')
        .requiredOption('--key-file <file>', 'passphrase file (- for stdin)')
        .option('--key-slot <n>', 'try only this keyslot'),
    ).action(async (image: string, o: ImageOpts & { keyFile: string; keySlot?: string }) => {
      await withUnlocked(ctx, image, o, async (_d, _v, r) => {
        const hex = toHex(r.volumeKey);
        if (ctx.json) ctx.result({ keyslot: r.keyslot, volumeKey: hex });
        else ctx.io.stdout.write(`${hex}\n`);
      });
    });

    addKdfOptions(
      partOpt(
        cmd
          .command('add-key <image>')
          .description('add a keyslot for a new key file, authorised by an existing one')
          .requiredOption('--key-file <file>', 'an existing passphrase file (- for stdin)')
          .requiredOption('--new-key-file <file>', 'the new passphrase file')
          .option('--key-slot <n>', 'keyslot number for the new key')
          .option(
            '--keyslot-cipher <spec>',
            'LUKS2 keyslot area cipher (default: the data cipher, as cryptsetup)',
          )
          .option(
            '--keyslot-key-size <bits>',
            'key size of --keyslot-cipher (default: the largest for its mode)',
          )
          .option('--unbound', 'LUKS2: store a fresh random key of --key-size bits bound to no segment')
          .option('--key-size <bits>', 'size of the --unbound key'),
      ),
    ).action(
      async (
        image: string,
        o: KdfCli &
          ImageOpts & {
            keyFile: string;
            newKeyFile: string;
            keySlot?: string;
            keyslotCipher?: string;
            keyslotKeySize?: string;
            unbound?: boolean;
            keySize?: string;
          },
      ) => {
        if (o.keyFile === '-' && o.newKeyFile === '-')
          throw new UsageError('BAD_KEY_FILE', 'only one key file can be stdin');
        const slot = int(o.keySlot, '--key-slot');
        const areaBits = int(o.keyslotKeySize, '--keyslot-key-size');
        const keyBits = int(o.keySize, '--key-size');
        for (const [bits, name] of [
          [areaBits, '--keyslot-key-size'],
          [keyBits, '--key-size'],
        ] as const)
          if (bits !== undefined && (bits === 0 || bits % 8 !== 0))
            throw new UsageError('BAD_KEY_SIZE', `${name} takes a positive multiple of 8 bits`);
        if (o.unbound !== true && keyBits !== undefined)
          throw new UsageError('BAD_KEY_SIZE', '--key-size is for --unbound keys');
        if (o.unbound === true && keyBits === undefined)
          throw new UsageError('BAD_KEY_SIZE', '--unbound needs --key-size');
        const options = {
          kdf: kdfOptions(o),
          ...(slot !== undefined ? { keyslot: slot } : {}),
          ...(o.keyslotCipher !== undefined ? { encryption: o.keyslotCipher } : {}),
          ...(areaBits !== undefined ? { areaKeySize: areaBits / 8 } : {}),
        };
        const pass = await ctx.readKeyFile(o.keyFile);
        const next = await ctx.readKeyFile(o.newKeyFile);
        const img = await openImage(image, o, true);
        try {
          if (o.unbound === true) {
            // The unbound key itself is never printed: the new passphrase opens it
            // (dump-volume-key --key-slot N).
            const r = await addUnboundKeyslot(img.dev, { passphrase: pass }, next, {
              ...options,
              keySize: keyBits! / 8,
            });
            zeroize(r.key);
            ctx.result({ keyslot: r.keyslot, unbound: true }, `key slot ${r.keyslot} (unbound) created.`);
          } else {
            const s = await addKeyslot(img.dev, { passphrase: pass }, next, options);
            ctx.result({ keyslot: s }, `key slot ${s} created.`);
          }
        } finally {
          zeroize(pass, next);
          await img.close();
        }
      },
    );

    partOpt(
      cmd
        .command('remove-key <image>')
        .description('remove the keyslot the key file opens')
        .requiredOption('--key-file <file>', 'the passphrase file to remove (- for stdin)')
        .option('--force', 'allow removing the last keyslot'),
    ).action(async (image: string, o: ImageOpts & { keyFile: string; force?: boolean }) => {
      const pass = await ctx.readKeyFile(o.keyFile);
      const img = await openImage(image, o, true);
      try {
        const v = await readLuks(img.dev);
        const r = await unlockLuks(img.dev, v, pass);
        zeroize(r.volumeKey);
        await removeKeyslot(img.dev, r.keyslot, { allowLast: o.force === true });
        ctx.result({ removed: r.keyslot }, `key slot ${r.keyslot} removed.`);
      } finally {
        zeroize(pass);
        await img.close();
      }
    });

    partOpt(
      cmd
        .command('decrypt <image> <out>')
        .description('write the plaintext data segment to OUT')
        .requiredOption('--key-file <file>', 'passphrase file (- for stdin)'),
    ).action(async (image: string, outPath: string, o: ImageOpts & { keyFile: string }) => {
      const pass = await ctx.readKeyFile(o.keyFile);
      const img = await openImage(image, o, false);
      try {
        const vol = await openLuks(img.dev, pass, { readOnly: true });
        const out = await FileDevice.open(outPath, { create: true, size: vol.size });
        const bar = ctx.progress('decrypt');
        try {
          await forEachChunk(
            vol,
            async (chunk, off) => {
              await out.write(off, chunk);
              bar(off + chunk.length, vol.size);
            },
            { chunkSize: 8 * 1024 * 1024 },
          );
          await out.flush();
        } finally {
          bar.done();
          await out.close();
          await vol.close();
        }
        ctx.result(
          { bytes: vol.size, keyslot: vol.unlock?.keyslot },
          `wrote ${formatSize(vol.size)} of plaintext to ${outPath}`,
        );
      } finally {
        zeroize(pass);
        await img.close();
      }
    });

    addKdfOptions(
      cmd
        .command('encrypt <plain> <image>')
        .description('create IMAGE, a new LUKS container holding the bytes of PLAIN')
        .requiredOption('--key-file <file>', 'passphrase file for keyslot 0 (- for stdin)')
        .option('--type <type>', 'luks1 or luks2 (default luks2)')
        .option('--cipher <spec>', 'default aes-xts-plain64')
        .option('--key-size <bits>', 'volume key bits')
        .option('--sector-size <n>', 'LUKS2 encryption sector size')
        .option('--label <label>', 'LUKS2 label')
        .option('--subsystem <name>', 'LUKS2 subsystem')
        .option('--uuid <uuid>', 'volume UUID'),
    ).action(async (plainPath: string, image: string, o: FormatCli & { keyFile: string }) => {
      const opts = formatOptions(o);
      const pass = await ctx.readKeyFile(o.keyFile);
      const plain = await FileDevice.open(plainPath);
      try {
        const dataOffset = opts.type === 'luks1' ? 2 * 1024 * 1024 : 16 * 1024 * 1024;
        const unit = opts.sectorSize ?? 512;
        const dataSize = Math.ceil(plain.size / unit) * unit;
        const img = await FileDevice.open(image, {
          create: true,
          size: dataOffset + Math.max(dataSize, unit),
        });
        try {
          const r = await formatLuks(img, pass, opts);
          const vol = await openLuks(img, { volumeKey: r.volumeKey });
          zeroize(r.volumeKey);
          const bar = ctx.progress('encrypt');
          try {
            await forEachChunk(
              plain,
              async (chunk, off) => {
                const padded =
                  chunk.length % unit === 0 ? chunk : new Uint8Array(Math.ceil(chunk.length / unit) * unit);
                if (padded !== chunk) padded.set(chunk);
                await vol.write(off, padded);
                bar(off + chunk.length, plain.size);
              },
              { chunkSize: 8 * 1024 * 1024 },
            );
            await img.flush();
          } finally {
            bar.done();
            await vol.close();
          }
          ctx.result(
            { version: r.version, uuid: r.uuid, dataOffset: r.dataOffset, bytes: plain.size },
            `encrypted ${formatSize(plain.size)} into LUKS${r.version} ${r.uuid} (${image})`,
          );
        } finally {
          await img.close();
        }
      } finally {
        zeroize(pass);
        await plain.close();
      }
    });

    addKdfOptions(
      partOpt(
        cmd
          .command('reencrypt <image>')
          .description(
            'offline re-encryption with a new random volume key, crash-safe: run the same command again to resume',
          )
          .requiredOption('--key-file <file>', 'a passphrase file that opens the volume now (- for stdin)')
          .option('--new-key-file <file>', 'passphrase file of the re-encrypted volume (default: --key-file)')
          .option('--journal <path>', 'journal file (default IMAGE.reencrypt-journal; keep it until done)')
          .option('--cipher <spec>', 'new data cipher (default: keep)')
          .option('--key-size <bits>', 'new volume key bits (default: keep)')
          .option('--chunk-size <size>', 'bytes per journaled chunk (default 1M)'),
      ),
    ).action(
      async (
        image: string,
        o: KdfCli &
          ImageOpts & {
            keyFile: string;
            newKeyFile?: string;
            journal?: string;
            cipher?: string;
            keySize?: string;
            chunkSize?: string;
          },
      ) => {
        if (o.keyFile === '-' && o.newKeyFile === '-')
          throw new UsageError('BAD_KEY_FILE', 'only one key file can be stdin');
        const chunkSize = o.chunkSize !== undefined ? parseSize(o.chunkSize) : REENCRYPT_DEFAULT_CHUNK;
        const keySize = int(o.keySize, '--key-size');
        const journalPath =
          o.journal ?? `${image}${o.partition !== undefined ? `.p${o.partition}` : ''}.reencrypt-journal`;
        const pass = await ctx.readKeyFile(o.keyFile);
        const next = o.newKeyFile !== undefined ? await ctx.readKeyFile(o.newKeyFile) : undefined;
        const img = await openImage(image, o, true);
        const existed = await stat(journalPath).then(
          () => true,
          () => false,
        );
        let journal = await FileDevice.open(journalPath, { create: true });
        // Only a regular file we may delete (never a device node given as --journal).
        const removeJournal = async (): Promise<void> => {
          if ((await stat(journalPath)).isFile()) await rm(journalPath, { force: true });
        };
        const ac = new AbortController();
        const onSigint = (): void => ac.abort(new Error('interrupted'));
        process.once('SIGINT', onSigint);
        const bar = ctx.progress('reencrypt');
        try {
          const status = await reencryptJournalStatus(journal);
          if (!status && journal.size < reencryptJournalSize(chunkSize)) {
            await journal.close();
            journal = await FileDevice.open(journalPath, {
              create: true,
              size: reencryptJournalSize(chunkSize),
            });
          }
          if (status && !ctx.quiet && !ctx.json)
            ctx.io.stderr.write(
              `resuming the re-encryption of ${status.uuid} (${status.chunksDone}/${status.chunks} chunks done)\n`,
            );
          const r = await reencryptLuks(img.dev, {
            key: pass,
            ...(next ? { newPassphrase: next } : {}),
            ...(o.cipher !== undefined ? { cipher: o.cipher } : {}),
            ...(keySize !== undefined ? { keySizeBits: keySize } : {}),
            kdf: kdfOptions(o),
            chunkSize,
            journal,
            onProgress: bar,
            signal: ac.signal,
          });
          bar.done();
          await journal.close();
          // The journal is all zeros now; it has served its purpose.
          await removeJournal();
          ctx.result(
            { ...r, journal: journalPath },
            `re-encrypted ${formatSize(r.dataSize)} of LUKS${r.version} with a new ${r.keySizeBits}-bit ${r.cipher} key (key slot ${r.keyslot})${r.resumed ? ', resumed' : ''}.`,
          );
        } catch (e) {
          bar.done();
          const run = await reencryptJournalStatus(journal).catch(() => undefined);
          if (run && !ctx.quiet)
            ctx.io.stderr.write(
              `lsvm: the re-encryption stopped; keep ${journalPath} and run the same command again to resume\n`,
            );
          if (!run && !existed) {
            // Refused before it started (wrong key, bad options): leave no empty journal behind.
            await journal.close().catch(() => undefined);
            await removeJournal().catch(() => undefined);
          }
          throw e;
        } finally {
          process.removeListener('SIGINT', onSigint);
          zeroize(pass, next);
          await journal.close().catch(() => undefined);
          await img.close();
        }
      },
    );
  },
};
