import {
  BaseBlockDevice,
  type BlockDevice,
  checkRange,
  FormatError,
  IoError,
  NIL_GUID,
  randomGuid,
  UnsupportedError,
  UsageError,
} from '@lsvm/core';
import {
  BitmapState,
  bitmapEntryIndex,
  isAllocated,
  PayloadState,
  payloadEntryIndex,
  readBatEntry,
  writeBatEntry,
} from './bat.js';
import { HEADER_OFFSETS, MiB, SECTOR4K, SECTOR_BITMAP_BLOCK_SIZE } from './constants.js';
import { serializeHeader, type VhdxHeader } from './header.js';
import { readActiveLog, readHeaders, readLayout, type VhdxLayout } from './image.js';
import { resolveVhdxLimits, type VhdxLimits } from './limits.js';
import { type LogDataWrite, type LogWrite, serializeLogEntry } from './log.js';
import { isResizable, type ResizableDevice } from './memory-file.js';
import { LogOverlayDevice } from './overlay-device.js';
import { type ParentLocator, parentLinkage } from './parent-locator.js';
import { forEachRun, setBits } from './sector-bitmap.js';

/** A device with synchronous positional reads (structurally: vhdx's `SyncFile`). */
interface SyncIoSource {
  readIntoSync(target: Uint8Array, offset: number): void;
}

/** One stretch of the virtual disk with a single source (see `VhdxDevice.mapRun`). */
type PayloadRun =
  | { kind: 'file'; length: number; fileOffset: number }
  | { kind: 'partial'; length: number; block: number; inBlock: number; fileOffset: number }
  | { kind: 'parent'; length: number }
  | { kind: 'zero'; length: number };

/** Options of {@link VhdxDevice.open}. */
export interface VhdxOpenOptions {
  /** Open for reading only (default true). A read-only open never writes: a dirty log is replayed in memory. */
  readOnly?: boolean;
  /** Resource bounds against hostile files. */
  limits?: Partial<VhdxLimits>;
  /**
   * The parent of a differencing disk, already open. Required for differencing disks opened from a
   * device; {@link openVhdxFile} finds it through the parent locator instead.
   */
  parent?: BlockDevice;
  /**
   * Called for a differencing disk opened without `parent`, with its parent locator; returns the
   * parent device (which the child then owns and closes).
   */
  resolveParent?: (locator: ParentLocator | undefined) => Promise<BlockDevice>;
  /** Check the child's `parent_linkage` against the parent's DataWriteGuid (default true). */
  checkParentLinkage?: boolean;
  /**
   * Skip the BAT entry checks (states, offsets past EOF, overlaps). Only `checkVhdx --repair` uses
   * this, to open a damaged file and fix its BAT through the log.
   */
  skipBatValidation?: boolean;
  /** Close `file` (and the parent) when the VhdxDevice is closed (default false). */
  ownsFile?: boolean;
}

/** The disk type as users know it. */
export type VhdxType = 'fixed' | 'dynamic' | 'differencing';

/** What `lsvm vhdx info` prints. */
export interface VhdxInfo {
  virtualSize: number;
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  type: VhdxType;
  diskId: string;
  /** Parent locator entries of a differencing disk, or null. */
  parent: { linkage: string | null; locator: Record<string, string> } | null;
  /** True when the log holds entries not yet applied to the file (replayed in memory on read-only opens). */
  logReplayNeeded: boolean;
  /** Bytes of payload blocks allocated in this file (not counting parents). */
  allocatedBytes: number;
  fileSize: number;
  dataWriteGuid: string;
  fileWriteGuid: string;
  creator: string;
}

/**
 * A VHDX virtual disk as a {@link BlockDevice} ([MS-VHDX]). Reads resolve every payload state,
 * partially present blocks through the sector bitmap and absent blocks through the parent chain.
 * Writes allocate payload (and sector-bitmap) blocks at the end of the file; every metadata change
 * goes through the log first — write the entry, flush, apply, flush — so a crash after any single
 * write leaves a file that opens to the old or the new state.
 */
export class VhdxDevice extends BaseBlockDevice {
  readonly size: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;
  /** The parent of a differencing disk. */
  readonly parent: BlockDevice | undefined;
  /** True when a dirty log was replayed in memory (read-only open) or on disk (read-write open). */
  readonly replayedLog: boolean;
  /** Whether the log needed replay when the file was opened. */
  readonly logReplayNeeded: boolean;

  private header: VhdxHeader;
  private headerSlot: 0 | 1;
  private session = false;
  private logHead = 0;
  private logSeq = 1n;
  private lock: Promise<unknown> = Promise.resolve();
  private partialBlocks: boolean | undefined;

  private constructor(
    private readonly file: BlockDevice,
    /** The device payload reads come from (the file, or an in-memory replay overlay). */
    private readonly src: BlockDevice,
    readonly layout: VhdxLayout,
    parent: BlockDevice | undefined,
    readOnly: boolean,
    logReplayNeeded: boolean,
    private readonly owns: boolean,
    private readonly ownsParent: boolean,
  ) {
    super();
    this.size = layout.metadata.virtualDiskSize;
    this.sectorSize = layout.metadata.logicalSectorSize;
    this.readOnly = readOnly;
    this.parent = parent;
    this.header = layout.current.header;
    this.headerSlot = layout.current.slot;
    this.logReplayNeeded = logReplayNeeded;
    this.replayedLog = logReplayNeeded;
  }

  /**
   * Opens a VHDX image held by `file`. A read-write open needs `file` to be writable and resizable
   * (FileDevice, MemoryFile); it replays a dirty log to disk first. A read-only open replays it in
   * memory and leaves the file untouched.
   */
  static async open(file: BlockDevice, options: VhdxOpenOptions = {}): Promise<VhdxDevice> {
    const limits = resolveVhdxLimits(options.limits);
    const readOnly = options.readOnly ?? true;
    if (!readOnly && (file.readOnly || !isResizable(file))) {
      throw new UsageError('VHDX_NOT_WRITABLE', 'a read-write open needs a writable, resizable device');
    }
    const { creator, current } = await readHeaders(file);
    const seq = await readActiveLog(file, current.header, limits);
    let src: BlockDevice = file;
    if (seq) {
      const writes = seq.entries.flatMap((e) => e.writes);
      if (readOnly) {
        src = new LogOverlayDevice(file, writes, seq.lastFileOffset);
      } else {
        await applyWrites(file, writes, seq.lastFileOffset);
      }
    }
    const layout = await readLayout(src, current, creator, limits, {
      validateEntries: !options.skipBatValidation,
    });
    const m = layout.metadata;
    let parent: BlockDevice | undefined;
    let ownsParent = false;
    if (m.hasParent) {
      parent = options.parent;
      if (!parent && options.resolveParent) {
        parent = await options.resolveParent(m.parentLocator);
        ownsParent = true;
      }
      if (!parent) {
        throw new UsageError(
          'VHDX_PARENT_REQUIRED',
          'this is a differencing disk: open it with openVhdxFile or pass its parent',
        );
      }
      try {
        checkParent(parent, m, options.checkParentLinkage ?? true);
      } catch (e) {
        if (ownsParent) await parent.close();
        throw e;
      }
    } else if (options.parent) {
      throw new UsageError('VHDX_NOT_DIFFERENCING', 'a parent was given but this disk has none');
    }
    const dev = new VhdxDevice(
      file,
      src,
      layout,
      parent,
      readOnly,
      seq !== undefined,
      options.ownsFile ?? false,
      ownsParent || (options.ownsFile ?? false),
    );
    if (seq && !readOnly) {
      // The replay modified the file: record a new FileWriteGuid and clear the LogGuid ([MS-VHDX] §2.3.3).
      await dev.writeHeaders({ ...dev.header, fileWriteGuid: randomGuid(), logGuid: NIL_GUID });
    }
    return dev;
  }

  /** The DataWriteGuid of the current header (children link to it). */
  get dataWriteGuid(): string {
    return this.header.dataWriteGuid;
  }

  /** The current header. */
  get currentHeader(): Readonly<VhdxHeader> {
    return this.header;
  }

  /** Summary for `info`. */
  info(): VhdxInfo {
    return describeLayout(this.layout, this.header, this.logReplayNeeded && this.readOnly, this.file.size);
  }

  /** The BAT entry of payload block `block`. */
  blockEntry(block: number): { state: number; fileOffset: number } {
    return readBatEntry(this.layout.bat, payloadEntryIndex(this.layout.geometry, block));
  }

  /**
   * Whether `[offset, offset + length)` may hold non-zero data: false only when every block it
   * touches is unallocated here and (for NOT_PRESENT blocks) in the parent chain. Converters use it
   * to skip reading holes.
   */
  mayHaveData(offset: number, length: number): boolean {
    const bs = this.layout.geometry.blockSize;
    const end = Math.min(this.size, offset + length);
    for (let b = Math.floor(offset / bs); b * bs < end; b++) {
      const s = this.blockEntry(b).state;
      if (isAllocated(s)) return true;
      if (s === PayloadState.NOT_PRESENT && this.parent) {
        const from = Math.max(offset, b * bs);
        const to = Math.min(end, (b + 1) * bs);
        if (!(this.parent instanceof VhdxDevice) || this.parent.mayHaveData(from, to - from)) return true;
      }
    }
    return false;
  }

  /**
   * Where the `length` bytes at virtual `offset` come from, up to the first change of source:
   * `file` (fully present blocks, runs of them laid out contiguously in the file coalesced into one
   * range), `partial` (a partially present block), `parent`, or `zero` (every other state, §2.5.1.1).
   */
  private mapRun(offset: number, length: number): PayloadRun {
    const bs = this.layout.geometry.blockSize;
    const block = Math.floor(offset / bs);
    const inBlock = offset - block * bs;
    let n = Math.min(length, bs - inBlock);
    const e = this.blockEntry(block);
    if (e.state === PayloadState.FULLY_PRESENT) {
      let next = block + 1;
      while (n < length) {
        const ne = this.blockEntry(next);
        if (ne.state !== PayloadState.FULLY_PRESENT || ne.fileOffset !== e.fileOffset + (next - block) * bs)
          break;
        n = Math.min(length, n + bs);
        next++;
      }
      return { kind: 'file', length: n, fileOffset: e.fileOffset + inBlock };
    }
    if (e.state === PayloadState.PARTIALLY_PRESENT)
      return { kind: 'partial', length: n, block, inBlock, fileOffset: e.fileOffset };
    if (e.state === PayloadState.NOT_PRESENT && this.parent) return { kind: 'parent', length: n };
    return { kind: 'zero', length: n };
  }

  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    let pos = 0;
    while (pos < target.length) {
      const r = this.mapRun(offset + pos, target.length - pos);
      const view = target.subarray(pos, pos + r.length);
      if (r.kind === 'file') await this.src.readInto(view, r.fileOffset);
      else if (r.kind === 'partial') await this.readPartial(view, r.block, r.inBlock, r.fileOffset);
      else if (r.kind === 'parent') await this.readParent(view, offset + pos);
      else view.fill(0);
      pos += r.length;
    }
  }

  /**
   * A synchronous reader of the virtual disk, when every read can be served synchronously: the
   * file offers synchronous I/O ({@link SyncIoSource}: the `SyncFile` that `convertFile` opens), no
   * log overlay is in front of it, there is no parent, and no block is partially present. The
   * converters then copy through one buffer without a promise per chunk (see `SyncFile`).
   * Undefined otherwise.
   */
  syncReader(): ((target: Uint8Array, offset: number) => void) | undefined {
    const src = this.src as Partial<SyncIoSource>;
    if (this.parent || this.src !== this.file || typeof src.readIntoSync !== 'function') return undefined;
    if (this.hasPartialBlocks()) return undefined;
    const readSync = src.readIntoSync.bind(this.src);
    return (target, offset) => {
      this.checkOpen();
      checkRange(offset, target.length, this.size, 'read');
      let pos = 0;
      while (pos < target.length) {
        const r = this.mapRun(offset + pos, target.length - pos);
        const view = target.subarray(pos, pos + r.length);
        if (r.kind === 'file') readSync(view, r.fileOffset);
        else view.fill(0);
        pos += r.length;
      }
    };
  }

  /**
   * Whether the BAT held a PARTIALLY_PRESENT block when first asked, scanned once. Without a parent
   * (the only case {@link syncReader} asks about) this device never writes that state — its writes
   * set FULLY_PRESENT or NOT_PRESENT — so the answer can only become too cautious, never wrong.
   */
  private hasPartialBlocks(): boolean {
    if (this.partialBlocks === undefined) {
      this.partialBlocks = false;
      for (let b = 0; b < this.layout.geometry.dataBlocks; b++) {
        if (this.blockEntry(b).state === PayloadState.PARTIALLY_PRESENT) {
          this.partialBlocks = true;
          break;
        }
      }
    }
    return this.partialBlocks;
  }

  private async readParent(view: Uint8Array, off: number): Promise<void> {
    const parent = this.parent!;
    const avail = Math.max(0, Math.min(view.length, parent.size - off));
    if (avail > 0) await parent.readInto(view.subarray(0, avail), off);
    view.fill(0, avail);
  }

  /** Location of the sector bitmap bits of a block: the bitmap block's file offset and the first bit. */
  private bitmapOf(block: number): { fileOffset: number; firstBit: number; present: boolean; entry: number } {
    const g = this.layout.geometry;
    const chunk = Math.floor(block / g.chunkRatio);
    const entry = bitmapEntryIndex(g, chunk);
    const e = readBatEntry(this.layout.bat, entry);
    const firstBit = (block - chunk * g.chunkRatio) * g.sectorsPerBlock;
    return { fileOffset: e.fileOffset, firstBit, present: e.state === BitmapState.PRESENT, entry };
  }

  private async readPartial(
    view: Uint8Array,
    block: number,
    inBlock: number,
    blockOffset: number,
  ): Promise<void> {
    const lss = this.sectorSize;
    const bm = this.bitmapOf(block);
    if (!bm.present) {
      throw new FormatError(
        'VHDX_BITMAP_MISSING',
        `block ${block} is partially present but its chunk has no sector bitmap`,
        {
          structure: 'VHDX BAT',
        },
      );
    }
    const s0 = Math.floor(inBlock / lss);
    const s1 = Math.ceil((inBlock + view.length) / lss);
    const bit0 = bm.firstBit + s0;
    const byte0 = Math.floor(bit0 / 8);
    const byte1 = Math.ceil((bm.firstBit + s1) / 8);
    const bits = await this.src.read(bm.fileOffset + byte0, byte1 - byte0);
    const runs: [boolean, number, number][] = [];
    forEachRun(bits, bit0 - byte0 * 8, s1 - s0, (v, start, len) => runs.push([v, start, len]));
    const blockStart = block * this.layout.geometry.blockSize;
    for (const [present, start, len] of runs) {
      const sectorInBlock = s0 + (start - (bit0 - byte0 * 8));
      const from = Math.max(inBlock, sectorInBlock * lss);
      const to = Math.min(inBlock + view.length, (sectorInBlock + len) * lss);
      const part = view.subarray(from - inBlock, to - inBlock);
      if (present) await this.src.readInto(part, blockOffset + from);
      else if (this.parent) await this.readParent(part, blockStart + from);
      else part.fill(0);
    }
  }

  // ---------------------------------------------------------------- writing

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  protected override writeAt(data: Uint8Array, offset: number): Promise<void> {
    return this.serialize(async () => {
      await this.beginSession();
      const lss = this.sectorSize;
      const start = Math.floor(offset / lss) * lss;
      const end = Math.ceil((offset + data.length) / lss) * lss;
      let buf = data;
      if (start !== offset || end !== offset + data.length) {
        // Sub-sector writes are merged with the current sector contents (which may come from the parent).
        buf = new Uint8Array(end - start);
        await this.readAt(buf, start);
        buf.set(data, offset - start);
      }
      const bs = this.layout.geometry.blockSize;
      let pos = 0;
      while (pos < buf.length) {
        const off = start + pos;
        const block = Math.floor(off / bs);
        const inBlock = off - block * bs;
        const n = Math.min(buf.length - pos, bs - inBlock);
        await this.writeBlock(block, inBlock, buf.subarray(pos, pos + n));
        pos += n;
      }
    });
  }

  /** Starts a write session: new FileWriteGuid, DataWriteGuid and LogGuid ([MS-VHDX] §2.2.2). */
  private async beginSession(): Promise<void> {
    if (this.session) return;
    await this.writeHeaders({
      ...this.header,
      fileWriteGuid: randomGuid(),
      dataWriteGuid: randomGuid(),
      logGuid: randomGuid(),
    });
    this.session = true;
    this.logHead = 0;
    this.logSeq = 1n;
  }

  private async writeBlock(block: number, inBlock: number, data: Uint8Array): Promise<void> {
    const g = this.layout.geometry;
    const e = this.blockEntry(block);
    const lss = this.sectorSize;
    if (e.state === PayloadState.FULLY_PRESENT) {
      await this.file.write(e.fileOffset + inBlock, data);
      return;
    }
    if (e.state === PayloadState.PARTIALLY_PRESENT) {
      await this.file.write(e.fileOffset + inBlock, data);
      // Data first, then the bitmap bits through the log: a crash in between leaves the parent's view.
      await this.file.flush();
      const writes = await this.setBitmapBits(block, inBlock / lss, data.length / lss);
      if (writes.length > 0) await this.logAndApply(writes);
      return;
    }
    // Allocate a block at the end of the file; its fresh bytes read as zeros.
    const resizable = this.file as BlockDevice & ResizableDevice;
    const blockOffset = alignUp(this.file.size, MiB);
    await resizable.resize(blockOffset + g.blockSize);
    await this.file.write(blockOffset + inBlock, data);
    const writes: LogDataWrite[] = [];
    if (e.state === PayloadState.NOT_PRESENT && this.parent) {
      const bm = this.bitmapOf(block);
      if (!bm.present) {
        const bmOffset = alignUp(this.file.size, MiB);
        await resizable.resize(bmOffset + SECTOR_BITMAP_BLOCK_SIZE);
        writeBatEntry(this.layout.bat, bm.entry, { state: BitmapState.PRESENT, fileOffset: bmOffset });
      }
      writeBatEntry(this.layout.bat, payloadEntryIndex(g, block), {
        state: PayloadState.PARTIALLY_PRESENT,
        fileOffset: blockOffset,
      });
      await this.file.flush();
      writes.push(...(await this.setBitmapBits(block, inBlock / lss, data.length / lss)));
      writes.push(...this.batSectorWrites([payloadEntryIndex(g, block), bm.entry]));
    } else {
      writeBatEntry(this.layout.bat, payloadEntryIndex(g, block), {
        state: PayloadState.FULLY_PRESENT,
        fileOffset: blockOffset,
      });
      await this.file.flush();
      writes.push(...this.batSectorWrites([payloadEntryIndex(g, block)]));
    }
    await this.logAndApply(writes);
  }

  /**
   * Sets BAT entries to NOT_PRESENT through the log (the repair of entries that point past the end
   * of the file, overlap or hold invalid states). Returns once the change is durable.
   */
  resetBatEntries(indices: readonly number[]): Promise<void> {
    if (this.readOnly) return Promise.reject(new IoError('READ_ONLY', 'device is read-only'));
    return this.serialize(async () => {
      if (indices.length === 0) return;
      await this.beginSession();
      for (const i of indices)
        writeBatEntry(this.layout.bat, i, { state: PayloadState.NOT_PRESENT, fileOffset: 0 });
      // Chunk the change so no entry outgrows half the log.
      const writes = this.batSectorWrites([...indices]);
      for (let k = 0; k < writes.length; k += 64) await this.logAndApply(writes.slice(k, k + 64));
    });
  }

  /** Log writes of the 4 KiB BAT sectors holding the given entries (from the in-memory BAT). */
  private batSectorWrites(entries: number[]): LogDataWrite[] {
    const batOffset = this.layout.regions.bat.fileOffset;
    const sectors = [...new Set(entries.map((i) => Math.floor((i * 8) / SECTOR4K)))];
    return sectors.map((s) => {
      const data = new Uint8Array(SECTOR4K);
      data.set(this.layout.bat.subarray(s * SECTOR4K, (s + 1) * SECTOR4K));
      return { kind: 'data', fileOffset: batOffset + s * SECTOR4K, data };
    });
  }

  /** Reads the bitmap sectors covering a sector range, sets the bits, returns the changed sectors. */
  private async setBitmapBits(block: number, firstSector: number, count: number): Promise<LogDataWrite[]> {
    const bm = this.bitmapOf(block);
    const bit0 = bm.firstBit + firstSector;
    const sector0 = Math.floor(bit0 / 8 / SECTOR4K);
    const sector1 = Math.floor((bit0 + count - 1) / 8 / SECTOR4K);
    const at = bm.fileOffset + sector0 * SECTOR4K;
    const bytes = await this.file.read(at, (sector1 - sector0 + 1) * SECTOR4K);
    setBits(bytes, bit0 - sector0 * SECTOR4K * 8, count);
    const out: LogDataWrite[] = [];
    const old = await this.file.read(at, bytes.length);
    for (let s = 0; s <= sector1 - sector0; s++) {
      const cur = bytes.subarray(s * SECTOR4K, (s + 1) * SECTOR4K);
      const prev = old.subarray(s * SECTOR4K, (s + 1) * SECTOR4K);
      if (!equalBytes(cur, prev))
        out.push({ kind: 'data', fileOffset: at + s * SECTOR4K, data: cur.slice() });
    }
    return out;
  }

  /**
   * The log protocol ([MS-VHDX] §2.3): write one entry describing `writes` at the log head, flush,
   * apply the writes to the file, flush. Each entry's tail is itself because the previous entries
   * are already applied and flushed, so a replay never needs anything older.
   */
  private async logAndApply(writes: LogWrite[]): Promise<void> {
    const h = this.header;
    const L = h.logLength;
    const entry = serializeLogEntry({
      tail: this.logHead,
      sequenceNumber: this.logSeq,
      logGuid: h.logGuid,
      flushedFileOffset: this.file.size,
      lastFileOffset: this.file.size,
      writes,
    });
    if (entry.length * 2 > L) {
      // The new entry must never overwrite the previous one, which a torn write would otherwise lose.
      throw new UnsupportedError(
        'VHDX_LOG_TOO_SMALL',
        `a ${entry.length}-byte log entry does not fit a ${L}-byte log`,
      );
    }
    const first = Math.min(entry.length, L - this.logHead);
    await this.file.write(h.logOffset + this.logHead, entry.subarray(0, first));
    if (first < entry.length) await this.file.write(h.logOffset, entry.subarray(first));
    await this.file.flush();
    await applyWrites(this.file, writes, this.file.size);
    await this.file.flush();
    this.logHead = (this.logHead + entry.length) % L;
    this.logSeq++;
  }

  /** Writes `h` into both header slots, newest sequence number last, flushing after each. */
  private async writeHeaders(h: VhdxHeader): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const slot: 0 | 1 = this.headerSlot === 0 ? 1 : 0;
      const next: VhdxHeader = { ...h, sequenceNumber: this.header.sequenceNumber + 1n };
      await this.file.write(HEADER_OFFSETS[slot], serializeHeader(next));
      await this.file.flush();
      this.header = next;
      this.headerSlot = slot;
    }
  }

  override async flush(): Promise<void> {
    this.checkOpen();
    if (!this.readOnly) await this.serialize(() => this.file.flush());
  }

  /** Ends the write session (clearing the LogGuid), then closes what this device owns. */
  override async close(): Promise<void> {
    if (this.closed) return;
    await this.serialize(async () => {
      if (this.session) {
        await this.file.flush();
        await this.writeHeaders({ ...this.header, logGuid: NIL_GUID });
        this.session = false;
      }
    });
    this.closed = true;
    if (this.owns) await this.file.close();
    if (this.ownsParent && this.parent) await this.parent.close();
  }
}

/** The {@link VhdxInfo} of a parsed layout. */
export function describeLayout(
  layout: VhdxLayout,
  header: VhdxHeader,
  logReplayNeeded: boolean,
  fileSize: number,
): VhdxInfo {
  const m = layout.metadata;
  const g = layout.geometry;
  let allocated = 0;
  for (let b = 0; b < g.dataBlocks; b++) {
    if (isAllocated(readBatEntry(layout.bat, payloadEntryIndex(g, b)).state)) allocated += g.blockSize;
  }
  const loc = m.parentLocator;
  return {
    virtualSize: m.virtualDiskSize,
    blockSize: m.blockSize,
    logicalSectorSize: m.logicalSectorSize,
    physicalSectorSize: m.physicalSectorSize,
    type: m.hasParent ? 'differencing' : m.leaveBlocksAllocated ? 'fixed' : 'dynamic',
    diskId: m.virtualDiskId,
    parent: loc ? { linkage: parentLinkage(loc)[0] ?? null, locator: Object.fromEntries(loc.entries) } : null,
    logReplayNeeded,
    allocatedBytes: allocated,
    fileSize,
    dataWriteGuid: header.dataWriteGuid,
    fileWriteGuid: header.fileWriteGuid,
    creator: layout.creator,
  };
}

/**
 * Reads the {@link VhdxInfo} of an image without opening its parent or touching the file (a dirty
 * log is replayed in memory): what `lsvm vhdx info` prints.
 */
export async function readVhdxInfo(
  file: BlockDevice,
  options: { limits?: Partial<VhdxLimits> } = {},
): Promise<VhdxInfo> {
  const limits = resolveVhdxLimits(options.limits);
  const { creator, current } = await readHeaders(file);
  const seq = await readActiveLog(file, current.header, limits);
  const src = seq
    ? new LogOverlayDevice(
        file,
        seq.entries.flatMap((e) => e.writes),
        seq.lastFileOffset,
      )
    : file;
  const layout = await readLayout(src, current, creator, limits);
  return describeLayout(layout, current.header, seq !== undefined, file.size);
}

/** Checks that `parent` can serve as the parent of a disk with metadata `m`. */
function checkParent(parent: BlockDevice, m: VhdxLayout['metadata'], linkage: boolean): void {
  if (parent.sectorSize !== m.logicalSectorSize) {
    throw new FormatError(
      'VHDX_PARENT_SECTOR_SIZE',
      `the parent has ${parent.sectorSize}-byte sectors, the child ${m.logicalSectorSize}-byte sectors`,
      { structure: 'VHDX parent locator' },
    );
  }
  if (linkage && parent instanceof VhdxDevice && m.parentLocator) {
    const links = parentLinkage(m.parentLocator);
    const actual = parent.dataWriteGuid;
    if (links.length > 0 && !links.includes(actual)) {
      throw new FormatError(
        'VHDX_PARENT_LINKAGE',
        `the parent's DataWriteGuid ${actual} is not the child's parent_linkage ${links[0]}: the parent changed after the child was made`,
        { structure: 'VHDX parent locator' },
      );
    }
  }
}

/** Applies log writes to a file, growing it first to `lastFileOffset` when needed. */
export async function applyWrites(
  file: BlockDevice,
  writes: readonly LogWrite[],
  lastFileOffset: number,
): Promise<void> {
  let need = lastFileOffset;
  for (const w of writes)
    need = Math.max(need, w.fileOffset + (w.kind === 'data' ? w.data.length : w.length));
  if (need > file.size) {
    if (!isResizable(file))
      throw new IoError('VHDX_NOT_RESIZABLE', 'the log extends the file but the device cannot grow');
    await file.resize(need);
  }
  const zeros = new Uint8Array(MiB);
  for (const w of writes) {
    if (w.kind === 'data') {
      await file.write(w.fileOffset, w.data);
      continue;
    }
    for (let done = 0; done < w.length; done += zeros.length) {
      await file.write(w.fileOffset + done, zeros.subarray(0, Math.min(zeros.length, w.length - done)));
    }
  }
  await file.flush();
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
