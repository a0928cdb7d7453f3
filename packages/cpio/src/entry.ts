/** File type bits of `mode` (POSIX S_IFMT). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** One archive member, fields as stored. */
export interface CpioEntry {
  /** Path as stored (no leading `/`; `./` kept if present), UTF-8. */
  name: string;
  ino: number;
  /** File type and permission bits (e.g. 0o100644). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Seconds since the epoch. */
  mtime: number;
  devMajor: number;
  devMinor: number;
  /** Device numbers of a character or block device node. */
  rdevMajor: number;
  rdevMinor: number;
  /**
   * Contents: file bytes, or a symlink's target. For hard links (nlink > 1) only one member of the
   * group carries the data (GNU cpio: the last); see {@link resolveHardLinks}.
   */
  data: Uint8Array;
}

/** The kind of file an entry is, from its mode. */
export type CpioFileType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'char'
  | 'block'
  | 'fifo'
  | 'socket'
  | 'unknown';

/** The file type of a mode. */
export function fileType(mode: number): CpioFileType {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
      return 'char';
    case S_IFBLK:
      return 'block';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    default:
      return 'unknown';
  }
}

/** `ls -l`-style mode string, e.g. `-rwxr-xr-x`. */
export function modeString(mode: number): string {
  const t = {
    file: '-',
    directory: 'd',
    symlink: 'l',
    char: 'c',
    block: 'b',
    fifo: 'p',
    socket: 's',
    unknown: '?',
  }[fileType(mode)];
  const bits = 'rwxrwxrwx';
  let s = t;
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : '-';
  if (mode & 0o4000) s = `${s.slice(0, 3)}${mode & 0o100 ? 's' : 'S'}${s.slice(4)}`;
  if (mode & 0o2000) s = `${s.slice(0, 6)}${mode & 0o010 ? 's' : 'S'}${s.slice(7)}`;
  if (mode & 0o1000) s = `${s.slice(0, 9)}${mode & 0o001 ? 't' : 'T'}`;
  return s;
}

/**
 * The path an entry unpacks to, normalised the way the kernel and `cpio -i` see it: leading `/`
 * and `./` removed, `.` for the root. Used to match entries across segments.
 */
export function normalizeName(name: string): string {
  let n = name;
  while (n.startsWith('./') || n.startsWith('/')) n = n.startsWith('./') ? n.slice(2) : n.slice(1);
  n = n.replace(/\/+$/, '').replace(/\/+/g, '/');
  return n.length === 0 || n === '.' ? '.' : n;
}

/** Options for entries made by {@link fileEntry} and friends. */
export interface NewEntryOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  ino?: number;
}

function base(name: string, mode: number, data: Uint8Array, o: NewEntryOptions): CpioEntry {
  return {
    name,
    ino: o.ino ?? 0,
    mode,
    uid: o.uid ?? 0,
    gid: o.gid ?? 0,
    nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1,
    mtime: o.mtime ?? 0,
    devMajor: 0,
    devMinor: 0,
    rdevMajor: 0,
    rdevMinor: 0,
    data,
  };
}

/** A regular file entry (default mode 0100644). A mode without type bits gets S_IFREG. */
export function fileEntry(name: string, data: Uint8Array, o: NewEntryOptions = {}): CpioEntry {
  const m = o.mode ?? 0o644;
  return base(name, (m & S_IFMT) === 0 ? m | S_IFREG : m, data, o);
}

/** A directory entry (default mode 040755). */
export function directoryEntry(name: string, o: NewEntryOptions = {}): CpioEntry {
  const m = o.mode ?? 0o755;
  return base(name, (m & S_IFMT) === 0 ? m | S_IFDIR : m, new Uint8Array(0), o);
}

/** A symbolic link entry (mode 0120777); the target is the data. */
export function symlinkEntry(name: string, target: string, o: NewEntryOptions = {}): CpioEntry {
  return base(name, S_IFLNK | 0o777, new TextEncoder().encode(target), o);
}

/** A character or block device node. */
export function deviceEntry(
  name: string,
  kind: 'char' | 'block',
  major: number,
  minor: number,
  o: NewEntryOptions = {},
): CpioEntry {
  const e = base(
    name,
    (kind === 'char' ? S_IFCHR : S_IFBLK) | ((o.mode ?? 0o600) & 0o7777),
    new Uint8Array(0),
    o,
  );
  e.rdevMajor = major;
  e.rdevMinor = minor;
  return e;
}
