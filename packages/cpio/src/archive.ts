import { ChecksumError, FormatError, LimitError, UsageError, checkLimit, resolveLimits } from '@lsvm/core';
import type { CpioEntry } from './entry.js';
import { S_IFDIR, S_IFMT, S_IFREG } from './entry.js';
import { DEFAULT_CPIO_LIMITS, type CpioLimits } from './limits.js';
import {
  type CpioFormat,
  NEWC_HEADER_SIZE,
  TRAILER_NAME,
  align4,
  newcChecksum,
  parseNewcHeader,
  serializeNewcHeader,
} from './newc.js';

/** One parsed archive. */
export interface CpioArchive {
  format: CpioFormat;
  entries: CpioEntry[];
  /** Offset (in the input) of the archive's first byte. */
  start: number;
  /** Offset just past the TRAILER!!! entry (its name padded to 4 bytes). */
  end: number;
}

const utf8 = new TextDecoder('utf-8');

/**
 * Parses one newc/crc archive starting at `offset`, up to and including its TRAILER!!! entry.
 * Checks every header, that each name is NUL-terminated where its size says, that data does not
 * run past the input, and for "crc" archives the checksum of every regular file.
 */
export function parseCpioArchive(bytes: Uint8Array, offset = 0, limitsIn?: Partial<CpioLimits>): CpioArchive {
  const limits = resolveLimits(DEFAULT_CPIO_LIMITS, limitsIn);
  const entries: CpioEntry[] = [];
  let pos = offset;
  let format: CpioFormat | undefined;
  for (;;) {
    if (pos >= bytes.length) {
      throw new FormatError('CPIO_NO_TRAILER', 'archive ends without a TRAILER!!! entry', {
        structure: 'cpio archive',
        offset: pos,
      });
    }
    const h = parseNewcHeader(bytes, pos);
    format ??= h.format;
    if (h.format !== format) {
      throw new FormatError('CPIO_MIXED_FORMAT', `entry uses ${h.format} inside a ${format} archive`, {
        structure: 'cpio header',
        offset: pos,
      });
    }
    if (h.nameSize === 0) {
      throw new FormatError('CPIO_BAD_NAME', 'entry name size is 0', {
        structure: 'cpio header',
        offset: pos + 94,
      });
    }
    if (h.nameSize > limits.maxNameSize) {
      throw new LimitError(
        'CPIO_LIMIT_NAME',
        `name size ${h.nameSize} exceeds the limit of ${limits.maxNameSize}`,
        {
          structure: 'cpio header',
          offset: pos + 94,
        },
      );
    }
    const nameAt = pos + NEWC_HEADER_SIZE;
    const nameEnd = nameAt + h.nameSize;
    if (nameEnd > bytes.length) {
      throw new FormatError('CPIO_TRUNCATED', 'archive ends inside an entry name', {
        structure: 'cpio name',
        offset: nameAt,
      });
    }
    const nameBytes = bytes.subarray(nameAt, nameEnd - 1);
    if (bytes[nameEnd - 1] !== 0 || nameBytes.includes(0)) {
      // The name must be exactly namesize - 1 bytes then NUL; anything else means the size lies
      // (lsvmtools' a.cpio stores 11 for the 12-byte name "etc/lsvmload").
      throw new FormatError(
        'CPIO_BAD_NAME',
        `entry name ${JSON.stringify(utf8.decode(nameBytes.subarray(0, 64)))} is not NUL-terminated at its stated size ${h.nameSize}`,
        { structure: 'cpio name', offset: nameAt },
      );
    }
    const name = utf8.decode(nameBytes);
    const dataAt = align4(nameEnd - offset) + offset;
    if (name === TRAILER_NAME) {
      return { format, entries, start: offset, end: Math.min(bytes.length, dataAt) };
    }
    checkLimit(entries.length + 1, limits.maxEntries, 'CPIO_LIMIT_ENTRIES', 'entry count', 'cpio archive');
    if (dataAt + h.fileSize > bytes.length) {
      throw new FormatError(
        'CPIO_TRUNCATED',
        `'${name}' declares ${h.fileSize} bytes of data but the archive ends first`,
        { structure: 'cpio data', offset: dataAt },
      );
    }
    if ((h.mode & S_IFMT) === S_IFDIR && h.fileSize !== 0) {
      throw new FormatError('CPIO_DIRECTORY_DATA', `directory '${name}' has ${h.fileSize} bytes of data`, {
        structure: 'cpio header',
        offset: pos,
      });
    }
    const data = bytes.slice(dataAt, dataAt + h.fileSize);
    // The checksum covers regular files only (GNU cpio writes 0 for symlinks; the kernel checks
    // regular files only).
    if (format === 'crc' && (h.mode & S_IFMT) === S_IFREG) {
      const sum = newcChecksum(data);
      if (sum !== h.check) {
        throw new ChecksumError(
          'CPIO_CHECKSUM',
          `'${name}': data checksum is ${sum.toString(16)}, the header says ${h.check.toString(16)}`,
          { structure: 'cpio data', offset: dataAt },
        );
      }
    }
    entries.push({
      name,
      ino: h.ino,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      nlink: h.nlink,
      mtime: h.mtime,
      devMajor: h.devMajor,
      devMinor: h.devMinor,
      rdevMajor: h.rdevMajor,
      rdevMinor: h.rdevMinor,
      data,
    });
    pos = align4(dataAt + h.fileSize - offset) + offset;
  }
}

/**
 * Parses a whole archive file: one archive, followed by nothing but zero padding. (An initramfs of
 * several concatenated archives is read with {@link parseInitramfs}.)
 */
export function parseCpio(bytes: Uint8Array, limits?: Partial<CpioLimits>): CpioArchive {
  const a = parseCpioArchive(bytes, 0, limits);
  for (let i = a.end; i < bytes.length; i++) {
    if (bytes[i] !== 0) {
      throw new FormatError(
        'CPIO_TRAILING_DATA',
        'non-zero data follows the TRAILER!!! entry (an initramfs of several segments? use parseInitramfs)',
        { structure: 'cpio archive', offset: i },
      );
    }
  }
  return a;
}

/** Options of {@link serializeCpio}. */
export interface SerializeCpioOptions {
  /** `newc` (default) or `crc` (checksummed). */
  format?: CpioFormat;
  /** Pad the archive with zeros to a multiple of this many bytes (GNU cpio: 512). 0 or 1: no padding. */
  blockSize?: number;
}

/**
 * Writes entries as a newc/crc archive ending with TRAILER!!!, names and data 4-byte aligned, the
 * whole padded to `blockSize` (default 512) as `cpio -o` does. Entries are written as given (hard
 * link groups keep their data on the member that has it).
 */
export function serializeCpio(entries: readonly CpioEntry[], options: SerializeCpioOptions = {}): Uint8Array {
  const format = options.format ?? 'newc';
  const blockSize = options.blockSize ?? 512;
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    size += b.length;
  };
  const pad = (): void => {
    const p = align4(size) - size;
    if (p > 0) push(new Uint8Array(p));
  };
  const write = (e: CpioEntry): void => {
    const name = enc.encode(e.name);
    if (name.includes(0))
      throw new UsageError('CPIO_BAD_NAME', `entry name ${JSON.stringify(e.name)} contains NUL`);
    if (name.length === 0) throw new UsageError('CPIO_BAD_NAME', 'entry name is empty');
    if (e.data.length > 0xffffffff)
      throw new UsageError('CPIO_TOO_LARGE', `'${e.name}' is larger than 4 GiB - 1`);
    push(
      serializeNewcHeader({
        format,
        ino: e.ino,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        nlink: e.nlink,
        mtime: e.mtime,
        fileSize: e.data.length,
        devMajor: e.devMajor,
        devMinor: e.devMinor,
        rdevMajor: e.rdevMajor,
        rdevMinor: e.rdevMinor,
        nameSize: name.length + 1,
        check: format === 'crc' && (e.mode & S_IFMT) === S_IFREG ? newcChecksum(e.data) : 0,
      }),
    );
    push(name);
    push(new Uint8Array(1));
    pad();
    if (e.data.length > 0) {
      push(e.data);
      pad();
    }
  };
  for (const e of entries) write(e);
  write({
    name: TRAILER_NAME,
    ino: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    nlink: 1,
    mtime: 0,
    devMajor: 0,
    devMinor: 0,
    rdevMajor: 0,
    rdevMinor: 0,
    data: new Uint8Array(0),
  });
  if (blockSize > 1 && size % blockSize !== 0) push(new Uint8Array(blockSize - (size % blockSize)));
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Resolves hard links: for each group of non-directory entries sharing (ino, devMajor, devMinor)
 * with nlink > 1, the data of the member that carries it. Returns, per entry index, the data the
 * file has once unpacked.
 */
export function resolveHardLinks(entries: readonly CpioEntry[]): Uint8Array[] {
  const groups = new Map<string, number[]>();
  entries.forEach((e, i) => {
    if (e.nlink > 1 && (e.mode & S_IFMT) !== S_IFDIR) {
      const k = `${e.ino}:${e.devMajor}:${e.devMinor}`;
      const g = groups.get(k);
      if (g) g.push(i);
      else groups.set(k, [i]);
    }
  });
  const out = entries.map((e) => e.data);
  for (const g of groups.values()) {
    const holder = [...g].reverse().find((i) => entries[i]!.data.length > 0);
    if (holder === undefined) continue;
    for (const i of g) out[i] = entries[holder]!.data;
  }
  return out;
}
