import { FormatError } from './errors.js';

/**
 * GUIDs as Microsoft and UEFI store them (UEFI Appendix A, MS-DTYP §2.3.4.2): the first three
 * fields little-endian, the last eight bytes as written — "mixed-endian". The API uses the
 * canonical string form; these functions convert between the two.
 */

const GUID_RE =
  /^\{?([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})\}?$/;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The all-zero GUID, which marks an unused GPT entry among other things. */
export const NIL_GUID = '00000000-0000-0000-0000-000000000000';

/** Formats 16 on-disk (mixed-endian) bytes as a canonical lower-case GUID string. */
export function guidFromBytes(b: Uint8Array, offset = 0): string {
  if (offset < 0 || offset + 16 > b.length) {
    throw new FormatError('TRUNCATED', 'GUID needs 16 bytes', { structure: 'GUID', offset });
  }
  const h = (i: number): string => HEX[b[offset + i]!]!;
  return (
    h(3) +
    h(2) +
    h(1) +
    h(0) +
    '-' +
    h(5) +
    h(4) +
    '-' +
    h(7) +
    h(6) +
    '-' +
    h(8) +
    h(9) +
    '-' +
    h(10) +
    h(11) +
    h(12) +
    h(13) +
    h(14) +
    h(15)
  );
}

/** True when `s` is a GUID string (braces optional, any case). */
export function isGuid(s: string): boolean {
  return GUID_RE.test(s);
}

/** Normalises a GUID string to lower case without braces; throws a FormatError when malformed. */
export function normalizeGuid(s: string): string {
  const m = GUID_RE.exec(s.trim());
  if (!m) throw new FormatError('BAD_GUID', `not a GUID: ${JSON.stringify(s.slice(0, 64))}`);
  return `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase();
}

/** Encodes a GUID string to its 16 on-disk (mixed-endian) bytes, into `out` at `offset` if given. */
export function guidToBytes(s: string, out: Uint8Array = new Uint8Array(16), offset = 0): Uint8Array {
  const g = normalizeGuid(s).replace(/-/g, '');
  const byte = (i: number): number => Number.parseInt(g.slice(i * 2, i * 2 + 2), 16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let i = 0; i < 16; i++) out[offset + i] = byte(order[i]!);
  return out;
}

/** Formats 16 bytes in RFC 4122 byte order (big-endian fields), as LUKS and Linux UUIDs use. */
export function uuidFromBytes(b: Uint8Array, offset = 0): string {
  if (offset < 0 || offset + 16 > b.length) {
    throw new FormatError('TRUNCATED', 'UUID needs 16 bytes', { structure: 'UUID', offset });
  }
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[offset + i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}

/** A random (version 4) GUID string, from the platform CSPRNG. */
export function randomGuid(): string {
  return globalThis.crypto.randomUUID();
}
