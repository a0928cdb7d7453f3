import { FormatError, LimitError } from '@lsvm/core';
import { type CborValue, decodeCanonical, encodeCanonical } from './canonical-cbor.js';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';
import { asArray, asBytes, asMap, asText } from './schema.js';

/**
 * The secrets of a shielding data file: the plaintext of its encrypted section.
 */

/** A named file. */
export interface PdkFile {
  /** A plain file name: no `/`, `\`, NUL or control characters, not `.` or `..`. */
  name: string;
  data: Uint8Array;
}

/** A local account and its password. */
export interface PdkCredential {
  user: string;
  password: string;
}

/** An SSH public key to authorise for a user (an `authorized_keys` line). */
export interface PdkSshKey {
  user: string;
  key: string;
}

/** Everything only an authorised guardian can read. */
export interface PdkSecrets {
  /** The answer file: for Linux, cloud-init user-data (or meta-data) or the specialization agent's file. */
  answerFile?: PdkFile;
  /** Other files (each ≤ 384 KiB by default). */
  files: PdkFile[];
  credentials: PdkCredential[];
  sshKeys: PdkSshKey[];
}

const S = 'PDK secrets';
const FILE_NAME_RE = /^[^/\\\u0000-\u001f\u007f]{1,255}$/u;
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/;

/** Throws unless `name` is a safe plain file name. */
export function checkFileName(name: string, structure = S): void {
  if (!FILE_NAME_RE.test(name) || name === '.' || name === '..')
    throw new FormatError('FILE_NAME', `"${name.slice(0, 64)}" is not a plain file name`, { structure });
}

/** Throws unless the secrets fit the format and the limits. */
export function checkSecrets(s: PdkSecrets, limits: Partial<ShieldingLimits> = {}): void {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  const files = [...(s.answerFile ? [s.answerFile] : []), ...s.files];
  if (files.length > l.maxFiles)
    throw new LimitError('PDK_TOO_MANY_FILES', `${files.length} files exceed the limit of ${l.maxFiles}`, {
      structure: S,
    });
  const names = new Set<string>();
  for (const f of s.files) {
    checkFileName(f.name);
    if (names.has(f.name))
      throw new FormatError('PDK_DUPLICATE_FILE', `file "${f.name}" appears twice`, { structure: S });
    names.add(f.name);
  }
  if (s.answerFile) checkFileName(s.answerFile.name);
  for (const f of files)
    if (f.data.length > l.maxFileBytes)
      throw new LimitError(
        'PDK_FILE_TOO_LARGE',
        `file "${f.name}" has ${f.data.length} bytes, more than ${l.maxFileBytes}`,
        { structure: S },
      );
  if (s.credentials.length + s.sshKeys.length > l.maxCredentials)
    throw new LimitError(
      'PDK_TOO_MANY_CREDENTIALS',
      `more than ${l.maxCredentials} credentials and SSH keys`,
      { structure: S },
    );
  for (const c of [...s.credentials, ...s.sshKeys])
    if (!USER_RE.test(c.user))
      throw new FormatError('PDK_USER', `"${c.user.slice(0, 64)}" is not a valid user name`, {
        structure: S,
      });
  for (const k of s.sshKeys)
    if (!/^[^\r\n\u0000]{1,16384}$/.test(k.key))
      throw new FormatError('PDK_SSH_KEY', 'an SSH key must be one non-empty line', { structure: S });
  for (const c of s.credentials)
    if (c.password.length === 0 || c.password.length > 1024)
      throw new FormatError('PDK_PASSWORD', 'a password must be 1..1024 characters', { structure: S });
}

const file = (f: PdkFile): CborValue => ({ name: f.name, data: f.data });

/** Canonical CBOR of the secrets (the plaintext of the encrypted section). */
export function encodeSecrets(s: PdkSecrets): Uint8Array {
  checkSecrets(s);
  const m: Record<string, CborValue> = {
    files: s.files.map(file),
    credentials: s.credentials.map((c) => ({ user: c.user, password: c.password })),
    sshKeys: s.sshKeys.map((k) => ({ user: k.user, key: k.key })),
  };
  if (s.answerFile) m.answerFile = file(s.answerFile);
  return encodeCanonical(m);
}

function fileFrom(x: CborValue, where: string, max: number): PdkFile {
  const m = asMap(x, 'file', where, ['name', 'data']);
  return { name: asText(m.name, 'name', where, 255), data: asBytes(m.data, 'data', where, max) };
}

/** Parses decrypted secrets. */
export function decodeSecrets(bytes: Uint8Array, limits: Partial<ShieldingLimits> = {}): PdkSecrets {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  const m = asMap(decodeCanonical(bytes, S, l.maxContainerBytes), 'secrets', S, [
    'answerFile',
    'files',
    'credentials',
    'sshKeys',
  ]);
  const s: PdkSecrets = {
    files: asArray(m.files, 'files', S, l.maxFiles, 'PDK_TOO_MANY_FILES').map((x, i) =>
      fileFrom(x, `${S} file ${i}`, l.maxFileBytes),
    ),
    credentials: asArray(m.credentials, 'credentials', S, l.maxCredentials, 'PDK_TOO_MANY_CREDENTIALS').map(
      (x, i) => {
        const c = asMap(x, 'credential', `${S} credential ${i}`, ['user', 'password']);
        return { user: asText(c.user, 'user', S, 64), password: asText(c.password, 'password', S, 1024) };
      },
    ),
    sshKeys: asArray(m.sshKeys, 'sshKeys', S, l.maxCredentials, 'PDK_TOO_MANY_CREDENTIALS').map((x, i) => {
      const c = asMap(x, 'SSH key', `${S} ssh key ${i}`, ['user', 'key']);
      return { user: asText(c.user, 'user', S, 64), key: asText(c.key, 'key', S, 16384) };
    }),
  };
  if (m.answerFile !== undefined) s.answerFile = fileFrom(m.answerFile, `${S} answer file`, l.maxFileBytes);
  checkSecrets(s, l);
  return s;
}

/** Zeroes every byte buffer of `s` (file contents). Strings cannot be zeroed in JavaScript. */
export function zeroSecrets(s: PdkSecrets): void {
  s.answerFile?.data.fill(0);
  for (const f of s.files) f.data.fill(0);
}
