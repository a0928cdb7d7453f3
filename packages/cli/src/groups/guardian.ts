import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IoError, UsageError, zeroize } from '@lsvm/core';
import {
  type CertificateInfo,
  type GuardianAlgorithm,
  encodeGuardianMetadata,
  exportGuardian,
  generateGuardian,
  importGuardianPfx,
  inspectGuardian,
  readGuardianPublic,
  writeGuardianDir,
  GUARDIAN_DIR_FILES,
} from '@lsvm/shielding-data';
import type { CliGroup } from '../group.js';
import { safeText } from '../terminal-safe.js';

/**
 * `lsvm guardian …` — create a guardian (owner or fabric identity), show one, export its public
 * metadata. Thin wrapper over @lsvm/shielding-data.
 */
export const guardianGroup: CliGroup = {
  name: 'guardian',
  description: 'guardians (signing + encryption certificates): new, import, show, export',
  register(cmd, ctx) {
    cmd
      .command('new')
      .description(
        'generate a guardian with self-signed certificates (like New-HgsGuardian -GenerateCertificates)',
      )
      .requiredOption('--name <name>', 'guardian name')
      .requiredOption('--out <dir>', 'directory to create (private keys are written mode 0600)')
      .option('--alg <alg>', 'rsa3072 | rsa2048 | rsa4096 | p256 | p384', 'rsa3072')
      .action((o: { name: string; out: string; alg: string }) => {
        const algs = ['rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384'];
        if (!algs.includes(o.alg)) throw new UsageError('USAGE', `--alg must be one of ${algs.join(', ')}`);
        const g = generateGuardian(o.name, { algorithm: o.alg as GuardianAlgorithm });
        writeGuardianDir(o.out, g);
        const info = inspectGuardian(g);
        ctx.result(
          { name: g.name, id: info.id, algorithm: o.alg, dir: o.out },
          safeText`guardian "${g.name}" (${o.alg}) written to ${o.out}\nid ${info.id}`,
        );
      });

    cmd
      .command('import')
      .description(
        'import a guardian from PKCS#12 (.pfx/.p12), like New-HgsGuardian -SigningCertificate ' +
          '-EncryptionCertificate: one file per role, or one file for both',
      )
      .requiredOption('--name <name>', 'guardian name')
      .requiredOption('--pfx <file>', 'PKCS#12 file with the signing key and certificate')
      .option(
        '--password-file <file>',
        "its password: the file's first line, as openssl's file: reads it (- for stdin); empty if omitted",
      )
      .option('--encryption-pfx <file>', 'PKCS#12 file with the encryption key (default: --pfx serves both)')
      .option('--encryption-password-file <file>', 'its password (default: the --password-file one)')
      .requiredOption('--out <dir>', 'guardian directory to create (private keys are written mode 0600)')
      .action(
        async (o: {
          name: string;
          pfx: string;
          passwordFile?: string;
          encryptionPfx?: string;
          encryptionPasswordFile?: string;
          out: string;
        }) => {
          if (o.encryptionPasswordFile !== undefined && o.encryptionPfx === undefined)
            throw new UsageError('USAGE', '--encryption-password-file needs --encryption-pfx');
          const password = await readPassword(ctx, o.passwordFile);
          const encPassword =
            o.encryptionPasswordFile !== undefined
              ? await readPassword(ctx, o.encryptionPasswordFile)
              : password;
          try {
            const g = await importGuardianPfx(
              o.name,
              { pfx: readInput(o.pfx), password },
              o.encryptionPfx !== undefined
                ? { encryption: { pfx: readInput(o.encryptionPfx), password: encPassword } }
                : {},
            );
            writeGuardianDir(o.out, g);
            const info = inspectGuardian(g);
            const shared = info.signing.thumbprint === info.encryption.thumbprint;
            ctx.result(
              {
                name: g.name,
                id: info.id,
                dir: o.out,
                signing: certView(info.signing),
                encryption: certView(info.encryption),
                sharedCertificate: shared,
              },
              [
                safeText`guardian "${g.name}" imported to ${o.out}`,
                safeText`id ${info.id}`,
                safeText`signing     ${info.signing.subject}`,
                shared
                  ? 'encryption  (the signing certificate)'
                  : safeText`encryption  ${info.encryption.subject}`,
              ].join('\n'),
            );
          } finally {
            zeroize(password);
            zeroize(encPassword);
          }
        },
      );

    cmd
      .command('show')
      .argument('<guardian>', 'guardian directory or exported metadata (.json)')
      .description('print the certificates of a guardian (never its private keys)')
      .action((path: string) => {
        const g = readGuardianPublic(path);
        const info = inspectGuardian(g);
        const hasKeys = isDir(path) && exists(join(path, GUARDIAN_DIR_FILES.signingKey));
        const view = {
          name: g.name,
          id: info.id,
          privateKeys: hasKeys,
          signing: certView(info.signing),
          encryption: certView(info.encryption),
        };
        ctx.result(view, () =>
          [
            safeText`guardian  ${g.name}${hasKeys ? '  (private keys present)' : ''}`,
            safeText`id        ${info.id}`,
            ...certText('signing', info.signing),
            ...certText('encryption', info.encryption),
          ].join('\n'),
        );
      });

    cmd
      .command('export')
      .argument('<guardian>', 'guardian directory')
      .requiredOption('--out <file>', 'metadata file to write (public part only)')
      .description('write the public part of a guardian: what a fabric publishes as guardian metadata')
      .action((path: string, o: { out: string }) => {
        const g = exportGuardian(readGuardianPublic(path));
        writeFileAtomic(o.out, new TextEncoder().encode(encodeGuardianMetadata(g)));
        ctx.result(
          { name: g.name, id: inspectGuardian(g).id, out: o.out },
          safeText`public metadata of "${g.name}" written to ${o.out}`,
        );
      });
  },
};

/**
 * A PKCS#12 password from a file, read the way `openssl -passin file:F` does: the bytes before
 * the first LF. Absent: the empty password.
 */
async function readPassword(
  ctx: { readKeyFile(p: string): Promise<Uint8Array> },
  path?: string,
): Promise<Uint8Array> {
  if (path === undefined) return new Uint8Array(0);
  let bytes: Uint8Array;
  try {
    bytes = await ctx.readKeyFile(path);
  } catch (e) {
    throw new IoError('READ', `cannot read ${path}`, { cause: e });
  }
  // Exactly openssl's rule (apps/lib/apps.c app_get_pass): cut at the first LF, keep a CR, so a
  // file that made a .pfx with `-passout file:F` opens it.
  let end = bytes.indexOf(0x0a);
  if (end < 0) end = bytes.length;
  const line = bytes.slice(0, end);
  zeroize(bytes);
  return line;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** JSON view of a certificate (shared by the shielding-data groups). */
export function certView(c: CertificateInfo): Record<string, unknown> {
  return {
    subject: c.subject,
    issuer: c.issuer,
    thumbprint: c.thumbprint,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    key: c.keyType === 'rsa' ? `RSA ${c.keyBits}` : `EC ${c.curve}`,
    signature: c.scheme,
    keyUsage: c.keyUsage ?? null,
  };
}

function certText(label: string, c: CertificateInfo): string[] {
  const key = c.keyType === 'rsa' ? `RSA ${c.keyBits}` : `EC ${c.curve}`;
  return [
    `${label} certificate`,
    safeText`  subject     ${c.subject}`,
    safeText`  issuer      ${c.issuer}`,
    safeText`  key         ${key} (${c.scheme})`,
    safeText`  usage       ${c.keyUsage?.join(', ') ?? '(any)'}`,
    safeText`  valid       ${c.notBefore} .. ${c.notAfter}`,
    safeText`  sha256      ${c.thumbprint}`,
  ];
}

/** Reads a whole file, mapping failures to an IoError. */
export function readInput(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new IoError('READ', `cannot read ${path}`, { cause: e });
  }
}

/**
 * Writes `bytes` to `path` crash-safely: a temporary file in the same directory, fsync, rename.
 * A reader never sees a half-written PDK or specialization file.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new IoError('WRITE', `cannot write ${path}`, { cause: e });
  }
}
