import { ByteReader, ByteWriter, FormatError, LimitError, decodeUtf16le, encodeUtf16le } from '@lsvm/core';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';

/**
 * SPECIALIZATION_CLEAR_DATA, the plaintext inside specialization.aes, byte-exact with lsvmload
 * (lsvmtools lsvmutils/specialize.h). All fields little-endian u32:
 *
 *     header  { Length, FileCount }                                       8 bytes
 *     entry   { FileType, FileNameSize, FileNameOffset,
 *               FilePayloadSize, FilePayloadOffset }                     20 bytes
 *     name    UTF-16LE, FileNameSize bytes, no NUL
 *     payload FilePayloadSize bytes
 *
 * Offsets are relative to the start of their entry; we write 20 and 20 + FileNameSize. The next
 * entry starts at max(name end, payload end). Length is the total size of the clear data.
 * lsvmload renames a file called `unattend.xml` to `specialize` when it copies the files to
 * boot:/lsvmload/specialize/.
 */

/** One file of a specialization package. */
export interface SpecializationFile {
  /** Printable ASCII, no `/` or `\`, not `.`/`..`, 1..255 characters (lsvmload narrows UTF-16 to bytes). */
  name: string;
  data: Uint8Array;
  /** FileType; lsvmload defines only 0. */
  type?: number;
}

/** The file name lsvmload renames to `specialize` (SPEC_UNATTEND_FILENAME). */
export const SPECIALIZATION_UNATTEND_NAME = 'unattend.xml';

const S = 'SPECIALIZATION_CLEAR_DATA';
const HEADER = 8;
const ENTRY = 20;
const NAME_RE = /^[\x20-\x2e\x30-\x5b\x5d-\x7e]{1,255}$/;

/** Throws unless `name` is a name lsvmload copies faithfully and safely. */
export function checkSpecializationFileName(name: string, offset?: number): void {
  if (!NAME_RE.test(name) || name === '.' || name === '..')
    throw new FormatError(
      'SPEC_FILE_NAME',
      `"${name.slice(0, 64)}" is not a plain printable-ASCII file name`,
      {
        structure: S,
        ...(offset !== undefined ? { offset } : {}),
      },
    );
}

/** Serialises files into SPECIALIZATION_CLEAR_DATA. */
export function encodeClearData(files: SpecializationFile[]): Uint8Array {
  const w = new ByteWriter(HEADER + files.reduce((n, f) => n + ENTRY + 2 * f.name.length + f.data.length, 0));
  w.u32(0).u32(files.length);
  for (const f of files) {
    checkSpecializationFileName(f.name);
    const name = encodeUtf16le(f.name);
    w.u32(f.type ?? 0)
      .u32(name.length)
      .u32(ENTRY)
      .u32(f.data.length)
      .u32(ENTRY + name.length)
      .bytes(name)
      .bytes(f.data);
  }
  const out = w.finish();
  new DataView(out.buffer, out.byteOffset).setUint32(0, out.length, true);
  return out;
}

/** Parsed clear data. */
export interface ClearData {
  /** The Length field as stored (lsvmload does not use it; we write the total size). */
  length: number;
  files: SpecializationFile[];
}

/**
 * Parses SPECIALIZATION_CLEAR_DATA with lsvmload's bounds checks, plus: offsets must point past
 * their 20-byte entry (so every entry advances the cursor), FileCount is bounded by
 * `limits.maxFiles`, names must be plain printable ASCII.
 */
export function decodeClearData(bytes: Uint8Array, limits: Partial<ShieldingLimits> = {}): ClearData {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  const r = new ByteReader(bytes, { structure: S });
  const length = r.u32();
  const count = r.u32();
  if (count > l.maxFiles)
    throw new LimitError('SPEC_TOO_MANY_FILES', `FileCount ${count} exceeds the limit of ${l.maxFiles}`, {
      structure: S,
      offset: 4,
    });
  const files: SpecializationFile[] = [];
  let cur = HEADER;
  for (let i = 0; i < count; i++) {
    r.seek(cur);
    const type = r.u32();
    const nameSize = r.u32();
    const nameOffset = r.u32();
    const payloadSize = r.u32();
    const payloadOffset = r.u32();
    const bad = (what: string) =>
      new FormatError('SPEC_ENTRY', `entry ${i}: ${what}`, { structure: S, offset: cur });
    if (nameSize % 2 !== 0) throw bad('FileNameSize is odd');
    if (nameOffset < ENTRY || payloadOffset < ENTRY) throw bad('an offset points inside the entry');
    const nameEnd = cur + nameOffset + nameSize;
    const payloadEnd = cur + payloadOffset + payloadSize;
    if (nameEnd > bytes.length) throw bad('file name runs past the end of the data');
    if (payloadEnd > bytes.length) throw bad('payload runs past the end of the data');
    const name = decodeUtf16le(bytes.subarray(cur + nameOffset, nameEnd), { stopAtNul: false });
    checkSpecializationFileName(name, cur + nameOffset);
    if (payloadSize > l.maxSpecializationBytes) throw bad('payload exceeds the size limit');
    files.push({ name, type, data: bytes.slice(cur + payloadOffset, payloadEnd) });
    cur = Math.max(nameEnd, payloadEnd);
  }
  return { length, files };
}
