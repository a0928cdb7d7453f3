import {
  type BlockDevice,
  FormatError,
  IoError,
  LimitError,
  UsageError,
  checkLimit,
  resolveLimits,
} from '@lsvm/core';
import {
  type BootSector,
  type FatGeometry,
  type FatType,
  fatGeometry,
  parseBootSector,
} from './boot-sector.js';
import {
  ATTR_ARCHIVE,
  ATTR_DIRECTORY,
  ATTR_LONG_NAME,
  ATTR_VOLUME_ID,
  DIR_ENTRY_SIZE,
  type DirEntry,
  ENTRY_DELETED,
  fromFatTimestamp,
  parseDirEntry,
  serializeDirEntry,
  toFatTimestamp,
} from './dir-entry.js';
import {
  type DirectoryItem,
  type ParsedDirectory,
  findFreeSlots,
  foldName,
  parseDirectory,
} from './directory.js';
import { FatTable } from './fat-table.js';
import { type FsInfo, parseFsInfo, serializeFsInfo } from './fsinfo.js';
import {
  buildLfnEntries,
  decodeShortName,
  lfnChecksum,
  planShortName,
  shortNameWithTail,
  validateLongName,
} from './lfn.js';
import { DEFAULT_FAT_LIMITS, type FatLimits } from './limits.js';
import { joinPath, splitPath } from './path.js';
import { StagedData } from './staged-data.js';
import { type PendingWrite, writePhase } from './write-phase.js';

/** Options of {@link FatFileSystem.open}. */
export interface FatOpenOptions {
  /** Open without ever writing, even when the device is writable. */
  readOnly?: boolean;
  limits?: Partial<FatLimits>;
  /** Clock for timestamps (tests pass a fixed one). */
  now?: () => Date;
  /**
   * Bytes of new-file data held in memory before the staged changes are written out (default
   * 8 MiB, at most 1 GiB; see {@link FatFileSystem} for what is staged). `0` writes every change
   * through before the call returns.
   */
  writeBackBytes?: number;
  /**
   * Flush the device after every phase of writes (see {@link FatFileSystem}), so the write order
   * holds across a power loss too, not only a crash of the process. Costs a device flush (fsync)
   * per phase: about three per write-out. Default: off.
   */
  barriers?: boolean;
}

/** What {@link FatFileSystem.stat} and {@link FatFileSystem.list} return. */
export interface FatStat {
  /** Name as listed: the long name when there is one. */
  name: string;
  /** The 8.3 name (case bits applied); `''` for the root. */
  shortName: string;
  /** Canonical path, `/`-separated, with the names as stored. */
  path: string;
  isDirectory: boolean;
  /** Bytes (0 for directories). */
  size: number;
  /** First cluster (0 for an empty file; the root cluster or 0 for the root). */
  firstCluster: number;
  /** Attribute byte (read-only, hidden, system, directory, archive). */
  attributes: number;
  modified?: Date;
  created?: Date;
  /** Last access (a date only in FAT). */
  accessed?: Date;
}

/** Options of {@link FatFileSystem.flush} and {@link FatFileSystem.close}. */
export interface FatFlushOptions {
  /** Flush the device (fsync) once everything is written (default `true`). */
  sync?: boolean;
}

/** Options of {@link FatFileSystem.writeFile}. */
export interface FatWriteOptions {
  /** Create missing parent directories (like `mkdir -p`). */
  createParents?: boolean;
  /** Modification time to record (default: the clock). */
  mtime?: Date;
  /** Attribute bits to set besides ARCHIVE (e.g. read-only). */
  attributes?: number;
}

/** Lookup tables of one parse of a directory. */
interface DirIndex {
  /** Folded long and short names → the first item bearing them (dot entries left out). */
  byName: Map<string, DirectoryItem>;
  /** The 11-byte short names in use, as strings. */
  shortNames: Set<string>;
  /**
   * Per basis name (`BASE.EXT`), the `~N` tail to try first: the one after the last given out, so
   * filling a directory with names sharing a basis does not probe ~1, ~2, … again each time.
   */
  nextTail: Map<string, number>;
}

/** Adds an item (the last in directory order so far) to an index. */
function indexItem(index: DirIndex, item: DirectoryItem): void {
  index.shortNames.add(String.fromCharCode(...item.entry.name));
  if (item.isDotEntry) return;
  // The first item matching by long or short name wins, as a scan in directory order finds.
  const long = foldName(item.name);
  if (!index.byName.has(long)) index.byName.set(long, item);
  const short = foldName(item.shortName);
  if (!index.byName.has(short)) index.byName.set(short, item);
}

/** A loaded directory: its bytes and where they live. */
interface Dir {
  /** Cluster of the directory, 0 for a FAT12/16 fixed root (as `..` entries record the root). */
  cluster: number;
  /** Clusters of the chain, empty for a fixed root. */
  clusters: number[];
  bytes: Uint8Array;
  parsed: ParsedDirectory;
  /** Folded path components (for move-into-self checks). */
  path: string[];
}

const CLEAN_16 = 0x8000;
const CLEAN_32 = 0x08000000;
/** Default of {@link FatOpenOptions.writeBackBytes}. */
const DEFAULT_WRITE_BACK_BYTES = 8 << 20;
/** Largest {@link FatOpenOptions.writeBackBytes}: staged data is one buffer per run in memory. */
const MAX_WRITE_BACK_BYTES = 1 << 30;
/** File data at least this large goes straight to the device instead of being staged. */
const DIRECT_DATA_BYTES = 1 << 20;
/** Directories with staged changes at which those are written out. */
const MAX_DIRTY_DIRS = 128;

/**
 * A FAT12/16/32 file system on a {@link BlockDevice}. Paths are case-insensitive as UEFI firmware
 * treats them, `/` or `\` separated.
 *
 * Write order (the crash-safety guarantee): changes reach the device in phases, each issued only
 * once every write of the one before has completed — new-file data together with the dirty FAT
 * sectors of every copy (nothing on the device names those clusters yet), then the changed
 * directory sectors (the commit point), then, for a change that releases clusters (replace,
 * remove), the FAT sectors freeing them. At {@link FatFileSystem.flush} / `close`, FSInfo and the
 * clean bit of FAT[1] come last, then the device is flushed. A crash of the process at any
 * moment therefore leaves at worst lost clusters (and, for an entry set straddling two directory
 * clusters, orphaned long-name entries, which every reader ignores); a move to another
 * directory, or a rename within one whose old and new entry sets lie in different sectors, can
 * leave the entry in both for a moment (new entry first), and a replace that must
 * reuse the file's own chain for lack of space can leave that file mixed. The order is that of
 * the writes handed to the device: the OS may write its cache back in another order, so across a
 * power loss it holds only with {@link FatOpenOptions.barriers} (a device flush after each phase);
 * without, what a completed `flush()` made durable is. The clusters a directory grows into are
 * zeroed on the device before the phase that links them.
 *
 * A device write that fails during a write-out leaves the file system failed: the staged changes
 * it was writing are gone from memory, so every later flush, close, write-back or change throws
 * `FAT_FAILED` (reopen the image). A change issued after `close()` was called throws `FAT_CLOSED`.
 *
 * Write-back: creating files and directories only allocates, so those changes are staged in
 * memory and written out together (as the phases above) at `flush()` / `close()`, at
 * {@link FatFileSystem.writeBack}, when the staged data passes
 * {@link FatOpenOptions.writeBackBytes} (8 MiB), before a replace, remove or rename (which write
 * their own changes out before they return), and before a read of file data. File data of 1 MiB
 * or more goes to the device at once — into clusters the on-disk FAT still calls free, which is
 * safe at any moment. Reads through this object always see every change.
 */
export class FatFileSystem {
  readonly device: BlockDevice;
  readonly bootSector: BootSector;
  readonly geometry: FatGeometry;
  /** The FAT in memory (copy 0, or the active copy when mirroring is off). */
  readonly fat: FatTable;
  readonly readOnly: boolean;
  readonly limits: FatLimits;
  private fsInfo: FsInfo | undefined;
  /** The FSInfo sector as read at open (its other bytes are kept when FSInfo is rewritten). */
  private fsInfoSector: Uint8Array | undefined;
  private freeCount: number | undefined;
  private nextFree: number;
  private readonly now: () => Date;
  private closed = false;
  /**
   * Set synchronously by {@link FatFileSystem.close}: a change issued once close() has been called
   * is refused (it would be queued after the final write-out and never reach the device).
   */
  private closing = false;
  /**
   * The error of a write-out that failed. What it was writing had been taken from memory, so the
   * device may lack changes this object reported done: every later flush, close or change throws
   * `FAT_FAILED` instead of pretending (and the clean bit is never set again).
   */
  private failure: unknown = undefined;
  /**
   * Directories created since the last write-out: their cluster is only in the staged data, so
   * the cache must keep them (reading them from the device would find stale bytes).
   */
  private readonly unwrittenDirs = new Set<Dir>();
  /** True once a mutation cleared the clean bit, until {@link FatFileSystem.flush}. */
  private dirty = false;
  /** Directories read so far, by first cluster (0: the FAT12/16 root); we are their only writer. */
  private readonly dirCache = new Map<number, Dir>();
  /** {@link FatFileSystem.dirIndex} per parse (a new parse gets a new index). */
  private readonly indexes = new WeakMap<ParsedDirectory, DirIndex>();
  /** Tail of the queue of changes (see {@link FatFileSystem.mutate}). */
  private queue: Promise<unknown> = Promise.resolve();
  /** See {@link FatOpenOptions.writeBackBytes}. */
  private readonly writeBackBytes: number;
  /** See {@link FatOpenOptions.barriers}. */
  private readonly barriers: boolean;
  /** New-file data not yet written (into clusters free on disk). */
  private readonly stagedData = new StagedData();
  /** Directories whose slots `[from, to)` changed in memory since the last write-out. */
  private readonly dirtyDirs = new Map<Dir, { from: number; to: number }>();
  /**
   * Set by a change that must be written through (replace, remove, rename): it writes out what
   * was staged before it starts, and its own changes before it returns.
   */
  private writeThrough = false;
  /**
   * Set by {@link FatFileSystem.beginWriteThrough}: the running change may leave its directories
   * half edited in memory when it fails (a rename drops the old entry before adding the new).
   */
  private mayTear = false;

  private constructor(
    device: BlockDevice,
    bs: BootSector,
    geo: FatGeometry,
    fat: FatTable,
    fsInfo: { info: FsInfo; sector: Uint8Array } | undefined,
    options: FatOpenOptions,
    limits: FatLimits,
  ) {
    this.device = device;
    this.bootSector = bs;
    this.geometry = geo;
    this.fat = fat;
    this.fsInfo = fsInfo?.info;
    this.fsInfoSector = fsInfo?.sector;
    this.readOnly = device.readOnly || (options.readOnly ?? false);
    this.limits = limits;
    this.now = options.now ?? (() => new Date());
    const wb = options.writeBackBytes ?? DEFAULT_WRITE_BACK_BYTES;
    if (!Number.isSafeInteger(wb) || wb < 0 || wb > MAX_WRITE_BACK_BYTES) {
      throw new UsageError(
        'FAT_BAD_OPTION',
        `writeBackBytes must be a byte count from 0 to ${MAX_WRITE_BACK_BYTES}, not ${wb}`,
      );
    }
    this.writeBackBytes = wb;
    this.barriers = options.barriers ?? false;
    this.nextFree =
      this.fsInfo && this.fsInfo.nextFree >= 2 && this.fsInfo.nextFree <= geo.clusterCount + 1
        ? this.fsInfo.nextFree
        : 2;
  }

  /** Opens the FAT volume on `device`, validating the boot sector and reading the FAT. */
  static async open(device: BlockDevice, options: FatOpenOptions = {}): Promise<FatFileSystem> {
    const limits = resolveLimits(DEFAULT_FAT_LIMITS, options.limits);
    if (device.size < 512) {
      throw new FormatError('FAT_TOO_SMALL', `a ${device.size}-byte device cannot hold a FAT volume`);
    }
    const bs = parseBootSector(await device.read(0, 512));
    const geo = fatGeometry(bs);
    const volumeBytes = geo.totalSectors * geo.bytesPerSector;
    if (volumeBytes > device.size) {
      throw new FormatError(
        'FAT_DEVICE_TOO_SMALL',
        `the boot sector describes ${volumeBytes} bytes but the device holds ${device.size}`,
        { structure: 'FAT boot sector' },
      );
    }
    const fatBytes = geo.fatSectors * geo.bytesPerSector;
    checkLimit(fatBytes, limits.maxFatBytes, 'FAT_LIMIT_FAT_SIZE', 'FAT size', 'FAT');
    // With mirroring off (FAT32 BPB_ExtFlags bit 7), only the active copy is meaningful.
    const mirrored = !(geo.type === 32 && bs.extFlags & 0x80);
    const active = mirrored ? 0 : bs.extFlags & 0x0f;
    if (active >= geo.numFats) {
      throw new FormatError('FAT_ACTIVE_FAT', `active FAT ${active} does not exist`, {
        structure: 'FAT boot sector',
      });
    }
    const fatOffset = (geo.firstFatSector + active * geo.fatSectors) * geo.bytesPerSector;
    const fat = new FatTable(
      geo.type,
      await device.read(fatOffset, fatBytes),
      geo.clusterCount,
      geo.bytesPerSector,
    );
    let fsInfo: { info: FsInfo; sector: Uint8Array } | undefined;
    if (
      geo.type === 32 &&
      bs.fsInfoSector !== 0 &&
      bs.fsInfoSector !== 0xffff &&
      bs.fsInfoSector < bs.reservedSectors
    ) {
      try {
        const sector = await device.read(
          bs.fsInfoSector * geo.bytesPerSector,
          Math.max(512, geo.bytesPerSector),
        );
        fsInfo = { info: parseFsInfo(sector.subarray(0, 512)), sector };
      } catch (e) {
        // A damaged FSInfo is only a hint lost: fsck.fat rebuilds it too. Keep going without it.
        if (!(e instanceof FormatError)) throw e;
      }
    }
    return new FatFileSystem(device, bs, geo, fat, fsInfo, options, limits);
  }

  /** FAT12, FAT16 or FAT32. */
  get type(): FatType {
    return this.geometry.type;
  }

  /** The label in the boot sector (the root directory's label entry wins in {@link FatFileSystem.label}). */
  get volumeId(): number {
    return this.bootSector.volumeId;
  }

  /** The volume label: the root directory's label entry, else the boot sector's, `''` for NO NAME. */
  async label(): Promise<string> {
    const root = await this.loadDir(this.rootCluster(), []);
    const l = root.parsed.volumeLabel?.label ?? this.bootSector.volumeLabel;
    return l === 'NO NAME' ? '' : l;
  }

  /** Free space in bytes. */
  freeBytes(): number {
    return this.getFreeCount() * this.geometry.clusterSize;
  }

  /** Total data space in bytes. */
  get totalBytes(): number {
    return this.geometry.clusterCount * this.geometry.clusterSize;
  }

  // ───────────────────────── reading ─────────────────────────

  /** Metadata of the file or directory at `path` (`/` is the root). */
  async stat(path: string): Promise<FatStat> {
    const parts = splitPath(path);
    if (parts.length === 0) return this.rootStat();
    const { dir, item } = await this.resolve(parts);
    return this.toStat(item, this.displayPath(dir, item));
  }

  /** True when `path` names an existing file or directory. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.stat(path);
      return true;
    } catch (e) {
      if (e instanceof UsageError && e.code === 'FAT_NOT_FOUND') return false;
      throw e;
    }
  }

  /** The entries of the directory at `path`, without `.` and `..`, in directory order. */
  async list(path = '/'): Promise<FatStat[]> {
    const dir = await this.openDirByPath(splitPath(path));
    const base = dir.displayPath;
    return dir.dir.parsed.items
      .filter((i) => !i.isDotEntry)
      .map((i) => this.toStat(i, base === '/' ? `/${i.name}` : `${base}/${i.name}`));
  }

  /** The contents of the file at `path`. */
  async readFile(path: string): Promise<Uint8Array> {
    const { item } = await this.resolve(splitPath(path));
    if (item.isDirectory) throw new UsageError('FAT_IS_DIRECTORY', `'${path}' is a directory`);
    return this.readItem(item);
  }

  /**
   * Every file and directory below `path` (depth first, parents before children), bounded by the
   * depth and entry-count limits.
   */
  async *walk(path = '/'): AsyncGenerator<FatStat> {
    const start = await this.openDirByPath(splitPath(path));
    let total = 0;
    // A directory entry pointing back at an ancestor (or anywhere already seen) would make the walk
    // endless on a hostile image.
    const seen = new Set<number>([start.dir.cluster]);
    const stack: { dir: Dir; display: string; depth: number }[] = [
      { dir: start.dir, display: start.displayPath, depth: 0 },
    ];
    while (stack.length > 0) {
      const { dir, display, depth } = stack.pop()!;
      const children: { dir: Dir; display: string; depth: number }[] = [];
      for (const item of dir.parsed.items) {
        if (item.isDotEntry) continue;
        checkLimit(
          ++total,
          this.limits.maxTotalEntries,
          'FAT_LIMIT_ENTRIES',
          'total directory entries',
          'FAT',
        );
        const p = display === '/' ? `/${item.name}` : `${display}/${item.name}`;
        yield this.toStat(item, p);
        if (item.isDirectory) {
          checkLimit(depth + 1, this.limits.maxDepth, 'FAT_LIMIT_DEPTH', 'directory depth', 'FAT');
          if (item.entry.firstCluster === 0) {
            throw new FormatError('FAT_BAD_DIRECTORY', `directory '${p}' has no cluster`, {
              structure: 'FAT directory',
            });
          }
          if (seen.has(item.entry.firstCluster)) {
            throw new FormatError(
              'FAT_DIRECTORY_LOOP',
              `directory '${p}' points at a directory already visited`,
              {
                structure: 'FAT directory',
              },
            );
          }
          seen.add(item.entry.firstCluster);
          const sub = await this.loadDir(item.entry.firstCluster, [...dir.path, foldName(item.name)]);
          children.push({ dir: sub, display: p, depth: depth + 1 });
        }
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }

  /**
   * Reads the directory whose first cluster is `cluster` (0 or the root cluster: the root). Low
   * level: the checker uses it.
   */
  async readDirectory(cluster: number): Promise<ParsedDirectory> {
    return (await this.loadDir(cluster, [])).parsed;
  }

  /** Reads the bytes of a file entry's chain, at most `entry.fileSize` of them. Low level. */
  async readItem(item: DirectoryItem): Promise<Uint8Array> {
    const size = item.entry.fileSize;
    checkLimit(size, this.limits.maxFileSize, 'FAT_LIMIT_FILE_SIZE', 'file size', 'FAT');
    const out = new Uint8Array(size);
    if (size === 0) return out;
    // Staged data is read from the device like the rest: write it out first.
    if (!this.stagedData.empty) await this.writeBack();
    const cs = this.geometry.clusterSize;
    const need = Math.ceil(size / cs);
    const chain = this.fat.chain(item.entry.firstCluster);
    if (chain.length < need) {
      throw new FormatError(
        'FAT_CHAIN_SHORT',
        `'${item.name}' is ${size} bytes but its cluster chain has only ${chain.length} clusters`,
        { structure: 'FAT' },
      );
    }
    await this.readClusters(chain.slice(0, need), out);
    return out;
  }

  // ───────────────────────── writing ─────────────────────────

  /** Creates or replaces the file at `path` with `data`. */
  async writeFile(path: string, data: Uint8Array, options: FatWriteOptions = {}): Promise<FatStat> {
    this.checkWritable();
    const parts = splitPath(path);
    if (parts.length === 0) throw new UsageError('FAT_BAD_PATH', 'cannot write to the root directory itself');
    const name = validateLongName(parts[parts.length - 1]!);
    if (data.length > 0xffffffff)
      throw new LimitError('FAT_FILE_TOO_LARGE', 'FAT files are limited to 4 GiB - 1 bytes');
    return this.mutate(async () => {
      const dir = options.createParents
        ? await this.ensureDirs(parts.slice(0, -1))
        : (await this.openDirByPath(parts.slice(0, -1))).dir;
      const existing = this.findItem(dir, name);
      if (existing?.isDirectory) throw new UsageError('FAT_IS_DIRECTORY', `'${path}' is a directory`);
      // A replace releases clusters: it is written through (see the class comment).
      if (existing) await this.beginWriteThrough();
      const cs = this.geometry.clusterSize;
      const need = Math.ceil(data.length / cs);
      const oldChain =
        existing && existing.entry.firstCluster !== 0 ? this.fat.chain(existing.entry.firstCluster) : [];
      // Copy-on-write when there is room (the old contents stay intact until the entry switches);
      // otherwise reuse the old chain, growing or shrinking it.
      let chain: number[];
      let cow = true;
      try {
        chain = this.allocate(need);
      } catch (e) {
        if (!(e instanceof LimitError) || oldChain.length === 0) throw e;
        cow = false;
        chain = this.resizeChain(oldChain, need);
      }
      if (chain.length > 0) await this.writeClusters(chain, data);
      const ts = toFatTimestamp(options.mtime ?? this.now());
      const today = toFatTimestamp(this.now());
      if (existing) {
        const e: DirEntry = {
          ...existing.entry,
          firstCluster: chain[0] ?? 0,
          fileSize: data.length,
          writeDate: ts.date,
          writeTime: ts.time,
          accessDate: today.date,
          attr: existing.entry.attr | ATTR_ARCHIVE | (options.attributes ?? 0),
        };
        serializeDirEntry(e, dir.bytes, existing.slot * DIR_ENTRY_SIZE);
        this.stageDirSlots(dir, existing.slot, 1);
        // Data, FAT, then the entry switch (the commit point); the old chain is freed after it.
        await this.writeOut();
        if (cow && oldChain.length > 0) this.freeClusters(oldChain);
      } else {
        const now = toFatTimestamp(this.now());
        await this.releaseOnFailure(chain, () =>
          this.addEntry(dir, name, {
            attr: ATTR_ARCHIVE | (options.attributes ?? 0),
            createTenth: now.tenth,
            createTime: now.time,
            createDate: now.date,
            accessDate: now.date,
            firstCluster: chain[0] ?? 0,
            writeTime: ts.time,
            writeDate: ts.date,
            fileSize: data.length,
          }),
        );
      }
      return this.stat(path);
    });
  }

  /** Creates a directory (with `.` and `..`); with `parents`, creates missing ancestors and accepts an existing one. */
  async mkdir(path: string, options: { parents?: boolean } = {}): Promise<FatStat> {
    this.checkWritable();
    const parts = splitPath(path);
    if (parts.length === 0) {
      if (options.parents) return this.rootStat();
      throw new UsageError('FAT_EXISTS', "'/' already exists");
    }
    return this.mutate(async () => {
      if (options.parents) {
        await this.ensureDirs(parts);
      } else {
        const parent = (await this.openDirByPath(parts.slice(0, -1))).dir;
        const name = validateLongName(parts[parts.length - 1]!);
        if (this.findItem(parent, name)) throw new UsageError('FAT_EXISTS', `'${path}' already exists`);
        await this.createDir(parent, name);
      }
      return this.stat(path);
    });
  }

  /** Removes a file or an empty directory. */
  async remove(path: string): Promise<void> {
    this.checkWritable();
    const parts = splitPath(path);
    if (parts.length === 0) throw new UsageError('FAT_BAD_PATH', 'cannot remove the root directory');
    await this.mutate(async () => {
      const { dir, item } = await this.resolve(parts);
      await this.beginWriteThrough();
      let chain: number[] = [];
      if (item.entry.firstCluster !== 0) chain = this.fat.chain(item.entry.firstCluster);
      if (item.isDirectory) {
        const sub = await this.loadDir(item.entry.firstCluster, []);
        if (sub.parsed.items.some((i) => !i.isDotEntry)) {
          throw new UsageError('FAT_NOT_EMPTY', `directory '${path}' is not empty`);
        }
      }
      // The entry goes first (the commit point), then its clusters are freed.
      this.markDeleted(dir, item);
      if (item.isDirectory) this.dirCache.delete(item.entry.firstCluster);
      this.stageDirSlots(dir, item.firstSlot, item.slot - item.firstSlot + 1);
      await this.writeOut();
      this.freeClusters(chain);
    });
  }

  /**
   * Renames or moves a file or directory. The target must not exist, except when it names the same
   * entry (a change of case). Moving a directory rewrites its `..` entry.
   */
  async rename(from: string, to: string): Promise<FatStat> {
    this.checkWritable();
    const src = splitPath(from);
    const dst = splitPath(to);
    if (src.length === 0 || dst.length === 0)
      throw new UsageError('FAT_BAD_PATH', 'cannot rename the root directory');
    const newName = validateLongName(dst[dst.length - 1]!);
    return this.mutate(async () => {
      await this.beginWriteThrough();
      const { dir: srcDir, item } = await this.resolve(src);
      const dstDir = (await this.openDirByPath(dst.slice(0, -1))).dir;
      const clash = this.findItem(dstDir, newName);
      const sameDir = srcDir.cluster === dstDir.cluster;
      if (clash && !(sameDir && clash.slot === item.slot)) {
        throw new UsageError('FAT_EXISTS', `'${to}' already exists`);
      }
      if (item.isDirectory) {
        const folded = [...srcDir.path, foldName(item.name)];
        const into = dstDir.path;
        if (into.length >= folded.length && folded.every((p, i) => into[i] === p)) {
          throw new UsageError('FAT_BAD_PATH', `cannot move '${from}' into itself`);
        }
      }
      const { name: _n, ntRes: _r, ...rest } = item.entry;
      if (sameDir && this.renamesInOneSector(srcDir, item, newName)) {
        // The old and the new entry set share one sector: drop the old slots in memory, add the
        // new set, and one sector write switches them.
        this.markDeleted(srcDir, item);
        srcDir.parsed = parseDirectory(srcDir.bytes);
        await this.addEntry(srcDir, newName, rest, { alsoStage: item });
      } else if (sameDir) {
        // In two sectors no single write switches them, and a crash must not land the delete
        // without the add (the file would be lost): the new entry set first, then the old one
        // goes. A crash in between leaves the file listed twice (a cross-link, as a move can).
        await this.addEntry(srcDir, newName, rest);
        await this.writeOut();
        this.markDeleted(srcDir, item);
        this.stageDirSlots(srcDir, item.firstSlot, item.slot - item.firstSlot + 1);
        await this.writeOut();
      } else {
        // The new entry first, then the old one goes, then the moved directory's `..`.
        await this.addEntry(dstDir, newName, rest);
        await this.writeOut();
        this.markDeleted(srcDir, item);
        this.stageDirSlots(srcDir, item.firstSlot, item.slot - item.firstSlot + 1);
        await this.writeOut();
        if (item.isDirectory) {
          const sub = await this.loadDir(item.entry.firstCluster, []);
          const dotdot = sub.parsed.items.find((i) => i.isDotEntry && i.entry.name[1] === 0x2e);
          if (dotdot) {
            serializeDirEntry(
              { ...dotdot.entry, firstCluster: this.dotDotCluster(dstDir) },
              sub.bytes,
              dotdot.slot * DIR_ENTRY_SIZE,
            );
            this.stageDirSlots(sub, dotdot.slot, 1);
          }
        }
      }
      return this.stat(to);
    });
  }

  /**
   * Writes the staged changes out (see the class comment), then FSInfo, marks the volume clean
   * again and flushes the device (fsync for a file), so every change made so far is durable.
   * With `sync: false` the device is not flushed: everything is handed to it (an OS cache then
   * writes it back in its own time, as `mcopy` leaves an image), but not made durable.
   */
  async flush(options: FatFlushOptions = {}): Promise<void> {
    await this.enqueue(async () => {
      this.checkNotFailed();
      if (!this.readOnly && !this.closed && this.dirty) {
        await this.writeOut();
        // Last, once everything else is on the device: FSInfo and the clean bit of FAT[1].
        this.setClean(true);
        await this.failOnError(() => this.phase([...this.takeFsInfoWrites(), ...this.takeFatWrites()]));
        this.dirty = false;
      }
      if (options.sync ?? true) await this.device.flush();
    });
  }

  /**
   * Writes the changes staged in memory to the device now, in the crash-safe order (data, FAT
   * copies, directories), without marking the volume clean or syncing the device. After it, a
   * reader of the device sees every change made so far.
   */
  async writeBack(): Promise<void> {
    if (this.readOnly || this.closed) return;
    await this.enqueue(async () => {
      this.checkNotFailed();
      await this.writeOut();
    });
  }

  /**
   * Writes the staged changes out. They are taken from memory first, so when a write fails the
   * file system is marked failed (see {@link FatFileSystem.failure}): a retry must not report
   * success over changes that never reached the device.
   */
  private async writeOut(): Promise<void> {
    this.checkNotFailed();
    const data = this.stagedData.take();
    // Snapshots taken together, before any write: what the phases write is one consistent state.
    const fat = this.takeFatWrites();
    const dirs = this.takeDirWrites();
    await this.failOnError(async () => {
      // New-file data and FAT changes in one phase: until a directory entry on the device names
      // them, either may land first (a crash leaves lost clusters at worst). Then the directories.
      await this.phase([...data, ...fat]);
      await this.phase(dirs);
    });
    this.unwrittenDirs.clear();
  }

  /** Runs a write to the device; when it fails, marks the file system failed and rethrows. */
  private async failOnError(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }

  /** Throws `FAT_FAILED` once a write-out has failed (see {@link FatFileSystem.failure}). */
  private checkNotFailed(): void {
    if (this.failure === undefined) return;
    const why = this.failure instanceof Error ? this.failure.message : String(this.failure);
    throw new IoError(
      'FAT_FAILED',
      `an earlier write to the device failed (${why}); changes may be missing from it: reopen the image (and check it)`,
      { cause: this.failure },
    );
  }

  /** Makes one phase of writes; with barriers, flushes the device after it. */
  private async phase(writes: PendingWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await writePhase(this.device, writes);
    if (this.barriers) await this.device.flush();
  }

  /** Flushes (see {@link FatFileSystem.flush}); the device stays open (it belongs to the caller). */
  async close(options: FatFlushOptions = {}): Promise<void> {
    if (this.closed) return;
    // Set before anything is awaited: a change issued from now on is refused (checkWritable).
    this.closing = true;
    await this.flush(options);
    this.closed = true;
  }

  // ───────────────────────── internals ─────────────────────────

  private checkWritable(): void {
    this.checkNotFailed();
    if (this.closed || this.closing) throw new IoError('FAT_CLOSED', 'the file system is closed');
    if (this.readOnly) throw new IoError('READ_ONLY', 'the file system is opened read-only');
  }

  /**
   * Runs a mutation between clearing and setting the "clean" bit of FAT[1] (fatgen103 §4, FAT16
   * bit 15 / FAT32 bit 27), so a crash in the middle leaves the volume marked for checking.
   */
  /**
   * Runs a mutation. The first one after opening clears the "clean" bit of FAT[1] (fatgen103 §4:
   * FAT16 bit 15, FAT32 bit 27) on disk; {@link FatFileSystem.flush} / `close` set it again, as
   * an operating system does at mount and unmount — so a crash in between leaves the volume
   * marked for checking. Whatever the mutation changed in the FAT is on disk when it returns.
   */
  private mutate<T>(fn: () => Promise<T>): Promise<T> {
    return this.enqueue(() => this.mutateNow(fn));
  }

  /**
   * One change (or flush) at a time: concurrent calls (Promise.all over writeFile) share the
   * in-memory FAT, directories and staged writes, so they are queued rather than interleaved.
   */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async mutateNow<T>(fn: () => Promise<T>): Promise<T> {
    // A change queued before an earlier write-out failed must not run on what memory holds now.
    this.checkNotFailed();
    if (!this.dirty) {
      this.setClean(false);
      await this.writeOut();
      this.dirty = true;
    }
    this.writeThrough = this.writeBackBytes === 0;
    this.mayTear = false;
    try {
      const result = await fn();
      if (
        this.writeThrough ||
        this.stagedData.bytes > this.writeBackBytes ||
        this.dirtyDirs.size > MAX_DIRTY_DIRS ||
        this.unwrittenDirs.size > MAX_DIRTY_DIRS
      ) {
        await this.writeOut();
      }
      return result;
    } catch (e) {
      if (this.mayTear) {
        // What a failed replace, remove or rename staged in its directories is dropped (they are
        // read afresh below); everything staged before it was written out when it began.
        this.dirtyDirs.clear();
      }
      try {
        // A failed create leaves memory consistent (freshly allocated clusters freed again):
        // write it out, so the directories can be read afresh from the device.
        await this.writeOut();
      } catch {
        // The device failed too (the file system is now failed: see checkNotFailed); what it
        // holds is consistent by the write order. Forget the rest.
        this.stagedData.clear();
        this.dirtyDirs.clear();
        this.unwrittenDirs.clear();
      }
      this.dirCache.clear();
      throw e;
    } finally {
      this.writeThrough = false;
      this.mayTear = false;
    }
  }

  /** Marks the running change as written through: writes out what earlier changes staged. */
  private async beginWriteThrough(): Promise<void> {
    this.writeThrough = true;
    this.mayTear = true;
    await this.writeOut();
  }

  private setClean(clean: boolean): void {
    if (this.type === 12) return;
    const bit = this.type === 16 ? CLEAN_16 : CLEAN_32;
    const v = this.fat.get(1);
    const nv = clean ? v | bit : v & ~bit;
    if (nv !== v) this.fat.set(1, nv >>> 0);
  }

  private rootCluster(): number {
    return this.type === 32 ? this.geometry.rootCluster : 0;
  }

  private rootStat(): FatStat {
    return {
      name: '/',
      shortName: '',
      path: '/',
      isDirectory: true,
      size: 0,
      firstCluster: this.rootCluster(),
      attributes: ATTR_DIRECTORY,
    };
  }

  private toStat(item: DirectoryItem, path: string): FatStat {
    const e = item.entry;
    const s: FatStat = {
      name: item.name,
      shortName: item.shortName,
      path,
      isDirectory: item.isDirectory,
      size: item.isDirectory ? 0 : e.fileSize,
      firstCluster: e.firstCluster,
      attributes: e.attr,
    };
    const m = fromFatTimestamp(e.writeDate, e.writeTime);
    if (m) s.modified = m;
    const c = fromFatTimestamp(e.createDate, e.createTime, e.createTenth);
    if (c) s.created = c;
    const a = fromFatTimestamp(e.accessDate, 0);
    if (a) s.accessed = a;
    return s;
  }

  private displayPath(dir: Dir & { display?: string }, item: DirectoryItem): string {
    const d = dir.display ?? '/';
    return d === '/' ? `/${item.name}` : `${d}/${item.name}`;
  }

  private clusterOffset(c: number): number {
    const g = this.geometry;
    return (g.firstDataSector + (c - 2) * (g.clusterSize / g.bytesPerSector)) * g.bytesPerSector;
  }

  /** Reads clusters into `out`, one device read per contiguous run. */
  private async readClusters(clusters: readonly number[], out: Uint8Array): Promise<void> {
    const cs = this.geometry.clusterSize;
    let i = 0;
    while (i < clusters.length) {
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1]! + 1) j++;
      const start = i * cs;
      const end = Math.min(out.length, j * cs);
      await this.device.readInto(out.subarray(start, end), this.clusterOffset(clusters[i]!));
      i = j;
    }
  }

  /**
   * Writes `data` over `clusters` (zero-filling the tail of the last one), one write per run:
   * staged (copied) when small and write-back is on, else at once.
   */
  private async writeClusters(clusters: readonly number[], data: Uint8Array): Promise<void> {
    const cs = this.geometry.clusterSize;
    const stage = this.writeBackBytes > 0 && data.length < DIRECT_DATA_BYTES;
    let i = 0;
    while (i < clusters.length) {
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1]! + 1 && (j - i) * cs < 8 << 20) j++;
      const start = i * cs;
      const end = j * cs;
      let chunk = data.subarray(start, Math.min(end, data.length));
      if (stage) {
        // Copied (the caller may reuse its buffer) and padded to whole clusters.
        this.stagedData.add(this.clusterOffset(clusters[i]!), chunk, end - start);
      } else {
        if (chunk.length < end - start) {
          const padded = new Uint8Array(end - start);
          padded.set(chunk);
          chunk = padded;
        }
        await this.device.write(this.clusterOffset(clusters[i]!), chunk);
      }
      i = j;
    }
  }

  private getFreeCount(): number {
    if (this.freeCount === undefined) this.freeCount = this.fat.countFree();
    return this.freeCount;
  }

  private allocate(count: number): number[] {
    if (count === 0) return [];
    if (count > this.getFreeCount()) {
      throw new LimitError(
        'FAT_NO_SPACE',
        `no space left: ${count} clusters needed, ${this.getFreeCount()} free`,
        {
          structure: 'FAT',
        },
      );
    }
    const got = this.fat.allocate(count, this.nextFree);
    this.freeCount = this.getFreeCount() - got.length;
    const last = got[got.length - 1]!;
    this.nextFree = last + 1 > this.fat.maxCluster ? 2 : last + 1;
    return got;
  }

  private freeClusters(chain: readonly number[]): void {
    if (chain.length === 0) return;
    // Count first: a lazy count taken after the free would include these clusters twice.
    const before = this.getFreeCount();
    this.fat.free(chain);
    this.freeCount = before + chain.length;
  }

  /** Grows or shrinks an existing chain to `count` clusters. */
  private resizeChain(chain: number[], count: number): number[] {
    if (count === 0) {
      this.freeClusters(chain);
      return [];
    }
    if (count <= chain.length) {
      this.freeClusters(chain.slice(count));
      this.fat.set(chain[count - 1]!, this.fat.eoc);
      return chain.slice(0, count);
    }
    const more = this.allocate(count - chain.length);
    this.fat.set(chain[chain.length - 1]!, more[0]!);
    return [...chain, ...more];
  }

  /**
   * The writes that bring every FAT copy up to date (the dirty sectors, copied now, joined into
   * runs), all copies so they stay equal.
   */
  private takeFatWrites(): PendingWrite[] {
    const dirty = this.fat.takeDirty();
    const out: PendingWrite[] = [];
    if (dirty.length === 0) return out;
    const g = this.geometry;
    const bps = g.bytesPerSector;
    const mirrored = !(g.type === 32 && this.bootSector.extFlags & 0x80);
    const copies = mirrored ? [...Array(g.numFats).keys()] : [this.bootSector.extFlags & 0x0f];
    let i = 0;
    while (i < dirty.length) {
      let j = i + 1;
      while (j < dirty.length && dirty[j] === dirty[j - 1]! + 1) j++;
      const from = dirty[i]! * bps;
      const to = Math.min(this.fat.bytes.length, (dirty[j - 1]! + 1) * bps);
      const chunk = this.fat.bytes.slice(from, to);
      for (const k of copies)
        out.push({ offset: (g.firstFatSector + k * g.fatSectors) * bps + from, bytes: chunk });
      i = j;
    }
    return out;
  }

  /** The writes of every directory's changed slots (copied now), one per contiguous cluster run. */
  private takeDirWrites(): PendingWrite[] {
    const out: PendingWrite[] = [];
    const g = this.geometry;
    const cs = g.clusterSize;
    for (const [dir, { from, to }] of this.dirtyDirs) {
      const start = from * DIR_ENTRY_SIZE;
      const end = Math.min(dir.bytes.length, to * DIR_ENTRY_SIZE);
      if (end <= start) continue;
      if (dir.clusters.length === 0) {
        out.push({ offset: g.rootDirSector * g.bytesPerSector + start, bytes: dir.bytes.slice(start, end) });
        continue;
      }
      for (let ci = Math.floor(start / cs); ci * cs < end; ci++) {
        const a = Math.max(start, ci * cs);
        const b = Math.min(end, (ci + 1) * cs);
        out.push({
          offset: this.clusterOffset(dir.clusters[ci]!) + (a - ci * cs),
          bytes: dir.bytes.slice(a, b),
        });
      }
    }
    this.dirtyDirs.clear();
    return out;
  }

  /** The write bringing FSInfo's free count and next-free hint up to date, if they changed. */
  private takeFsInfoWrites(): PendingWrite[] {
    if (this.type !== 32 || this.fsInfo === undefined || this.fsInfoSector === undefined) return [];
    const info: FsInfo = {
      freeCount: this.freeCount ?? this.fsInfo.freeCount,
      nextFree: this.nextFree,
    };
    if (info.freeCount === this.fsInfo.freeCount && info.nextFree === this.fsInfo.nextFree) return [];
    const sector = this.fsInfoSector.slice();
    sector.set(serializeFsInfo(info).subarray(484, 512), 484);
    this.fsInfo = info;
    this.fsInfoSector = sector;
    return [{ offset: this.bootSector.fsInfoSector * this.geometry.bytesPerSector, bytes: sector }];
  }

  private async loadDir(cluster: number, path: string[]): Promise<Dir> {
    const g = this.geometry;
    const key = cluster === 0 && this.type === 32 ? g.rootCluster : cluster;
    const cached = this.dirCache.get(key);
    if (cached) {
      // The path is the caller's view (a directory can be reached again after a move).
      cached.path = path;
      return cached;
    }
    const dir = await this.readDir(key, path);
    this.cacheDir(key, dir);
    return dir;
  }

  private cacheDir(key: number, dir: Dir): void {
    if (this.dirCache.size >= 256) {
      // Directories with staged changes, and new ones whose cluster is only staged, stay: the
      // device does not hold them yet (reading one back would find the cluster's stale bytes).
      for (const [k, d] of this.dirCache) {
        if (!this.dirtyDirs.has(d) && !this.unwrittenDirs.has(d)) this.dirCache.delete(k);
      }
    }
    this.dirCache.set(key, dir);
  }

  private async readDir(cluster: number, path: string[]): Promise<Dir> {
    const g = this.geometry;
    const maxBytes = this.limits.maxDirectoryEntries * DIR_ENTRY_SIZE;
    if (cluster === 0 && this.type !== 32) {
      const bytes = await this.device.read(
        g.rootDirSector * g.bytesPerSector,
        g.rootDirSectors * g.bytesPerSector,
      );
      return { cluster: 0, clusters: [], bytes, parsed: parseDirectory(bytes), path };
    }
    const chain = this.fat.chain(cluster, Math.max(1, Math.floor(maxBytes / g.clusterSize)));
    const bytes = new Uint8Array(chain.length * g.clusterSize);
    await this.readClusters(chain, bytes);
    return { cluster, clusters: chain, bytes, parsed: parseDirectory(bytes), path };
  }

  private findItem(dir: Dir, name: string): DirectoryItem | undefined {
    // Trailing dots and spaces are not stored (Windows drops them too), so `name.` finds `name`.
    return this.dirIndex(dir).byName.get(foldName(name.replace(/(?<=[^. ])[. ]+$/, '')));
  }

  /** The lookup tables of a directory's current parse (built on first use after each parse). */
  private dirIndex(dir: Dir): DirIndex {
    let index = this.indexes.get(dir.parsed);
    if (index) return index;
    index = { byName: new Map(), shortNames: new Set(), nextTail: new Map() };
    for (const i of dir.parsed.items) indexItem(index, i);
    this.indexes.set(dir.parsed, index);
    return index;
  }

  private async openDirByPath(
    parts: string[],
  ): Promise<{ dir: Dir & { display: string }; displayPath: string }> {
    let dir = await this.loadDir(this.rootCluster(), []);
    const names: string[] = [];
    for (const p of parts) {
      const item = this.findItem(dir, p);
      if (!item) throw new UsageError('FAT_NOT_FOUND', `'${joinPath([...names, p])}' does not exist`);
      if (!item.isDirectory)
        throw new UsageError('FAT_NOT_DIRECTORY', `'${joinPath([...names, item.name])}' is not a directory`);
      checkLimit(names.length + 1, this.limits.maxDepth, 'FAT_LIMIT_DEPTH', 'directory depth', 'FAT');
      names.push(item.name);
      dir = await this.loadDir(item.entry.firstCluster, [...dir.path, foldName(item.name)]);
    }
    const display = joinPath(names);
    return { dir: Object.assign(dir, { display }), displayPath: display };
  }

  private async resolve(parts: string[]): Promise<{ dir: Dir & { display: string }; item: DirectoryItem }> {
    const { dir } = await this.openDirByPath(parts.slice(0, -1));
    const last = parts[parts.length - 1]!;
    const item = this.findItem(dir, last);
    if (!item) throw new UsageError('FAT_NOT_FOUND', `'${joinPath(parts)}' does not exist`);
    return { dir, item };
  }

  private async ensureDirs(parts: string[]): Promise<Dir> {
    let dir = await this.loadDir(this.rootCluster(), []);
    for (const p of parts) {
      const name = validateLongName(p);
      let item = this.findItem(dir, name);
      if (!item) {
        await this.createDir(dir, name);
        item = this.findItem(dir, name)!;
      } else if (!item.isDirectory) {
        throw new UsageError('FAT_NOT_DIRECTORY', `'${item.name}' is not a directory`);
      }
      dir = await this.loadDir(item.entry.firstCluster, [...dir.path, foldName(item.name)]);
    }
    return dir;
  }

  /** The cluster a `..` entry records for a child of `dir`: 0 when `dir` is the root (fatgen103 §6.5). */
  private dotDotCluster(dir: Dir): number {
    return dir.path.length === 0 ? 0 : dir.cluster;
  }

  private async createDir(parent: Dir, name: string): Promise<void> {
    const [cluster] = this.allocate(1) as [number];
    const cs = this.geometry.clusterSize;
    const body = new Uint8Array(cs);
    const now = toFatTimestamp(this.now());
    const base: Omit<DirEntry, 'name' | 'firstCluster'> = {
      attr: ATTR_DIRECTORY,
      ntRes: 0,
      createTenth: now.tenth,
      createTime: now.time,
      createDate: now.date,
      accessDate: now.date,
      writeTime: now.time,
      writeDate: now.date,
      fileSize: 0,
    };
    const dot = new Uint8Array(11).fill(0x20);
    dot[0] = 0x2e;
    const dotdot = dot.slice();
    dotdot[1] = 0x2e;
    serializeDirEntry({ ...base, name: dot, firstCluster: cluster }, body, 0);
    serializeDirEntry(
      { ...base, name: dotdot, firstCluster: this.dotDotCluster(parent) },
      body,
      DIR_ENTRY_SIZE,
    );
    this.stagedData.add(this.clusterOffset(cluster), body);
    await this.releaseOnFailure([cluster], () =>
      this.addEntry(parent, name, { ...base, firstCluster: cluster }),
    );
    // The device may not hold the body yet: the new directory starts out in the cache, pinned
    // there until the next write-out.
    const dir: Dir = {
      cluster,
      clusters: [cluster],
      bytes: body,
      parsed: parseDirectory(body),
      path: [...parent.path, foldName(name)],
    };
    this.unwrittenDirs.add(dir);
    this.cacheDir(cluster, dir);
  }

  /**
   * Runs the step that links freshly allocated clusters into a directory; when it fails (a full
   * FAT12/16 root, no space to grow the directory) the clusters are freed again instead of being
   * left lost.
   */
  private async releaseOnFailure(clusters: number[], step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (e) {
      // Never linked anywhere on the device: free to reuse once this failure is written out
      // (mutateNow does that before the next change).
      this.freeClusters(clusters);
      throw e;
    }
  }

  private markDeleted(dir: Dir, item: DirectoryItem): void {
    for (let s = item.firstSlot; s <= item.slot; s++) dir.bytes[s * DIR_ENTRY_SIZE] = ENTRY_DELETED;
  }

  /**
   * True when renaming `item` in `dir` to `name` can reuse slots such that the old entry set, the
   * new one (and the end marker it may move) all lie in one sector of the device: then one write
   * switches them (a sector write is atomic; a longer one is not).
   */
  private renamesInOneSector(dir: Dir, item: DirectoryItem, name: string): boolean {
    const plan = planShortName(name);
    const count = plan.needsLfn ? buildLfnEntries(name, 0).length + 1 : 1;
    const saved = dir.bytes.slice(item.firstSlot * DIR_ENTRY_SIZE, (item.slot + 1) * DIR_ENTRY_SIZE);
    this.markDeleted(dir, item);
    const slot = findFreeSlots(dir.bytes, count);
    dir.bytes.set(saved, item.firstSlot * DIR_ENTRY_SIZE);
    if (slot === undefined) return false;
    const perSector = this.geometry.bytesPerSector / DIR_ENTRY_SIZE;
    // The slot after the new set may get a new end marker (see addEntry): count it in.
    const last = Math.max(item.slot, slot + count);
    const first = Math.min(item.firstSlot, slot);
    const sector = Math.floor(first / perSector);
    // The fixed FAT12/16 root and every cluster start on a sector boundary, so slot ranges map
    // to sectors alike.
    return Math.floor(Math.min(last, dir.bytes.length / DIR_ENTRY_SIZE - 1) / perSector) === sector;
  }

  /**
   * Adds the entry set (long-name entries + short entry) for `name` to `dir`, choosing a unique
   * short name (with a `~N` tail when the name is not a plain 8.3 name) and growing the directory
   * when no run of free slots is long enough.
   */
  private async addEntry(
    dir: Dir,
    name: string,
    fields: Omit<DirEntry, 'name' | 'ntRes'>,
    options: { alsoStage?: DirectoryItem } = {},
  ): Promise<void> {
    const plan = planShortName(name);
    let shortName = plan.shortName;
    const index = this.dirIndex(dir);
    if (plan.needsTail) {
      // Any free tail is valid (fatgen103 §7 only asks for uniqueness); start after the last one
      // given out, and wrap round to the low ones before giving up.
      const basis = `${plan.base}.${plan.ext}`;
      const first = index.nextTail.get(basis) ?? 1;
      for (let k = 0; ; k++) {
        if (k >= 999999) throw new LimitError('FAT_NO_SHORT_NAME', `no free short name for '${name}'`);
        const n = 1 + ((first - 1 + k) % 999999);
        shortName = shortNameWithTail(plan, n);
        if (!index.shortNames.has(String.fromCharCode(...shortName))) {
          index.nextTail.set(basis, n + 1);
          break;
        }
      }
    }
    const lfn = plan.needsLfn ? buildLfnEntries(name, lfnChecksum(shortName)) : [];
    const count = lfn.length + 1;
    let slot = findFreeSlots(dir.bytes, count);
    if (slot === undefined) {
      await this.growDir(dir, count);
      slot = findFreeSlots(dir.bytes, count);
      if (slot === undefined) throw new LimitError('FAT_DIRECTORY_FULL', 'directory is full');
    }
    const wasEnd = dir.parsed.endSlot;
    // Appended right at the end, after anything but a long-name entry (which a full parse could
    // join to ours), the new set parses to exactly one more item: no need to parse it all again.
    const prev = (slot - 1) * DIR_ENTRY_SIZE;
    const appended =
      !options.alsoStage &&
      slot === wasEnd &&
      (fields.attr & ATTR_VOLUME_ID) === 0 &&
      (slot === 0 || dir.bytes[prev] === ENTRY_DELETED || (dir.bytes[prev + 11]! & 0x3f) !== ATTR_LONG_NAME);
    for (const [i, e] of lfn.entries()) dir.bytes.set(e, (slot + i) * DIR_ENTRY_SIZE);
    const shortAt = (slot + lfn.length) * DIR_ENTRY_SIZE;
    serializeDirEntry(
      { ...fields, name: shortName, ntRes: plan.needsLfn ? 0 : plan.ntRes },
      dir.bytes,
      shortAt,
    );
    let written = count;
    // Entries after a 0x00 end marker need not be zero; keep the marker right after ours.
    const after = slot + count;
    if (
      after >= wasEnd &&
      after * DIR_ENTRY_SIZE < dir.bytes.length &&
      dir.bytes[after * DIR_ENTRY_SIZE] !== 0
    ) {
      dir.bytes[after * DIR_ENTRY_SIZE] = 0;
      written++;
    }
    if (options.alsoStage) {
      // The slots of the entry set this one replaces (already marked deleted) go in the same write.
      const old = options.alsoStage;
      const from = Math.min(slot, old.firstSlot);
      this.stageDirSlots(dir, from, Math.max(slot + written, old.slot + 1) - from);
    } else if (!appended) this.stageDirSlots(dir, slot, written);
    else {
      const entry = parseDirEntry(dir.bytes, shortAt);
      const item: DirectoryItem = {
        name: lfn.length > 0 ? name : decodeShortName(entry.name, entry.ntRes),
        shortName: decodeShortName(entry.name, entry.ntRes),
        hasLongName: lfn.length > 0,
        entry,
        slot: slot + lfn.length,
        firstSlot: slot,
        isDirectory: (entry.attr & ATTR_DIRECTORY) !== 0,
        isDotEntry: false,
      };
      dir.parsed.items.push(item);
      dir.parsed.endSlot = after;
      const index = this.indexes.get(dir.parsed);
      if (index) indexItem(index, item);
      this.stageDirSlots(dir, slot, written, false);
    }
  }

  /** Appends zeroed clusters to a directory until `count` more slots fit. */
  private async growDir(dir: Dir, count: number): Promise<void> {
    if (dir.clusters.length === 0) {
      throw new LimitError('FAT_ROOT_FULL', `the FAT${this.type} root directory is full`, {
        structure: 'FAT directory',
      });
    }
    const cs = this.geometry.clusterSize;
    const need = Math.ceil((count * DIR_ENTRY_SIZE) / cs);
    const newBytes = dir.bytes.length + need * cs;
    checkLimit(
      newBytes / DIR_ENTRY_SIZE,
      Math.min(65536, this.limits.maxDirectoryEntries),
      'FAT_DIRECTORY_FULL',
      'directory entries',
      'FAT directory',
    );
    const more = this.allocate(need);
    // Zeroed on the device now, before the phase whose FAT write links them: that write extends
    // a directory the device already holds, so if it landed with the zeroing still pending, the
    // directory would gain a cluster of stale bytes (old entries, cross-links). Writing them now
    // is safe at any moment: the on-disk FAT still calls them free (or nothing names them).
    try {
      await this.failOnError(() => this.zeroClusters(more));
    } catch (e) {
      this.freeClusters(more);
      throw e;
    }
    this.fat.set(dir.clusters[dir.clusters.length - 1]!, more[0]!);
    const bytes = new Uint8Array(newBytes);
    bytes.set(dir.bytes);
    dir.bytes = bytes;
    dir.clusters = [...dir.clusters, ...more];
  }

  /** Writes zeros over `clusters` on the device at once, one write per contiguous run. */
  private async zeroClusters(clusters: readonly number[]): Promise<void> {
    const cs = this.geometry.clusterSize;
    let i = 0;
    while (i < clusters.length) {
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1]! + 1) j++;
      await this.device.write(this.clusterOffset(clusters[i]!), new Uint8Array((j - i) * cs));
      i = j;
    }
  }

  /**
   * Marks slots `[from, from + count)` of a directory for the next write-out and re-parses it
   * (unless the caller brought the parse up to date itself).
   */
  private stageDirSlots(dir: Dir, from: number, count: number, reparse = true): void {
    if (reparse) dir.parsed = parseDirectory(dir.bytes);
    const d = this.dirtyDirs.get(dir);
    if (d) {
      d.from = Math.min(d.from, from);
      d.to = Math.max(d.to, from + count);
    } else this.dirtyDirs.set(dir, { from, to: from + count });
  }
}
