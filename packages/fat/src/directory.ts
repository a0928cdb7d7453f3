import {
  ATTR_DIRECTORY,
  ATTR_LONG_NAME,
  ATTR_VOLUME_ID,
  DIR_ENTRY_SIZE,
  type DirEntry,
  ENTRY_DELETED,
  ENTRY_END,
  parseDirEntry,
} from './dir-entry.js';
import { lfnChecksum, parseLfnEntry } from './lfn.js';
import { decodeShortName } from './lfn.js';

/** One live entry of a directory, long name assembled. */
export interface DirectoryItem {
  /** The long name when a valid long-name set precedes the entry, else the short name (case bits applied). */
  name: string;
  /** The 8.3 name as displayed (case bits applied). */
  shortName: string;
  /** True when {@link DirectoryItem.name} comes from long-name entries. */
  hasLongName: boolean;
  entry: DirEntry;
  /** Slot (32-byte index) of the short entry. */
  slot: number;
  /** First slot of the set (the first long-name entry, or the short entry). */
  firstSlot: number;
  isDirectory: boolean;
  /** `.` or `..`. */
  isDotEntry: boolean;
}

/** What {@link parseDirectory} returns. */
export interface ParsedDirectory {
  items: DirectoryItem[];
  /** The volume label entry of a root directory, if any. */
  volumeLabel?: { label: string; slot: number };
  /** Slot of the end marker (0x00 entry), or the slot count when the directory is full. */
  endSlot: number;
  /** Long-name entries that do not belong to a valid set (ignored, as firmware does). */
  orphanLfnSlots: number[];
}

/**
 * Parses the bytes of a directory (fatgen103 §6, §7): assembles long names whose ordinals and
 * checksum match the short entry that follows them, and ignores orphaned long-name entries the way
 * every implementation does. Stops at the first 0x00 entry.
 */
export function parseDirectory(bytes: Uint8Array): ParsedDirectory {
  const slots = Math.floor(bytes.length / DIR_ENTRY_SIZE);
  const items: DirectoryItem[] = [];
  const orphanLfnSlots: number[] = [];
  let volumeLabel: ParsedDirectory['volumeLabel'];
  let pending:
    | { start: number; count: number; checksum: number; expect: number; units: number[][] }
    | undefined;
  const dropPending = (): void => {
    if (pending) for (let i = 0; i < pending.count; i++) orphanLfnSlots.push(pending.start + i);
    pending = undefined;
  };
  let s = 0;
  for (; s < slots; s++) {
    const off = s * DIR_ENTRY_SIZE;
    const first = bytes[off]!;
    if (first === ENTRY_END) break;
    const attr = bytes[off + 11]!;
    if (first === ENTRY_DELETED) {
      dropPending();
      continue;
    }
    if ((attr & 0x3f) === ATTR_LONG_NAME) {
      const l = parseLfnEntry(bytes, off);
      if (l.last && l.order >= 1 && l.order <= 20) {
        dropPending();
        pending = { start: s, count: 1, checksum: l.checksum, expect: l.order - 1, units: [l.units] };
      } else if (pending && !l.last && l.order === pending.expect && l.checksum === pending.checksum) {
        pending.count++;
        pending.expect--;
        pending.units.push(l.units);
      } else {
        dropPending();
        orphanLfnSlots.push(s);
      }
      continue;
    }
    const entry = parseDirEntry(bytes, off);
    if (attr & ATTR_VOLUME_ID) {
      dropPending();
      if (volumeLabel === undefined && (attr & ATTR_DIRECTORY) === 0) {
        volumeLabel = { label: String.fromCharCode(...entry.name).replace(/ +$/, ''), slot: s };
      }
      continue;
    }
    const shortName = decodeShortName(entry.name, entry.ntRes);
    const isDot = entry.name[0] === 0x2e;
    let name = shortName;
    let hasLongName = false;
    let firstSlot = s;
    if (pending && pending.expect === 0 && pending.checksum === lfnChecksum(entry.name) && !isDot) {
      const units: number[] = [];
      // Stored highest ordinal first: reverse to get the name in order.
      for (let i = pending.units.length - 1; i >= 0; i--) units.push(...pending.units[i]!);
      const end = units.indexOf(0);
      const used = end >= 0 ? units.slice(0, end) : units;
      if (used.length > 0) {
        name = String.fromCharCode(...used);
        hasLongName = true;
        firstSlot = pending.start;
      }
      pending = undefined;
    } else dropPending();
    items.push({
      name: isDot ? shortName.replace(/ +$/, '') : name,
      shortName,
      hasLongName,
      entry,
      slot: s,
      firstSlot,
      isDirectory: (attr & ATTR_DIRECTORY) !== 0,
      isDotEntry: isDot,
    });
  }
  dropPending();
  return { items, ...(volumeLabel ? { volumeLabel } : {}), endSlot: s, orphanLfnSlots };
}

/**
 * Finds `count` consecutive free slots (deleted entries or past the end marker) in a directory of
 * `bytes`; returns the first slot or `undefined` when the directory must grow.
 */
export function findFreeSlots(bytes: Uint8Array, count: number): number | undefined {
  const slots = Math.floor(bytes.length / DIR_ENTRY_SIZE);
  let run = 0;
  for (let s = 0; s < slots; s++) {
    const first = bytes[s * DIR_ENTRY_SIZE]!;
    if (first === ENTRY_END) {
      // Everything from here on is free.
      const start = s - run;
      return slots - start >= count ? start : undefined;
    }
    if (first === ENTRY_DELETED) {
      if (++run === count) return s - count + 1;
    } else run = 0;
  }
  return undefined;
}

/** Upper-cases a name the way FAT compares names (case-insensitive, as UEFI firmware treats paths). */
export function foldName(name: string): string {
  return name.toUpperCase();
}
