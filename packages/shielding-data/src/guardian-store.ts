import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, IoError } from '@lsvm/core';
import {
  type GuardianKeys,
  type GuardianPublic,
  checkGuardianName,
  guardianToPem,
  importGuardianPem,
  importGuardianPublicPem,
  parseGuardianMetadata,
} from './guardian.js';

/**
 * A guardian directory on disk (what `lsvm guardian new --out DIR` writes):
 *
 *     DIR/guardian.json          {"format":"lsvm-guardian-dir","version":1,"name":"…"}
 *     DIR/signing.crt.pem        signing certificate
 *     DIR/signing.key.pem        signing private key, PKCS#8, mode 0600
 *     DIR/encryption.crt.pem     encryption certificate
 *     DIR/encryption.key.pem     encryption private key, PKCS#8, mode 0600
 *
 * This is the only file in the package that does I/O; everything else works on bytes.
 */

export const GUARDIAN_DIR_FILES = {
  info: 'guardian.json',
  signingCertificate: 'signing.crt.pem',
  signingKey: 'signing.key.pem',
  encryptionCertificate: 'encryption.crt.pem',
  encryptionKey: 'encryption.key.pem',
} as const;

function read(dir: string, file: string): string {
  const p = join(dir, file);
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    throw new IoError('GUARDIAN_DIR_READ', `cannot read ${p}`, { structure: 'guardian directory', cause: e });
  }
}

function readName(dir: string): string {
  let j: unknown;
  try {
    j = JSON.parse(read(dir, GUARDIAN_DIR_FILES.info));
  } catch (e) {
    if (e instanceof IoError) throw e;
    throw new FormatError('GUARDIAN_DIR', `${GUARDIAN_DIR_FILES.info} is not JSON`, {
      structure: 'guardian directory',
    });
  }
  const o = j as { format?: unknown; version?: unknown; name?: unknown } | null;
  if (o?.format !== 'lsvm-guardian-dir' || o.version !== 1 || typeof o.name !== 'string')
    throw new FormatError(
      'GUARDIAN_DIR',
      `${GUARDIAN_DIR_FILES.info} is not an lsvm guardian directory descriptor`,
      {
        structure: 'guardian directory',
      },
    );
  checkGuardianName(o.name);
  return o.name;
}

/** Writes a guardian with its keys to `dir` (created if missing; existing files are refused). */
export function writeGuardianDir(dir: string, g: GuardianKeys): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of Object.values(GUARDIAN_DIR_FILES))
    if (existsSync(join(dir, f)))
      throw new IoError(
        'GUARDIAN_DIR_EXISTS',
        `${join(dir, f)} already exists; refusing to overwrite a guardian`,
      );
  const pem = guardianToPem(g);
  const info = { format: 'lsvm-guardian-dir', version: 1, name: g.name };
  writeFileSync(join(dir, GUARDIAN_DIR_FILES.signingKey), pem.signingKey, { mode: 0o600, flag: 'wx' });
  writeFileSync(join(dir, GUARDIAN_DIR_FILES.encryptionKey), pem.encryptionKey, { mode: 0o600, flag: 'wx' });
  writeFileSync(join(dir, GUARDIAN_DIR_FILES.signingCertificate), pem.signingCertificate, { flag: 'wx' });
  writeFileSync(join(dir, GUARDIAN_DIR_FILES.encryptionCertificate), pem.encryptionCertificate, {
    flag: 'wx',
  });
  writeFileSync(join(dir, GUARDIAN_DIR_FILES.info), `${JSON.stringify(info, null, 2)}\n`, { flag: 'wx' });
}

/** Reads a guardian with its private keys from a guardian directory. */
export function readGuardianDir(dir: string): GuardianKeys {
  return importGuardianPem({
    name: readName(dir),
    signingCertificate: read(dir, GUARDIAN_DIR_FILES.signingCertificate),
    encryptionCertificate: read(dir, GUARDIAN_DIR_FILES.encryptionCertificate),
    signingKey: read(dir, GUARDIAN_DIR_FILES.signingKey),
    encryptionKey: read(dir, GUARDIAN_DIR_FILES.encryptionKey),
  });
}

/** Reads the public part of a guardian from a guardian directory or a metadata JSON file. */
export function readGuardianPublic(path: string): GuardianPublic {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new IoError('GUARDIAN_READ', `cannot read ${path}`, { structure: 'guardian', cause: e });
  }
  if (isDir)
    return importGuardianPublicPem({
      name: readName(path),
      signingCertificate: read(path, GUARDIAN_DIR_FILES.signingCertificate),
      encryptionCertificate: read(path, GUARDIAN_DIR_FILES.encryptionCertificate),
    });
  return parseGuardianMetadata(new Uint8Array(readFileSync(path)));
}
