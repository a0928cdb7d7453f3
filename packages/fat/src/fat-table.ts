import { FormatError, LimitError, UsageError } from '@lsvm/core';
import type { FatType } from './boot-sector.js';

/** Value of a free FAT entry. */
export const FAT_FREE = 0;

/**
 * One copy of the File Allocation Table held in memory as its on-disk bytes, so an entry update
 * touches only the bytes (and sectors) it lives in, and writing back means copying the dirty
 * sectors to every FAT copy (fatgen103 §4: all copies are kept equal).
 */
export class FatTable {
  readonly type: FatType;
  /** The raw bytes of the FAT (one copy). */
  readonly bytes: Uint8Array;
  readonly clusterCount: number;
  readonly bytesPerSector: number;
  private readonly view: DataView;
  /** Sector indexes (within the FAT) changed since the last {@link FatTable.takeDirty}. */
  private readonly dirty = new Set<number>();

  constructor(type: FatType, bytes: Uint8Array, clusterCount: number, bytesPerSector: number) {
    const need = Math.ceil(((clusterCount + 2) * type) / 8);
    if (bytes.length < need) {
      throw new FormatError(
        'FAT_FAT_SIZE',
        `FAT of ${bytes.length} bytes is too small for ${clusterCount} clusters`,
        {
          structure: 'FAT',
        },
      );
    }
    this.type = type;
    this.bytes = bytes;
    this.clusterCount = clusterCount;
    this.bytesPerSector = bytesPerSector;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Highest valid cluster number. */
  get maxCluster(): number {
    return this.clusterCount + 1;
  }

  /** Smallest value meaning "end of chain" for this type (fatgen103 §4: ≥ 0xFF8 / 0xFFF8 / 0x0FFFFFF8). */
  get eocMin(): number {
    return this.type === 12 ? 0xff8 : this.type === 16 ? 0xfff8 : 0x0ffffff8;
  }

  /** The end-of-chain mark we write. */
  get eoc(): number {
    return this.type === 12 ? 0xfff : this.type === 16 ? 0xffff : 0x0fffffff;
  }

  /** The "bad cluster" mark. */
  get bad(): number {
    return this.type === 12 ? 0xff7 : this.type === 16 ? 0xfff7 : 0x0ffffff7;
  }

  /** Entry `n` (FAT32: the low 28 bits; the high 4 are reserved). */
  get(n: number): number {
    if (this.type === 32) return this.view.getUint32(n * 4, true) & 0x0fffffff;
    if (this.type === 16) return this.view.getUint16(n * 2, true);
    const at = n + (n >> 1);
    const w = this.bytes[at]! | (this.bytes[at + 1]! << 8);
    return n & 1 ? w >> 4 : w & 0xfff;
  }

  /** Sets entry `n`, keeping FAT32's high 4 bits (fatgen103 §4) and marking the sectors dirty. */
  set(n: number, value: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.maxCluster) {
      throw new UsageError('FAT_BAD_CLUSTER', `cluster ${n} is outside the FAT`);
    }
    let at: number;
    let len: number;
    if (this.type === 32) {
      at = n * 4;
      len = 4;
      const old = this.view.getUint32(at, true);
      this.view.setUint32(at, ((old & 0xf0000000) | (value & 0x0fffffff)) >>> 0, true);
    } else if (this.type === 16) {
      at = n * 2;
      len = 2;
      this.view.setUint16(at, value & 0xffff, true);
    } else {
      at = n + (n >> 1);
      len = 2;
      const w = this.bytes[at]! | (this.bytes[at + 1]! << 8);
      const nw = n & 1 ? (w & 0x000f) | ((value & 0xfff) << 4) : (w & 0xf000) | (value & 0xfff);
      this.bytes[at] = nw & 0xff;
      this.bytes[at + 1] = nw >> 8;
    }
    const first = Math.floor(at / this.bytesPerSector);
    const last = Math.floor((at + len - 1) / this.bytesPerSector);
    this.dirty.add(first);
    if (last !== first) this.dirty.add(last);
  }

  /** True when `v` marks the end of a chain. */
  isEoc(v: number): boolean {
    return v >= this.eocMin;
  }

  /** True when `v` is a cluster number a chain may point to. */
  isValidCluster(v: number): boolean {
    return v >= 2 && v <= this.maxCluster;
  }

  /**
   * The clusters of the chain starting at `start`, in order. A chain that loops, leaves the valid
   * range or runs into a free or bad entry is a {@link FormatError}; `maxLength` bounds the walk.
   */
  chain(start: number, maxLength = this.clusterCount): number[] {
    const out: number[] = [];
    let c = start;
    const seen = new Set<number>();
    for (;;) {
      if (!this.isValidCluster(c)) {
        throw new FormatError('FAT_BAD_CHAIN', `cluster chain from ${start} reaches invalid cluster ${c}`, {
          structure: 'FAT',
        });
      }
      if (seen.has(c)) {
        throw new FormatError('FAT_CHAIN_LOOP', `cluster chain from ${start} loops at cluster ${c}`, {
          structure: 'FAT',
        });
      }
      if (out.length >= maxLength) {
        throw new FormatError(
          'FAT_CHAIN_TOO_LONG',
          `cluster chain from ${start} is longer than ${maxLength} clusters`,
          {
            structure: 'FAT',
          },
        );
      }
      seen.add(c);
      out.push(c);
      const next = this.get(c);
      if (this.isEoc(next)) return out;
      c = next;
    }
  }

  /** Counts free entries (a full scan). */
  countFree(): number {
    let n = 0;
    if (this.type === 32 && this.bytes.byteOffset % 4 === 0) {
      // Every open of a writable FAT32 volume scans the whole FAT (2 MiB for an ESP): read it as
      // 32-bit words rather than entry by entry.
      const words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.maxCluster + 1);
      for (let c = 2; c <= this.maxCluster; c++) if ((words[c]! & 0x0fffffff) === 0) n++;
      return n;
    }
    for (let c = 2; c <= this.maxCluster; c++) if (this.get(c) === FAT_FREE) n++;
    return n;
  }

  /**
   * Allocates `count` free clusters, preferring one contiguous run starting from `hint`, links them
   * into a chain ending with EOC and returns them. Throws {@link LimitError} `FAT_NO_SPACE` when the
   * volume has too few free clusters (and changes nothing then).
   */
  allocate(count: number, hint = 2): number[] {
    if (count === 0) return [];
    const picked: number[] = [];
    const total = this.clusterCount;
    const start = hint >= 2 && hint <= this.maxCluster ? hint : 2;
    // First try a contiguous run (files read faster and firmware does not care); else take any.
    const run = this.findRun(count, start);
    if (run !== undefined) {
      for (let i = 0; i < count; i++) picked.push(run + i);
    } else {
      for (let i = 0; i < total && picked.length < count; i++) {
        const c = 2 + ((start - 2 + i) % total);
        if (this.get(c) === FAT_FREE) picked.push(c);
      }
      if (picked.length < count) {
        throw new LimitError(
          'FAT_NO_SPACE',
          `no space left: ${count} clusters needed, ${picked.length} free`,
          {
            structure: 'FAT',
          },
        );
      }
    }
    if (run !== undefined && this.type === 32) {
      this.linkRun32(run, count);
      return picked;
    }
    for (let i = 0; i < picked.length; i++) {
      this.set(picked[i]!, i + 1 < picked.length ? picked[i + 1]! : this.eoc);
    }
    return picked;
  }

  /**
   * Links the free run `[start, start + count)` into a chain (FAT32): the same entries
   * {@link FatTable.set} would write, high bits kept, with the dirty sectors marked once per
   * sector rather than once per entry — a 48 MiB file is 98 304 entries at 512-byte clusters.
   */
  private linkRun32(start: number, count: number): void {
    const end = start + count;
    for (let c = start; c < end; c++) {
      const at = c * 4;
      const value = c + 1 < end ? c + 1 : 0x0fffffff;
      const old = this.view.getUint32(at, true);
      this.view.setUint32(at, ((old & 0xf0000000) | value) >>> 0, true);
    }
    const first = Math.floor((start * 4) / this.bytesPerSector);
    const last = Math.floor((end * 4 - 1) / this.bytesPerSector);
    for (let s = first; s <= last; s++) this.dirty.add(s);
  }

  private findRun(count: number, hint: number): number | undefined {
    return (
      this.scanRun(count, hint, this.maxCluster) ??
      (hint > 2 ? this.scanRun(count, 2, Math.min(this.maxCluster, hint + count)) : undefined)
    );
  }

  /** The first run of `count` free clusters within `[from, to]`, if any. */
  private scanRun(count: number, from: number, to: number): number | undefined {
    let len = 0;
    if (this.type === 32 && this.bytes.byteOffset % 4 === 0) {
      // FAT32 as 32-bit words, in a plain loop: a 48 MiB file is a 98 304-cluster run to confirm.
      const words = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, this.maxCluster + 1);
      for (let c = from; c <= to; c++) {
        if ((words[c]! & 0x0fffffff) !== 0) len = 0;
        else if (++len === count) return c - count + 1;
      }
      return undefined;
    }
    for (let c = from; c <= to; c++) {
      if (this.get(c) !== FAT_FREE) len = 0;
      else if (++len === count) return c - count + 1;
    }
    return undefined;
  }

  /** Marks every cluster of a chain free. */
  free(clusters: readonly number[]): void {
    for (const c of clusters) this.set(c, FAT_FREE);
  }

  /** Returns and forgets the dirty sector indexes, sorted. */
  takeDirty(): number[] {
    const out = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    return out;
  }

  /** Marks every sector dirty (used after mkfs and to resynchronise differing FAT copies). */
  markAllDirty(): void {
    const n = Math.ceil(this.bytes.length / this.bytesPerSector);
    for (let i = 0; i < n; i++) this.dirty.add(i);
  }
}
