import { createHash } from 'node:crypto';
import {
  type BlockDevice,
  FormatError,
  type LongOperationOptions,
  UsageError,
  throwIfAborted,
  quoted,
} from '@lsvm/core';
import { CERTIFICATE_TABLE_INDEX } from './optional-header.js';
import { type PeHeaders, parsePeHeaders } from './pe-image.js';

/** Hash algorithms an Authenticode signature may use. */
export type DigestAlgorithm = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Every supported digest algorithm with its output length. */
export const DIGEST_LENGTHS: Readonly<Record<DigestAlgorithm, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/**
 * How the image is hashed.
 * - `sections`: the Authenticode specification's method, as UEFI firmware (EDK2
 *   DxeImageVerificationLib) and shim implement it — headers without CheckSum and the certificate
 *   directory entry, then each section's raw data in file order, then the bytes from
 *   `SizeOfHeaders + Σ SizeOfRawData` up to `fileSize − certificateTableSize`.
 * - `linear`: osslsigncode's method — everything from the start of the file to the certificate
 *   table (or the end), minus the same two fields. Both agree on well-formed images; they differ
 *   exactly when there is data outside the sections (gaps, overlaps, hidden bytes).
 */
export type DigestMethod = 'sections' | 'linear';

/** Options of the digest functions. */
export interface DigestOptions {
  /** Default `sha256`. */
  algorithm?: DigestAlgorithm;
  /** Default `sections`. */
  method?: DigestMethod;
  /**
   * For an unsigned image whose length is not a multiple of 8: include the zero padding to 8
   * that signing adds (sbsign, pesign, osslsigncode and signtool all pad before appending the
   * table, so the digest a signature carries covers it). Default true. Ignored for signed images
   * (their table already starts at the padded end).
   */
  padded?: boolean;
}

/** One piece of the hashed stream: a file range or a run of zero bytes (the padding). */
export type DigestSegment = { start: number; end: number } | { zeros: number };

/**
 * The ordered list of byte ranges the Authenticode digest covers, computed from the headers and
 * the file size alone (no file data), so a large image can be streamed. Throws a FormatError when
 * the headers point outside the file in a way no verifier can hash.
 */
export function digestPlan(h: PeHeaders, fileSize: number, options: DigestOptions = {}): DigestSegment[] {
  const method = options.method ?? 'sections';
  const padded = options.padded ?? true;
  const oh = h.optional;
  const structure = 'Authenticode digest';
  const segs: DigestSegment[] = [];
  const dir = oh.dataDirectories[CERTIFICATE_TABLE_INDEX];
  const certSize = dir?.size ?? 0;
  const certOffset = dir !== undefined && dir.size > 0 ? dir.virtualAddress : 0;
  const signed = certSize > 0;
  const pad = !signed && padded && fileSize % 8 !== 0 ? 8 - (fileSize % 8) : 0;
  const range = (start: number, end: number): void => {
    if (end > start) segs.push({ start, end });
  };
  // Header part: skip CheckSum (4 bytes) and, when present, the certificate directory (8 bytes).
  const ck = oh.checksumOffset;
  const headerEnd = method === 'sections' ? oh.sizeOfHeaders : signed ? certOffset : fileSize;
  if (headerEnd > fileSize) {
    throw new FormatError(
      'PE_DIGEST_RANGE',
      method === 'sections'
        ? `SizeOfHeaders ${oh.sizeOfHeaders} exceeds the file size ${fileSize}`
        : `certificate table offset ${certOffset} lies past the end of the file`,
      { structure },
    );
  }
  const dirEntry = oh.dataDirectoryOffset + CERTIFICATE_TABLE_INDEX * 8;
  const hasDirEntry = dir !== undefined;
  if (ck + 4 > headerEnd || (hasDirEntry && dirEntry + 8 > headerEnd)) {
    throw new FormatError('PE_DIGEST_RANGE', 'the hashed header range ends inside the optional header', {
      structure,
    });
  }
  range(0, ck);
  if (hasDirEntry) {
    range(ck + 4, dirEntry);
    range(dirEntry + 8, headerEnd);
  } else range(ck + 4, headerEnd);

  if (method === 'linear') {
    if (pad > 0) segs.push({ zeros: pad });
    return segs;
  }

  const sorted = h.sections
    .filter((s) => s.sizeOfRawData > 0)
    .sort((a, b) => a.pointerToRawData - b.pointerToRawData || a.index - b.index);
  let sum = oh.sizeOfHeaders;
  for (const s of sorted) {
    const end = s.pointerToRawData + s.sizeOfRawData;
    if (end > fileSize) {
      throw new FormatError(
        'PE_SECTION_PAST_EOF',
        `section ${quoted(s.name)} runs past the end of the file`,
        {
          structure,
          offset: s.headerOffset,
        },
      );
    }
    range(s.pointerToRawData, end);
    sum += s.sizeOfRawData;
  }
  // Trailing data: EDK2 and shim hash [SumOfBytesHashed, imageSize − certSize) — an offset
  // derived from sizes, which is why data between sections escapes this method.
  const imageSize = fileSize + pad;
  if (imageSize < sum + certSize) {
    throw new FormatError(
      'PE_DIGEST_RANGE',
      `headers, sections and certificate table (${sum + certSize} bytes) exceed the file size ${fileSize}`,
      { structure },
    );
  }
  const tailEnd = imageSize - certSize;
  if (tailEnd > sum) {
    const realEnd = Math.min(tailEnd, fileSize);
    range(sum, realEnd);
    if (tailEnd > realEnd) segs.push({ zeros: tailEnd - Math.max(realEnd, sum) });
  }
  return segs;
}

function checkAlgorithm(a: string): DigestAlgorithm {
  // Own keys, not `in`: `constructor` would pass and reach createHash as an algorithm name.
  if (!Object.hasOwn(DIGEST_LENGTHS, a))
    throw new UsageError('PE_DIGEST_ALGORITHM', `unsupported digest algorithm ${a}`);
  return a as DigestAlgorithm;
}

/** Authenticode digest of an image held in memory. */
export function authenticodeDigest(
  bytes: Uint8Array,
  options: DigestOptions = {},
  headers?: PeHeaders,
): Uint8Array {
  const alg = checkAlgorithm(options.algorithm ?? 'sha256');
  const h = headers ?? parsePeHeaders(bytes);
  const hash = createHash(alg);
  for (const s of digestPlan(h, bytes.length, options)) {
    if ('zeros' in s) hash.update(new Uint8Array(s.zeros));
    else hash.update(bytes.subarray(s.start, s.end));
  }
  return new Uint8Array(hash.digest());
}

/** Bytes read up front to find the headers of a streamed image (SizeOfHeaders is usually 1–4 KiB). */
const HEADER_PROBE = 64 * 1024;
const CHUNK = 8 * 1024 * 1024;

/**
 * Authenticode digest of an image on a {@link BlockDevice} (a FileDevice for large files),
 * streamed in 8 MiB reads with the next read in flight while the current chunk is hashed.
 */
export async function authenticodeDigestDevice(
  dev: BlockDevice,
  options: DigestOptions & LongOperationOptions = {},
): Promise<Uint8Array> {
  const alg = checkAlgorithm(options.algorithm ?? 'sha256');
  const probe = await dev.read(0, Math.min(dev.size, HEADER_PROBE));
  let h: PeHeaders;
  try {
    h = parsePeHeaders(probe);
  } catch (e) {
    // Headers longer than the probe (huge section tables): read SizeOfHeaders-worth and retry.
    if (!(e instanceof FormatError) || !/TRUNCATED$/.test(e.code) || dev.size <= probe.length) throw e;
    h = parsePeHeaders(await dev.read(0, Math.min(dev.size, 16 * 1024 * 1024)));
  }
  const plan = digestPlan(h, dev.size, options);
  const total = plan.reduce((n, s) => n + ('zeros' in s ? s.zeros : s.end - s.start), 0);
  const hash = createHash(alg);
  let done = 0;
  const bufs = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
  // Flatten the plan into chunk reads so reads can be pipelined across range boundaries.
  const reads: { start: number; len: number }[] = [];
  for (const s of plan) {
    if ('zeros' in s) reads.push({ start: -1, len: s.zeros });
    else
      for (let o = s.start; o < s.end; o += CHUNK) reads.push({ start: o, len: Math.min(CHUNK, s.end - o) });
  }
  const issue = (i: number): Promise<Uint8Array> | undefined => {
    const r = reads[i];
    if (r === undefined) return undefined;
    if (r.start < 0) return Promise.resolve(new Uint8Array(r.len));
    const view = bufs[i % 2]!.subarray(0, r.len);
    return dev.readInto(view, r.start).then(() => view);
  };
  let pending = issue(0);
  for (let i = 0; pending !== undefined; i++) {
    throwIfAborted(options.signal);
    const chunk = await pending;
    pending = issue(i + 1);
    hash.update(chunk);
    done += chunk.length;
    options.onProgress?.(done, total);
  }
  return new Uint8Array(hash.digest());
}

/** Every digest a report wants for one image and algorithm. */
export interface DigestReport {
  algorithm: DigestAlgorithm;
  /** The section-sorted digest a signature carries (padded when the image is unsigned). */
  digest: Uint8Array;
  /** For unsigned images whose length is not a multiple of 8: the digest without the padding. */
  unpadded?: Uint8Array;
  /** The linear (osslsigncode) digest, same padding choice as `digest`. */
  linear: Uint8Array;
  /** False when the linear and section-sorted digests differ: data lies outside the sections. */
  methodsAgree: boolean;
}

/** Computes the section-sorted (padded and unpadded) and linear digests of an in-memory image. */
export function digestReport(
  bytes: Uint8Array,
  algorithm: DigestAlgorithm = 'sha256',
  headers?: PeHeaders,
): DigestReport {
  const h = headers ?? parsePeHeaders(bytes);
  const digest = authenticodeDigest(bytes, { algorithm, padded: true }, h);
  const linear = authenticodeDigest(bytes, { algorithm, padded: true, method: 'linear' }, h);
  const out: DigestReport = {
    algorithm,
    digest,
    linear,
    methodsAgree: Buffer.from(digest).equals(Buffer.from(linear)),
  };
  const dir = h.optional.dataDirectories[CERTIFICATE_TABLE_INDEX];
  if ((dir === undefined || dir.size === 0) && bytes.length % 8 !== 0)
    out.unpadded = authenticodeDigest(bytes, { algorithm, padded: false }, h);
  return out;
}
