import { FormatError, UsageError, checkLimit, resolveLimits } from '@lsvm/core';
import { type CpioArchive, parseCpioArchive, resolveHardLinks, serializeCpio } from './archive.js';
import { type Compression, compress, decompressStream, detectCompression } from './compression.js';
import { type CpioEntry, S_IFDIR, S_IFMT, normalizeName } from './entry.js';
import { type CpioLimits, DEFAULT_CPIO_LIMITS } from './limits.js';
import type { CpioFormat } from './newc.js';

/** One segment of an initramfs: an uncompressed archive or a compressed stream of archives. */
export interface InitramfsSegment {
  index: number;
  /** Offset of the segment in the image (including zero padding before its first byte). */
  offset: number;
  /** Bytes of the image the segment spans, up to the next segment. */
  length: number;
  compression: Compression;
  /** The segment's bytes exactly as in the image (rebuilds copy them untouched). */
  raw: Uint8Array;
  /** The archives inside (a compressed stream may hold several), in order. */
  archives: CpioArchive[];
  /** All entries of the segment, in order. */
  entries: CpioEntry[];
  /** Bytes after decompression. */
  expandedSize: number;
}

/** A parsed initramfs image. */
export interface Initramfs {
  segments: InitramfsSegment[];
  size: number;
}

function skipZeros(b: Uint8Array, at: number): number {
  while (at < b.length && b[at] === 0) at++;
  return at;
}

/** Parses the concatenated archives of decompressed (or uncompressed) data, skipping zero padding. */
function parseArchives(data: Uint8Array, limits: CpioLimits, base: number): CpioArchive[] {
  const out: CpioArchive[] = [];
  let pos = skipZeros(data, 0);
  let entries = 0;
  while (pos < data.length) {
    try {
      const a = parseCpioArchive(data, pos, { ...limits, maxEntries: limits.maxEntries - entries });
      entries += a.entries.length;
      out.push(a);
      pos = skipZeros(data, a.end);
    } catch (e) {
      if (e instanceof FormatError && base > 0 && typeof e.offset === 'number') {
        throw new FormatError(
          e.code,
          `${e.message.replace(/ \(.*\)$/, '')} (in the segment at image offset ${base})`,
          {
            structure: e.structure ?? 'cpio',
            offset: e.offset,
            cause: e,
          },
        );
      }
      throw e;
    }
  }
  return out;
}

/**
 * Splits an initramfs into its segments and parses every archive (kernel semantics, Linux
 * Documentation/driver-api/early-userspace/buffer-format.rst): uncompressed archives follow each
 * other or compressed streams, zero padding between segments is skipped; a compressed segment
 * ends where its stream ends (concatenated gzip members, zstd frames or xz streams are one
 * segment), and anything after it is the next segment, as the kernel reads it.
 */
export async function parseInitramfs(bytes: Uint8Array, limitsIn?: Partial<CpioLimits>): Promise<Initramfs> {
  const limits = resolveLimits(DEFAULT_CPIO_LIMITS, limitsIn);
  const segments: InitramfsSegment[] = [];
  let expanded = 0;
  let entryCount = 0;
  let start = 0;
  let pos = skipZeros(bytes, 0);
  if (pos === bytes.length)
    throw new FormatError('CPIO_EMPTY', 'the image holds no archive', { structure: 'initramfs' });
  while (pos < bytes.length) {
    checkLimit(segments.length + 1, limits.maxSegments, 'CPIO_LIMIT_SEGMENTS', 'segment count', 'initramfs');
    const kind = detectCompression(bytes, pos);
    if (kind === undefined) {
      throw new FormatError(
        'CPIO_UNKNOWN_SEGMENT',
        'data is neither a cpio archive nor a known compressed stream',
        {
          structure: 'initramfs',
          offset: pos,
        },
      );
    }
    const remaining = { ...limits, maxEntries: limits.maxEntries - entryCount };
    let archives: CpioArchive[];
    let end: number;
    let expandedSize: number;
    if (kind === 'none') {
      const a = parseCpioArchive(bytes, pos, remaining);
      archives = [a];
      end = skipZeros(bytes, a.end);
      expandedSize = a.end - pos;
    } else {
      const { data, consumed } = await decompressStream(
        bytes.subarray(pos),
        kind,
        limits.maxExpandedBytes - expanded,
      );
      archives = parseArchives(data, remaining, pos);
      end = skipZeros(bytes, pos + consumed);
      expandedSize = data.length;
    }
    expanded += expandedSize;
    const entries = archives.flatMap((a) => a.entries);
    entryCount += entries.length;
    segments.push({
      index: segments.length,
      offset: start,
      length: end - start,
      compression: kind,
      raw: bytes.subarray(start, end),
      archives,
      entries,
      expandedSize,
    });
    start = end;
    pos = end;
  }
  return { segments, size: bytes.length };
}

/** One file of the merged view. */
export interface MergedEntry {
  /** Normalised path (see {@link normalizeName}). */
  path: string;
  entry: CpioEntry;
  /** Contents once unpacked (hard links resolved). */
  data: Uint8Array;
  /** Index of the segment the entry comes from. */
  segment: number;
}

/**
 * What the kernel ends up with after unpacking every segment in order: for each path, the last
 * entry that wrote it (later segments and later entries override earlier ones).
 */
export function mergedView(img: Initramfs): MergedEntry[] {
  const byPath = new Map<string, MergedEntry>();
  for (const s of img.segments) {
    for (const a of s.archives) {
      const datas = resolveHardLinks(a.entries);
      a.entries.forEach((e, i) => {
        const path = normalizeName(e.name);
        // A later directory entry only updates metadata; a later file replaces.
        byPath.delete(path);
        byPath.set(path, { path, entry: e, data: datas[i]!, segment: s.index });
      });
    }
  }
  return [...byPath.values()];
}

/** Changes {@link rebuildInitramfs} applies. */
export interface InitramfsEdits {
  /** Entries to add, or to replace (matched by normalised path) where they exist. */
  put?: CpioEntry[];
  /** Paths (normalised match) or a predicate on normalised paths: entries to remove. */
  remove?: string[] | ((path: string) => boolean);
}

/** Options of {@link rebuildInitramfs}. */
export interface RebuildOptions {
  /**
   * Where new entries go: `last` (default) rewrites the last segment with them; `append` adds a new
   * segment after it and leaves every existing segment byte-identical (removals still rewrite the
   * segments holding removed paths).
   */
  target?: 'last' | 'append';
  /**
   * Compression of rewritten and appended segments: `keep` (default: as the segment was when it
   * can be written, else none), `none`, `gzip` or `zstd`.
   */
  compression?: 'keep' | 'none' | 'gzip' | 'zstd';
  /** Format of rewritten archives: as the segment's first archive (default) or forced. */
  format?: CpioFormat;
  limits?: Partial<CpioLimits>;
}

/** What {@link rebuildInitramfs} returns. */
export interface RebuildResult {
  bytes: Uint8Array;
  /** Indexes of the segments that were rewritten or appended; every other one is byte-identical. */
  rewritten: number[];
  /** Normalised paths actually removed. */
  removed: string[];
}

/**
 * Rebuilds an initramfs with entries added, replaced and removed. Only the segments an edit
 * touches are rewritten (the last one for additions, or a new appended one; any segment holding a
 * removed path); all others are copied byte for byte, so e.g. an early microcode segment stays
 * identical.
 */
export async function rebuildInitramfs(
  img: Initramfs,
  edits: InitramfsEdits,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  if (img.segments.length === 0) throw new UsageError('CPIO_EMPTY', 'the image has no segment');
  const target = options.target ?? 'last';
  const put = edits.put ?? [];
  const removeSet = Array.isArray(edits.remove) ? new Set(edits.remove.map(normalizeName)) : undefined;
  const removeFn = typeof edits.remove === 'function' ? edits.remove : undefined;
  const shouldRemove = (p: string): boolean =>
    removeSet ? removeSet.has(p) : removeFn ? removeFn(p) : false;
  const putPaths = new Set(put.map((e) => normalizeName(e.name)));
  const lastIndex = img.segments.length - 1;
  const removed: string[] = [];
  const rewritten: number[] = [];
  const out: Uint8Array[] = [];

  const writeSegment = async (
    entries: CpioEntry[],
    original: InitramfsSegment | undefined,
  ): Promise<Uint8Array> => {
    const format = options.format ?? original?.archives[0]?.format ?? 'newc';
    const archive = serializeCpio(entries, { format });
    let kind: Compression = 'none';
    const wanted = options.compression ?? 'keep';
    if (wanted === 'gzip' || wanted === 'zstd') kind = wanted;
    else if (wanted === 'keep' && (original?.compression === 'gzip' || original?.compression === 'zstd')) {
      kind = original.compression;
    }
    const bytes = await compress(archive, kind);
    if (bytes !== archive) archive.fill(0); // may hold key material: do not leave a plain copy
    return bytes;
  };

  // The kernel parses an uncompressed archive only where it starts 4-byte aligned: when a rewritten
  // segment changed size, pad before the next one (zeros between segments are skipped).
  const align = (): void => {
    const size = out.reduce((n, b) => n + b.length, 0);
    if (size % 4 !== 0) out.push(new Uint8Array(4 - (size % 4)));
  };
  for (const s of img.segments) {
    align();
    const isTarget = target === 'last' && s.index === lastIndex && put.length > 0;
    const kept: CpioEntry[] = [];
    let changed = false;
    for (const a of s.archives) {
      for (const e of a.entries) {
        const p = normalizeName(e.name);
        if (shouldRemove(p)) {
          removed.push(p);
          changed = true;
          continue;
        }
        if (isTarget && putPaths.has(p)) {
          changed = true;
          continue; // replaced below, at its new position
        }
        kept.push(e);
      }
    }
    if (isTarget) {
      out.push(await writeSegment(orderDirectoriesFirst([...kept, ...withInodes(put, kept)]), s));
      rewritten.push(s.index);
    } else if (changed) {
      out.push(await writeSegment(kept, s));
      rewritten.push(s.index);
    } else {
      out.push(s.raw);
    }
  }
  if (target === 'append' && put.length > 0) {
    align();
    out.push(await writeSegment(orderDirectoriesFirst(withInodes(put, [])), undefined));
    rewritten.push(img.segments.length);
  }
  const total = out.reduce((n, b) => n + b.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const b of out) {
    bytes.set(b, at);
    at += b.length;
  }
  // Check the result parses before handing it out: a rebuild must never produce a broken image.
  await parseInitramfs(bytes, options.limits);
  return { bytes, rewritten, removed };
}

/** New entries get inode numbers that do not collide with the segment's (ino 0 is left as given only if unique). */
function withInodes(put: CpioEntry[], existing: CpioEntry[]): CpioEntry[] {
  let next = existing.reduce((m, e) => Math.max(m, e.ino), 0) + 1;
  return put.map((e) => ({ ...e, ino: e.ino !== 0 ? e.ino : next++, nlink: e.nlink || 1 }));
}

/**
 * Stable order in which each directory entry precedes what it contains (the kernel creates parents
 * only when their entry comes first). Entries already in a valid order keep it.
 */
function orderDirectoriesFirst(entries: CpioEntry[]): CpioEntry[] {
  const dirs = new Map<string, number>();
  entries.forEach((e, i) => {
    if ((e.mode & S_IFMT) === S_IFDIR) dirs.set(normalizeName(e.name), i);
  });
  const placed = new Set<number>();
  const out: CpioEntry[] = [];
  const place = (i: number, depth: number): void => {
    if (placed.has(i) || depth > 4096) return;
    const p = normalizeName(entries[i]!.name);
    const slash = p.lastIndexOf('/');
    if (slash > 0) {
      const parent = dirs.get(p.slice(0, slash));
      if (parent !== undefined && parent !== i) place(parent, depth + 1);
    }
    placed.add(i);
    out.push(entries[i]!);
  };
  for (let i = 0; i < entries.length; i++) place(i, 0);
  return out;
}
