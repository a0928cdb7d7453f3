import { ByteReader, ChecksumError, FormatError, LimitError, crc32 } from '@lsvm/core';

/**
 * gzip (RFC 1952) through the zlib library built into Node, when there is one.
 *
 * fflate (the portable path in compression.ts) decodes at about 40 MB/s and encodes at about
 * 12 MB/s here: an inject-keys over a 76 MiB initramfs took 17 s against 6 s for the
 * `gzip -dc | cpio | gzip` pipeline. Node's zlib is the C library gzip itself is built on, so this
 * path runs at the peer's speed. Browsers (and any runtime without `node:zlib`) keep fflate.
 *
 * Members are decoded one at a time: the header is parsed here (§2.3.1), the deflate body is
 * inflated raw, and zlib reports how many input bytes the body used, so the member's end — the
 * 8-byte trailer, then maybe another member or the next initramfs segment — is known exactly, not
 * searched for. The trailer's CRC-32 and ISIZE are checked against the output (§2.3.1: "CRC32",
 * "ISIZE"). The output limit is zlib's own `maxOutputLength`, enforced while inflating, so a bomb
 * stops at the limit rather than after it has expanded.
 */

interface ZlibLike {
  inflateRawSync(
    buf: Uint8Array,
    options: { info: true; maxOutputLength: number },
  ): { buffer: Uint8Array; engine: { bytesWritten: number } };
  gzipSync(buf: Uint8Array, options: { level: number }): Uint8Array;
}

let zlibModule: ZlibLike | null | undefined;

/**
 * Chooses the gzip backend: `undefined` (the default) finds Node's zlib, `null` forces fflate.
 * For tests proving both paths agree; not exported from the package.
 */
export function setNodeZlib(z: ZlibLike | null | undefined): void {
  zlibModule = z;
}

/** Node's zlib, or null where there is none (browsers). */
export function nodeZlib(): ZlibLike | null {
  if (zlibModule === undefined) {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    zlibModule = (proc?.getBuiltinModule?.('node:zlib') as ZlibLike | undefined) ?? null;
  }
  return zlibModule;
}

/** The largest Buffer node allocates (zlib's `maxOutputLength` must not exceed it). */
const MAX_BUFFER: number =
  (
    (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.(
      'node:buffer',
    ) as { constants?: { MAX_LENGTH?: number } } | undefined
  )?.constants?.MAX_LENGTH ?? 2 ** 31 - 1;
/** gzip members per stream: real initramfs segments have one (pigz and gzip alike). */
const MAX_MEMBERS = 1 << 16;

const FTEXT = 1;
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

function corrupt(why: string, offset: number): FormatError {
  return new FormatError('CPIO_DECOMPRESS', `gzip data is corrupt: ${why}`, {
    structure: 'gzip stream',
    offset,
  });
}

/**
 * The offset of the deflate body of the member whose header starts at `p` (RFC 1952 §2.3.1). A
 * header running past the input is a `TRUNCATED` FormatError from the reader.
 */
function memberBody(data: Uint8Array, p: number): number {
  const r = new ByteReader(data, { structure: 'gzip member header', offset: p });
  if (r.u8() !== 0x1f || r.u8() !== 0x8b) throw corrupt('no gzip magic (1f 8b)', p);
  const cm = r.u8();
  if (cm !== 8) throw corrupt(`compression method ${cm} is not deflate (8)`, p + 2);
  const flg = r.u8();
  // Reserved bits must be zero; gzip refuses such a member, and so do we.
  if (flg & ~(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT)) throw corrupt('reserved header flags set', p + 3);
  r.skip(6); // MTIME, XFL, OS
  if (flg & FEXTRA) r.skip(r.u16());
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flg & flag)) continue;
    while (r.u8() !== 0); // up to and including the terminating zero
  }
  if (flg & FHCRC) r.skip(2);
  return r.pos;
}

/**
 * Decodes the gzip member(s) at the start of `data` with zlib. Returns the output chunks (one per
 * member) and the input bytes they occupy. `maxBytes` bounds the total output.
 * @throws LimitError `CPIO_LIMIT_EXPANDED` past `maxBytes`; FormatError `CPIO_DECOMPRESS` on corrupt or
 *   truncated data; ChecksumError `CPIO_GZIP_CRC` when a trailer does not match.
 */
export function gunzipMembers(
  zlib: ZlibLike,
  data: Uint8Array,
  maxBytes: number,
): { chunks: Uint8Array[]; consumed: number } {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let p = 0;
  let member = 0;
  // As `gzip -d`: members follow each other; anything else after a member ends the stream.
  while (member === 0 || (p + 2 <= data.length && data[p] === 0x1f && data[p + 1] === 0x8b)) {
    member++;
    // Empty members cost no output but a zlib call each: bound them like the output.
    if (member > MAX_MEMBERS) {
      throw new LimitError('CPIO_LIMIT_MEMBERS', `more than ${MAX_MEMBERS} gzip members in one segment`, {
        structure: 'gzip stream',
        offset: p,
      });
    }
    const body = memberBody(data, p);
    let out: Uint8Array;
    let used: number;
    try {
      const r = zlib.inflateRawSync(data.subarray(body), {
        info: true,
        // One byte past what is allowed: reaching it is the bomb.
        // …but never past what one Buffer can hold (zlib refuses the option above it); a member
        // that large exceeds any sensible limit anyway and fails as one.
        maxOutputLength: Math.max(1, Math.min(maxBytes - total + 1, MAX_BUFFER)),
      });
      out = r.buffer;
      used = r.engine.bytesWritten;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        throw new LimitError(
          'CPIO_LIMIT_EXPANDED',
          `decompressed data exceeds the limit of ${maxBytes} bytes`,
          {
            structure: 'initramfs segment',
          },
        );
      }
      const why = code === 'Z_BUF_ERROR' ? 'the deflate data is truncated' : (e as Error).message;
      throw new FormatError('CPIO_DECOMPRESS', `gzip data is corrupt: member ${member}: ${why}`, {
        structure: 'gzip stream',
        offset: body,
        cause: e,
      });
    }
    total += out.length;
    if (total > maxBytes) {
      throw new LimitError(
        'CPIO_LIMIT_EXPANDED',
        `decompressed data exceeds the limit of ${maxBytes} bytes`,
        {
          structure: 'initramfs segment',
        },
      );
    }
    const trailer = body + used;
    const t = new ByteReader(data, { structure: 'gzip trailer', offset: trailer });
    if (t.u32() !== crc32(out) || t.u32() !== out.length >>> 0) {
      throw new ChecksumError(
        'CPIO_GZIP_CRC',
        `gzip member ${member}: CRC-32 or length does not match its trailer`,
        {
          structure: 'gzip trailer',
          offset: trailer,
        },
      );
    }
    chunks.push(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    p = trailer + 8;
  }
  return { chunks, consumed: p };
}
