import { FormatError, UnsupportedError } from '@lsvm/core';

/** Size of a "newc"/"crc" header before the name. */
export const NEWC_HEADER_SIZE = 110;
/** Magic of the "newc" (SVR4, no checksum) format. */
export const NEWC_MAGIC = '070701';
/** Magic of the "crc" (SVR4 with checksum) format. */
export const CRC_MAGIC = '070702';
/** The name of the entry that ends an archive. */
export const TRAILER_NAME = 'TRAILER!!!';

/** Which of the two SVR4 ASCII formats an archive uses. */
export type CpioFormat = 'newc' | 'crc';

/**
 * The 13 fields of a newc/crc header (Linux Documentation/driver-api/early-userspace/
 * buffer-format.rst): each 8 ASCII hex digits after the 6-byte magic.
 */
export interface NewcHeader {
  format: CpioFormat;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  fileSize: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  /** Length of the name including its terminating NUL. */
  nameSize: number;
  /** The checksum field: the sum of the data bytes for "crc", 0 for "newc". */
  check: number;
}

const FIELDS = [
  'ino',
  'mode',
  'uid',
  'gid',
  'nlink',
  'mtime',
  'fileSize',
  'devMajor',
  'devMinor',
  'rdevMajor',
  'rdevMinor',
  'nameSize',
  'check',
] as const;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Parses the 110-byte header at `offset`. Throws on a bad magic or a non-hex digit. */
export function parseNewcHeader(bytes: Uint8Array, offset = 0): NewcHeader {
  if (offset + NEWC_HEADER_SIZE > bytes.length) {
    throw new FormatError('CPIO_TRUNCATED', 'archive ends inside an entry header', {
      structure: 'cpio header',
      offset,
    });
  }
  const magic = String.fromCharCode(...bytes.subarray(offset, offset + 6));
  if (magic !== NEWC_MAGIC && magic !== CRC_MAGIC) {
    if (magic === '070707') {
      throw new UnsupportedError('CPIO_ODC', 'the old portable ASCII ("odc") cpio format is not supported', {
        structure: 'cpio header',
        offset,
      });
    }
    throw new FormatError(
      'CPIO_BAD_MAGIC',
      `bad cpio magic ${JSON.stringify(magic)} (want 070701 or 070702)`,
      {
        structure: 'cpio header',
        offset,
      },
    );
  }
  const out: Record<string, number> = {};
  for (let f = 0; f < FIELDS.length; f++) {
    let v = 0;
    for (let i = 0; i < 8; i++) {
      const at = offset + 6 + f * 8 + i;
      const d = hexValue(bytes[at]!);
      if (d < 0) {
        throw new FormatError('CPIO_BAD_HEADER', `field ${FIELDS[f]} holds a non-hex character`, {
          structure: 'cpio header',
          offset: at,
        });
      }
      v = v * 16 + d;
    }
    out[FIELDS[f]!] = v;
  }
  return { format: magic === CRC_MAGIC ? 'crc' : 'newc', ...(out as Omit<NewcHeader, 'format'>) };
}

/** Serializes a header (upper-case hex, as GNU cpio and the kernel's gen_init_cpio write it). */
export function serializeNewcHeader(h: NewcHeader): Uint8Array {
  const out = new Uint8Array(NEWC_HEADER_SIZE);
  const magic = h.format === 'crc' ? CRC_MAGIC : NEWC_MAGIC;
  for (let i = 0; i < 6; i++) out[i] = magic.charCodeAt(i);
  FIELDS.forEach((f, k) => {
    const s = (h[f] >>> 0).toString(16).toUpperCase().padStart(8, '0');
    for (let i = 0; i < 8; i++) out[6 + k * 8 + i] = s.charCodeAt(i);
  });
  return out;
}

/** The "crc" format's checksum: the 32-bit sum of the data bytes (not a CRC, despite the name). */
export function newcChecksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data[i]!) >>> 0;
  return sum;
}

/** Rounds up to the 4-byte alignment newc uses for the name and the data. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}
