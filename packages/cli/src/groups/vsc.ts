import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type BlockDevice, UsageError, formatSize, parseSize, toHex, zeroize } from '@lsvm/core';
import { type GptTable, partitionSlice, readGpt, usedPartitions } from '@lsvm/gpt';
import { scanLuksHeaders } from '@lsvm/luks2';
import {
  type Catalog,
  type PartitionSource,
  type ProtectedPartition,
  type RsaPadding,
  type TargetType,
  TARGET_TYPES,
  createSignedCatalog,
  decodeCatalog,
  decodeSignedCatalog,
  parseCertificate,
  parseHashAlgorithm,
  readCertificates,
  verifyCatalogSignature,
  verifyVolumes,
} from '@lsvm/vsc';
import type { CliGroup } from '../group.js';
import { openImage } from '../image.js';

/**
 * `lsvm vsc …` — Volume Signature Catalogs (docs/formats/vsc.md): create one for a template disk,
 * show one, verify a disk against one. Thin: the disk is opened through the CLI's image helper
 * (raw or VHDX), its GPT read with @lsvm/gpt, and everything else is @lsvm/vsc.
 */
export const vscGroup: CliGroup = {
  name: 'vsc',
  description: 'Volume Signature Catalogs: create, show, verify a signed catalog of a template disk',
  register(cmd, ctx) {
    cmd
      .command('create')
      .argument('<disk>', 'template disk: raw image or .vhdx')
      .description('hash the protected partitions and write a signed catalog')
      .requiredOption('--cert <file>', 'signer certificate (PEM or DER)')
      .requiredOption('--key <file>', "signer private key (PEM or DER, unencrypted; '-' reads stdin)")
      .requiredOption('--name <name>', 'template name')
      .requiredOption(
        '--template-version <a.b.c.d>',
        "template version (`--version` is the program's own flag)",
      )
      .requiredOption('--out <file>', 'catalog file to write (.vsc)')
      .option(
        '--partitions <list>',
        'GPT slot numbers to protect, e.g. 2,3 (default: those holding a LUKS header)',
      )
      .option('--block-size <size>', 'hash block size, 4K to 64M', '1M')
      .option('--alg <algorithm>', 'sha256, sha384 or sha512', 'sha256')
      .option('--target <type>', `target type: ${TARGET_TYPES.join(', ')}`, 'PreprocessedLinux')
      .option('--chain <file>', 'intermediate certificates to include (PEM)')
      .option('--pss', 'RSA-PSS instead of PKCS#1 v1.5 for an RSA key')
      .option('--workers <n>', 'hashing threads (default: CPU count)')
      .action(async (diskPath: string, o: CreateOptions) => {
        const target = o.target as TargetType;
        if (!TARGET_TYPES.includes(target))
          throw new UsageError('USAGE', `--target must be one of ${TARGET_TYPES.join(', ')}`);
        const algorithm = parseHashAlgorithm(o.alg);
        const blockSize = parseSize(o.blockSize);
        const workers = o.workers === undefined ? undefined : parseCount(o.workers, '--workers');
        const wanted = o.partitions === undefined ? undefined : parseList(o.partitions);
        const certificate = readCertificates(readFileSync(o.cert))[0]!;
        const chain = o.chain === undefined ? [] : readCertificates(readFileSync(o.chain));
        const key = await ctx.readKeyFile(o.key);
        const img = await openImage(diskPath);
        const bar = ctx.progress('hashing');
        try {
          const { table } = await readGpt(img.disk);
          const chosen = await choosePartitions(img.disk, table, wanted);
          const padding: RsaPadding = o.pss ? 'pss' : 'pkcs1';
          const signed = await createSignedCatalog(
            {
              name: o.name,
              version: o.templateVersion,
              targetType: target,
              disk: { diskGuid: table.diskGuid, sectorSize: table.sectorSize },
              volumes: chosen,
            },
            { certificate, chain, privateKey: key },
            { algorithm, blockSize, padding, onProgress: bar, ...(workers !== undefined ? { workers } : {}) },
          );
          bar.done();
          writeAtomically(o.out, signed.file);
          const view = { out: o.out, bytes: signed.file.length, ...catalogView(signed.catalog) };
          ctx.result(view, () =>
            [`wrote ${o.out} (${formatSize(signed.file.length)})`, ...catalogLines(signed.catalog)].join(
              '\n',
            ),
          );
        } finally {
          bar.done();
          zeroize(key);
          await img.close();
        }
      });

    cmd
      .command('show')
      .argument('<file>', 'catalog file (.vsc)')
      .description('print a catalog (its signature is not checked: use verify)')
      .action(async (file: string) => {
        const parts = decodeSignedCatalog(readFileSync(file));
        const catalog = decodeCatalog(parts.catalog);
        ctx.result(catalogView(catalog), () => catalogLines(catalog).join('\n'));
      });

    cmd
      .command('verify')
      .argument('<disk>', 'disk: raw image or .vhdx')
      .argument('<file>', 'catalog file (.vsc)')
      .description('check the catalog signature, then the disk against it; exit 1 on any difference')
      .option(
        '--trust <file>',
        'trusted CA or signer certificate (PEM/DER); repeatable',
        collect,
        [] as string[],
      )
      .option('--signer-thumbprint <hex>', 'pin the signer: SHA-256 of its DER certificate')
      .option('--first-difference', 'stop at the first difference')
      .option('--workers <n>', 'hashing threads (default: CPU count)')
      .action(async (diskPath: string, file: string, o: VerifyOptions) => {
        if (o.trust.length === 0 && o.signerThumbprint === undefined) {
          throw new UsageError(
            'USAGE',
            'give --trust CA.pem or --signer-thumbprint: a signature alone proves nothing',
          );
        }
        const trustAnchors = o.trust.flatMap((t) => readCertificates(readFileSync(t)));
        const verdict = verifyCatalogSignature(readFileSync(file), {
          trustAnchors,
          ...(o.signerThumbprint !== undefined ? { signerThumbprint: o.signerThumbprint } : {}),
        });
        const signature = {
          valid: verdict.valid,
          reason: verdict.reason,
          message: verdict.message,
          ...(verdict.signer ? { signer: verdict.signer } : {}),
        };
        if (!verdict.valid || verdict.catalog === undefined) {
          ctx.findings();
          ctx.result(
            { match: false, signature, volumes: [] },
            () => `signature: NOT VALID (${verdict.reason}): ${verdict.message}`,
          );
          return;
        }
        const catalog = verdict.catalog;
        const workers = o.workers === undefined ? undefined : parseCount(o.workers, '--workers');
        const img = await openImage(diskPath);
        const bar = ctx.progress('verifying');
        try {
          const { table } = await readGpt(img.disk);
          const partitions: PartitionSource[] = usedPartitions(table).map((e) => ({
            device: partitionSlice(img.disk, table, e.index, { readOnly: true }),
            index: e.index,
            partitionGuid: e.uniqueGuid,
            typeGuid: e.typeGuid,
            firstLba: e.firstLba,
            lastLba: e.lastLba,
          }));
          const report = await verifyVolumes(
            catalog,
            { diskGuid: table.diskGuid, sectorSize: table.sectorSize },
            partitions,
            {
              firstDifference: o.firstDifference === true,
              onProgress: bar,
              ...(workers !== undefined ? { workers } : {}),
            },
          );
          bar.done();
          if (!report.match) ctx.findings();
          ctx.result(
            { match: report.match, signature, diskProblems: report.diskProblems, volumes: report.volumes },
            () => {
              const lines = [
                `signature: valid, signed by ${verdict.signer!.subject} (${verdict.signer!.thumbprint})`,
              ];
              for (const p of report.diskProblems) lines.push(`disk: ${p}`);
              for (const v of report.volumes) {
                lines.push(`volume ${v.index} (${v.role}): ${v.status}`);
                for (const p of v.problems) lines.push(`  ${p}`);
                for (const r of v.changed) {
                  const blocks =
                    r.firstBlock === r.lastBlock
                      ? `block ${r.firstBlock}`
                      : `blocks ${r.firstBlock}-${r.lastBlock}`;
                  lines.push(`  changed ${blocks}: bytes ${r.offset}..${r.offset + r.length - 1}`);
                }
              }
              lines.push(report.match ? `${diskPath} matches ${file}` : `${diskPath} does NOT match ${file}`);
              return lines.join('\n');
            },
          );
        } finally {
          bar.done();
          await img.close();
        }
      });
  },
};

interface CreateOptions {
  cert: string;
  key: string;
  name: string;
  templateVersion: string;
  out: string;
  partitions?: string;
  blockSize: string;
  alg: string;
  target: string;
  chain?: string;
  pss?: boolean;
  workers?: string;
}

interface VerifyOptions {
  trust: string[];
  signerThumbprint?: string;
  firstDifference?: boolean;
  workers?: string;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function parseCount(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new UsageError('USAGE', `${what} must be 0 to 256`);
  return n;
}

function parseList(v: string): number[] {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(
      'USAGE',
      `--partitions takes GPT slot numbers such as 2,3 (got ${JSON.stringify(v)})`,
    );
  }
  if (new Set(out).size !== out.length) throw new UsageError('USAGE', '--partitions lists a slot twice');
  return out;
}

/**
 * The partitions to protect: the given slots, or every partition holding a valid LUKS header at
 * its start. Roles follow slot order: the first is `boot`, the second `root`, any further `other`
 * (a Linux template has an encrypted boot partition before its encrypted root).
 */
async function choosePartitions(
  disk: BlockDevice,
  table: GptTable,
  wanted: number[] | undefined,
): Promise<ProtectedPartition[]> {
  const used = usedPartitions(table);
  let entries = used;
  if (wanted !== undefined) {
    entries = wanted.map((n) => {
      const e = used.find((u) => u.index === n);
      if (e === undefined) throw new UsageError('USAGE', `--partitions: slot ${n} holds no partition`);
      return e;
    });
  } else {
    const luks = [];
    for (const e of used) {
      const dev = partitionSlice(disk, table, e.index, { readOnly: true });
      const found = await scanLuksHeaders(dev, { end: Math.min(dev.size, 4096), maxResults: 1 });
      if (found.some((f) => f.offset === 0 && f.valid && f.kind !== 'secondary')) luks.push(e);
    }
    if (luks.length === 0)
      throw new UsageError(
        'USAGE',
        'no partition holds a LUKS header: name the partitions to protect with --partitions',
      );
    entries = luks;
  }
  entries = [...entries].sort((a, b) => a.index - b.index);
  return entries.map((e, i) => ({
    device: partitionSlice(disk, table, e.index, { readOnly: true }),
    index: e.index,
    role: i === 0 ? 'boot' : i === 1 ? 'root' : 'other',
    partitionGuid: e.uniqueGuid,
    typeGuid: e.typeGuid,
    firstLba: e.firstLba,
    lastLba: e.lastLba,
  }));
}

/** Writes through a temporary file and a rename, so a crash never leaves half a catalog. */
function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function signerOf(c: Catalog): { subject: string; thumbprint: string } {
  const cert = parseCertificate(c.certificates[0]!);
  return { subject: cert.subject, thumbprint: cert.thumbprint };
}

/** The `vsc show` JSON shape (issue 9, CLI section), plus disk identity and creation time. */
function catalogView(c: Catalog): Record<string, unknown> {
  return {
    name: c.name,
    version: c.version,
    targetType: c.targetType,
    created: c.created,
    disk: c.disk,
    signer: signerOf(c),
    volumes: c.volumes.map((v) => ({
      index: v.index,
      role: v.role,
      partitionGuid: v.partitionGuid,
      typeGuid: v.typeGuid,
      firstLba: v.firstLba,
      lastLba: v.lastLba,
      length: v.length,
      blockSize: v.blockSize,
      algorithm: v.algorithm,
      rootHash: toHex(v.rootHash),
    })),
  };
}

function catalogLines(c: Catalog): string[] {
  const s = signerOf(c);
  return [
    `template: ${c.name} ${c.version} (${c.targetType}), created ${c.created}`,
    `disk:     ${c.disk.diskGuid}, ${c.disk.sectorSize}-byte sectors`,
    `signer:   ${s.subject}`,
    `          thumbprint ${s.thumbprint}`,
    ...c.volumes.map(
      (v) =>
        `volume ${v.index} ${v.role.padEnd(5)} ${v.partitionGuid} LBA ${v.firstLba}-${v.lastLba} (${formatSize(v.length)}), ${v.algorithm} / ${formatSize(v.blockSize)} blocks\n          root ${toHex(v.rootHash)}`,
    ),
  ];
}
