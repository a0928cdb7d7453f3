import { UsageError } from '@lsvm/core';
import { ATTR_LONG_NAME, CASE_LOWER_BASE, CASE_LOWER_EXT, DIR_ENTRY_SIZE } from './dir-entry.js';

/** Code units in one VFAT long-name entry (5 + 6 + 2). */
export const LFN_CHARS_PER_ENTRY = 13;
/** Longest long name, in UTF-16 code units (fatgen103 §7). */
export const LFN_MAX_LENGTH = 255;
/** Bit of the sequence byte marking the last (first stored) long-name entry. */
export const LFN_LAST = 0x40;

/** Offsets of the 13 UTF-16 code units inside a long-name entry. */
const CHAR_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30] as const;

/** The checksum of an 11-byte short name that every long-name entry of the set repeats (fatgen103 §7.2). */
export function lfnChecksum(shortName: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + shortName[i]!) & 0xff;
  return sum;
}

/** One parsed long-name entry. */
export interface LfnEntry {
  /** Ordinal 1…20 (without the {@link LFN_LAST} bit). */
  order: number;
  last: boolean;
  checksum: number;
  /** The 13 code units, including the 0x0000 terminator and 0xFFFF padding. */
  units: number[];
}

/** Parses the long-name entry at `offset` (caller has checked the attribute is {@link ATTR_LONG_NAME}). */
export function parseLfnEntry(bytes: Uint8Array, offset: number): LfnEntry {
  const seq = bytes[offset]!;
  const units: number[] = [];
  for (const o of CHAR_OFFSETS) units.push(bytes[offset + o]! | (bytes[offset + o + 1]! << 8));
  return { order: seq & 0x3f, last: (seq & LFN_LAST) !== 0, checksum: bytes[offset + 13]!, units };
}

/**
 * The long-name entries for `name`, in on-disk order (highest ordinal, flagged last, first), each
 * 32 bytes; the short entry follows them.
 */
export function buildLfnEntries(name: string, checksum: number): Uint8Array[] {
  const n = Math.ceil(name.length / LFN_CHARS_PER_ENTRY);
  const out: Uint8Array[] = [];
  for (let k = n; k >= 1; k--) {
    const e = new Uint8Array(DIR_ENTRY_SIZE);
    e[0] = k | (k === n ? LFN_LAST : 0);
    e[11] = ATTR_LONG_NAME;
    e[13] = checksum;
    CHAR_OFFSETS.forEach((o, i) => {
      const idx = (k - 1) * LFN_CHARS_PER_ENTRY + i;
      // After the name: one 0x0000 terminator (unless the name fills the entry), then 0xFFFF.
      const u = idx < name.length ? name.charCodeAt(idx) : idx === name.length ? 0 : 0xffff;
      e[o] = u & 0xff;
      e[o + 1] = u >> 8;
    });
    out.push(e);
  }
  return out;
}

const ILLEGAL_LONG = /[\x00-\x1f"*/:<>?\\|\x7f]/;
// Characters allowed in a short name besides A–Z and 0–9 (fatgen103 §6.1).
const SHORT_SPECIAL = "$%'-_@~`!(){}^#&";

/** Checks a long file name component; returns it with trailing dots and spaces removed, as Windows does. */
export function validateLongName(name: string): string {
  const trimmed = name.replace(/[. ]+$/, '');
  if (trimmed.length === 0 || name === '.' || name === '..') {
    throw new UsageError('FAT_BAD_NAME', `'${name}' is not a valid file name`);
  }
  if (ILLEGAL_LONG.test(trimmed)) {
    throw new UsageError('FAT_BAD_NAME', `'${name}' contains a character FAT does not allow`);
  }
  if (trimmed.length > LFN_MAX_LENGTH) {
    throw new UsageError('FAT_NAME_TOO_LONG', `'${name}' is longer than ${LFN_MAX_LENGTH} characters`);
  }
  return trimmed;
}

function isShortChar(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || SHORT_SPECIAL.includes(c);
}

function caseOf(s: string): 'lower' | 'upper' | 'none' | 'mixed' {
  const lower = s !== s.toUpperCase();
  const upper = s !== s.toLowerCase();
  return lower && upper ? 'mixed' : lower ? 'lower' : upper ? 'upper' : 'none';
}

function pack(base: string, ext: string): Uint8Array {
  const out = new Uint8Array(11).fill(0x20);
  for (let i = 0; i < base.length; i++) out[i] = base.charCodeAt(i);
  for (let i = 0; i < ext.length; i++) out[8 + i] = ext.charCodeAt(i);
  if (out[0] === 0xe5) out[0] = 0x05; // fatgen103 §6.1: 0xE5 as a first character is stored as 0x05
  return out;
}

/** How a long name maps onto directory entries. */
export interface ShortNamePlan {
  /** The 11-byte short name (without a numeric tail when {@link ShortNamePlan.needsTail}). */
  shortName: Uint8Array;
  /** DIR_NTRes case bits when no long-name entries are needed. */
  ntRes: number;
  /** True when long-name entries must be written. */
  needsLfn: boolean;
  /** True when the short name needs a `~N` tail; {@link shortNameWithTail} makes it. */
  needsTail: boolean;
  /** Basis base name (≤ 8 characters) and extension (≤ 3), upper case. */
  base: string;
  ext: string;
}

/**
 * Plans the short name of a long name (fatgen103 §7, "basis-name generation"): a name that is a
 * valid 8.3 name up to case gets no tail, and no long-name entries when its case fits the NT case
 * bits (all-lower or all-upper base, same for the extension) — what Windows and Linux vfat do.
 */
export function planShortName(longName: string): ShortNamePlan {
  const dot = longName.lastIndexOf('.');
  const rawBase = dot > 0 ? longName.slice(0, dot) : longName;
  const rawExt = dot > 0 ? longName.slice(dot + 1) : '';
  const upBase = rawBase.toUpperCase();
  const upExt = rawExt.toUpperCase();
  const fits =
    upBase.length >= 1 &&
    upBase.length <= 8 &&
    upExt.length <= 3 &&
    [...upBase].every(isShortChar) &&
    [...upExt].every(isShortChar) &&
    !(dot > 0 && rawExt.length === 0);
  if (fits) {
    const cb = caseOf(rawBase);
    const ce = caseOf(rawExt);
    const caseOk = cb !== 'mixed' && ce !== 'mixed';
    const ntRes = caseOk ? (cb === 'lower' ? CASE_LOWER_BASE : 0) | (ce === 'lower' ? CASE_LOWER_EXT : 0) : 0;
    return {
      shortName: pack(upBase, upExt),
      ntRes,
      needsLfn: !caseOk,
      needsTail: false,
      base: upBase,
      ext: upExt,
    };
  }
  // Lossy or too long: build the basis name, which always gets a numeric tail.
  const clean = (s: string): string =>
    [...s.toUpperCase().replace(/ /g, '')].map((c) => (isShortChar(c) ? c : '_')).join('');
  const stripped = longName.replace(/^\.+/, '');
  const d2 = stripped.lastIndexOf('.');
  const b = clean((d2 > 0 ? stripped.slice(0, d2) : stripped).replace(/\./g, '')).slice(0, 8);
  const e = clean(d2 > 0 ? stripped.slice(d2 + 1) : '').slice(0, 3);
  const base = b.length > 0 ? b : '_';
  return { shortName: pack(base, e), ntRes: 0, needsLfn: true, needsTail: true, base, ext: e };
}

/** The short name `BASE~N.EXT` for tail number `n` (≥ 1), the base shortened so it fits 8 characters. */
export function shortNameWithTail(plan: ShortNamePlan, n: number): Uint8Array {
  const tail = `~${n}`;
  return pack(plan.base.slice(0, 8 - tail.length) + tail, plan.ext);
}

/** Decodes an 11-byte short name for display, applying the NT case bits. */
export function decodeShortName(name: Uint8Array, ntRes: number): string {
  // Hot: every directory parse decodes every entry. Trailing spaces pad each part (fatgen103 §6.1).
  let baseEnd = 8;
  while (baseEnd > 0 && name[baseEnd - 1] === 0x20) baseEnd--;
  let extEnd = 11;
  while (extEnd > 8 && name[extEnd - 1] === 0x20) extEnd--;
  let base = '';
  for (let i = 0; i < baseEnd; i++) {
    const c = name[i]!;
    // 0x05 in the first byte stands for a real 0xE5 (which would mean "deleted").
    base += String.fromCharCode(i === 0 && c === 0x05 ? 0xe5 : c);
  }
  let ext = '';
  for (let i = 8; i < extEnd; i++) ext += String.fromCharCode(name[i]!);
  if (ntRes & CASE_LOWER_BASE) base = base.toLowerCase();
  if (ntRes & CASE_LOWER_EXT) ext = ext.toLowerCase();
  return ext.length > 0 ? `${base}.${ext}` : base;
}
