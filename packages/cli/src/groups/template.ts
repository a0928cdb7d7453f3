import { readFileSync } from 'node:fs';
import { UsageError, formatSize, parseSize } from '@lsvm/core';
import { loadPrivateKey, parseCertificatePemOrDer } from '@lsvm/pe-authenticode';
import {
  type TemplateCheckReport,
  type TemplateVerification,
  VSC_PATH,
  checkTemplate,
  describeMismatch,
  makeSampleTemplate,
  protectTemplate,
  verifyTemplate,
} from '@lsvm/provisioning';
import type { CliGroup } from '../group.js';

/**
 * `lsvm template …` — Linux template disks (raw or VHDX): build a sample, check one the way
 * lsvmload and provisioning need it, protect it with a Volume Signature Catalog, verify it.
 * Everything is @lsvm/provisioning; this file parses options and prints.
 */

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const readBytes = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
/** A certificate file (PEM or DER) as DER. */
const certDer = (p: string): Uint8Array => parseCertificatePemOrDer(readBytes(p)).der;

export const templateGroup: CliGroup = {
  name: 'template',
  description: 'Linux template disks: make a sample, check, protect (VSC), verify',
  register(group, ctx) {
    group
      .command('make-sample')
      .description('build a sample Linux template (ESP + LUKS1/ext3 boot + LUKS2/ext4 root), raw or .vhdx')
      .argument('<out>', 'output disk (.vhdx makes a dynamic VHDX, anything else a sparse raw image)')
      .option('--size <size>', 'disk size (default 256M, at least 128M)')
      .option('--loader <file>', 'use this loader (e.g. lsvmload.efi) as bootx64.efi, as it is')
      .option(
        '--ca-cert <file>',
        'certificate signing the generated EFI images (default: the public test db key)',
      )
      .option('--ca-key <file>', 'private key of --ca-cert')
      .option(
        '--shim <file>',
        "shimx64.efi to install (default: Debian's signed shim, else a test-signed one)",
      )
      .action(
        async (
          out: string,
          o: { size?: string; loader?: string; caCert?: string; caKey?: string; shim?: string },
        ) => {
          if ((o.caCert === undefined) !== (o.caKey === undefined)) {
            throw new UsageError('USAGE', '--ca-cert and --ca-key go together');
          }
          const r = await makeSampleTemplate(out, {
            ...(o.size ? { size: parseSize(o.size) } : {}),
            ...(o.loader ? { loader: readBytes(o.loader) } : {}),
            ...(o.caCert && o.caKey
              ? { signer: { certificate: readBytes(o.caCert), key: loadPrivateKey(readBytes(o.caKey)) } }
              : {}),
            ...(o.shim ? { shim: readBytes(o.shim) } : {}),
          });
          ctx.result(r, () =>
            [
              `${r.path}: sample Linux template, ${r.format}, ${formatSize(r.size)}, disk ${r.diskGuid}`,
              `  1 ESP   ${r.esp.partitionGuid}  bootx64.efi (${r.loader}), lsvmconf`,
              `  2 boot  ${r.boot.partitionGuid}  LUKS1 ${r.boot.luksUuid}  ext3 (shim: ${r.shim})`,
              `  3 root  ${r.root.partitionGuid}  LUKS2 ${r.root.luksUuid}  ext4`,
              'both volumes open with the well-known passphrase "passphrase" (tiny KDF costs: a test fixture)',
            ].join('\n'),
          );
        },
      );

    group
      .command('check')
      .description('check a prepared template; exit 0 clean, 1 findings')
      .argument('<disk>', 'template disk (raw or .vhdx)')
      .option('--trust <cert>', 'the loader must chain to this certificate (PEM/DER); repeatable', collect)
      .action(async (disk: string, o: { trust?: string[] }) => {
        const r = await checkTemplate(disk, o.trust ? { trust: o.trust.map(readBytes) } : {});
        if (!r.clean) ctx.findings();
        ctx.result(r, () => checkText(disk, r));
      });

    group
      .command('protect')
      .description(
        `check, then write a signed Volume Signature Catalog of boot and root to ${VSC_PATH.replace(/\//g, '\\')}`,
      )
      .argument('<disk>', 'template disk (raw or .vhdx), written in place (ESP only)')
      .requiredOption('--cert <file>', 'signer certificate (PEM or DER)')
      .requiredOption('--key <file>', 'signer private key (PEM or DER)')
      .requiredOption('--name <name>', 'template name (matched by VolumeIdQualifiers)')
      .requiredOption(
        '--template-version <a.b.c.d>',
        "template version (`--version` is the program's own flag)",
      )
      .option('--chain <cert>', 'intermediate certificate to include; repeatable', collect)
      .option('--block-size <size>', 'hash block size (default 1M)')
      .option('--trust <cert>', 'the loader must chain to this certificate; repeatable', collect)
      .action(
        async (
          disk: string,
          o: {
            cert: string;
            key: string;
            name: string;
            templateVersion: string;
            chain?: string[];
            blockSize?: string;
            trust?: string[];
          },
        ) => {
          const progress = ctx.progress('hashing');
          try {
            const r = await protectTemplate(disk, {
              signer: {
                certificate: certDer(o.cert),
                privateKey: readBytes(o.key),
                ...(o.chain ? { chain: o.chain.map(certDer) } : {}),
              },
              name: o.name,
              version: o.templateVersion,
              ...(o.blockSize ? { blockSize: parseSize(o.blockSize) } : {}),
              ...(o.trust ? { trust: o.trust.map(readBytes) } : {}),
              onProgress: progress,
            });
            progress.done();
            ctx.result(r, () =>
              [
                `${disk}: protected as ${r.name} ${r.version}, signer ${r.signerThumbprint}`,
                `  catalog ${r.vscPath} (${r.vscBytes} bytes)`,
                ...r.volumes.map(
                  (v) =>
                    `  ${v.role.padEnd(4)} partition ${v.index}  ${formatSize(v.length)}  root hash ${v.rootHash}`,
                ),
              ].join('\n'),
            );
          } finally {
            progress.done();
          }
        },
      );

    group
      .command('verify')
      .description('verify the catalog signature and every block of boot and root; exit 0 valid, 1 not')
      .argument('<disk>', 'protected template disk')
      .option('--trust <cert>', 'trust anchor (CA or signer certificate, PEM/DER); repeatable', collect)
      .option('--signer-thumbprint <hex>', 'pinned signer certificate SHA-256')
      .action(async (disk: string, o: { trust?: string[]; signerThumbprint?: string }) => {
        const progress = ctx.progress('verifying');
        let r: TemplateVerification;
        try {
          r = await verifyTemplate(disk, {
            ...(o.trust ? { trustAnchors: o.trust.map(certDer) } : {}),
            ...(o.signerThumbprint ? { signerThumbprint: o.signerThumbprint } : {}),
            onProgress: progress,
          });
        } finally {
          progress.done();
        }
        if (!r.valid) ctx.findings();
        const { fullCatalog: _omit, ...shown } = r as TemplateVerification & { fullCatalog?: unknown };
        ctx.result({ ...shown, mismatches: describeMismatch(r) }, () =>
          r.valid
            ? `${disk}: valid — ${r.catalog!.name} ${r.catalog!.version} signed by ${r.signature.signer!.subject}; every block of boot and root matches`
            : [`${disk}: NOT valid`, ...describeMismatch(r).map((l) => `  ${l}`)].join('\n'),
        );
      });
  },
};

function checkText(disk: string, r: TemplateCheckReport): string {
  const lines = [`${disk}: ${r.clean ? 'clean' : `${r.findings.length} finding(s)`}`];
  if (r.esp) lines.push(`  ESP   partition ${r.esp.index}`);
  for (const [n, v] of [
    ['boot', r.boot],
    ['root', r.root],
  ] as const)
    if (v)
      lines.push(
        `  ${n}  partition ${v.index}  ${v.luksVersion ? `LUKS${v.luksVersion} ${v.luksUuid}` : 'not LUKS'}${v.keyBits ? ` ${v.cipher} ${v.keyBits}-bit` : ''}`,
      );
  if (r.loader)
    lines.push(
      `  loader ${r.loader.size} bytes, ${r.loader.signatures} signature(s)${r.loader.signers.length ? ` by ${r.loader.signers.join('; ')}` : ''}${r.loader.trusted !== undefined ? (r.loader.trusted ? ', trusted' : ', NOT trusted') : ''}`,
    );
  for (const f of r.findings) lines.push(`  ${f.code}: ${f.message}`);
  return lines.join('\n');
}
