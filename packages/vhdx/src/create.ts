import {
  type BlockDevice,
  type LongOperationOptions,
  NIL_GUID,
  normalizeGuid,
  randomGuid,
  throwIfAborted,
  UsageError,
} from '@lsvm/core';
import { batByteLength, PayloadState, payloadEntryIndex, writeBatEntry } from './bat.js';
import { HEADER_OFFSETS, MiB, REGION_TABLE_OFFSETS, VHDX_PARENT_LOCATOR_TYPE } from './constants.js';
import { serializeFileIdentifier } from './file-identifier.js';
import { serializeHeader } from './header.js';
import { defaultBlockSize, type LayoutPlan, planLayout } from './layout-plan.js';
import { isResizable, type ResizableDevice } from './memory-file.js';
import { type MetadataInput, serializeMetadata } from './metadata.js';
import type { ParentLocator } from './parent-locator.js';
import { serializeRegionTable } from './region-table.js';

/** The parent a differencing disk is created against. */
export interface DifferencingParent {
  /** The parent's current DataWriteGuid, recorded as `parent_linkage`. */
  dataWriteGuid: string;
  size: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  blockSize: number;
  /** Path of the parent relative to the child, Windows style (`.\base.vhdx`) or POSIX. */
  relativePath?: string;
  /** Absolute Win32 path of the parent (`C:\vms\base.vhdx`), or the absolute POSIX path. */
  absoluteWin32Path?: string;
  /** `\\?\Volume{GUID}\path` form, when known. */
  volumePath?: string;
}

/** Options of {@link createVhdx}. */
export interface VhdxCreateOptions extends LongOperationOptions {
  /** Virtual disk size in bytes (a multiple of the logical sector size). Taken from the parent if omitted. */
  size?: number;
  /** `fixed` allocates and writes every block; `dynamic` (default) allocates on write. Ignored with a parent. */
  type?: 'fixed' | 'dynamic';
  /** Block size (power of two, 1–256 MiB); default like qemu-img by disk size, or the parent's. */
  blockSize?: number;
  logicalSectorSize?: 512 | 4096;
  physicalSectorSize?: 512 | 4096;
  /** Virtual disk id (Page 83 GUID); random by default. */
  diskId?: string;
  /** Creator string of the file identifier. */
  creator?: string;
  /** Log size in bytes (multiple of 1 MiB, default 1 MiB). */
  logSize?: number;
  /** Makes a differencing child of this parent. */
  parent?: DifferencingParent;
}

/** Default creator string. */
export const CREATOR = 'lsvm @lsvm/vhdx';

/**
 * Writes a new, empty VHDX image into `file` (truncated first): fixed (every block FULLY_PRESENT
 * and really written, so the file is not sparse), dynamic (no block allocated) or a differencing
 * child of `options.parent` (no block present: everything reads through to the parent).
 */
export async function createVhdx(
  file: BlockDevice & ResizableDevice,
  options: VhdxCreateOptions,
): Promise<LayoutPlan> {
  const s = resolveCreate(options);
  const plan = planLayout({ ...s, hasParent: s.parent !== undefined });
  const g = plan.geometry;
  const bat = new Uint8Array(batByteLength(g));
  let end = plan.payloadOffset;
  if (s.type === 'fixed') {
    for (let b = 0; b < g.dataBlocks; b++) {
      writeBatEntry(bat, payloadEntryIndex(g, b), { state: PayloadState.FULLY_PRESENT, fileOffset: end });
      end += g.blockSize;
    }
  }
  // Not truncated when already empty: see emptyOutput (convert.ts) for ext4's flush on close.
  if (file.size !== 0) await file.resize(0);
  await file.resize(end);
  if (s.type === 'fixed') {
    // Really write the payload area: a fixed disk promises its space is allocated.
    const zeros = new Uint8Array(Math.min(8 * MiB, end - plan.payloadOffset) || MiB);
    for (let off = plan.payloadOffset; off < end; off += zeros.length) {
      throwIfAborted(options.signal);
      await file.write(off, zeros.subarray(0, Math.min(zeros.length, end - off)));
      options.onProgress?.(off + zeros.length - plan.payloadOffset, end - plan.payloadOffset);
    }
  }
  await writeSkeleton(file, plan, metadataOf(s), bat, s.creator);
  return plan;
}

/** Resolved creation parameters. */
export interface ResolvedCreate {
  size: number;
  type: 'fixed' | 'dynamic';
  blockSize: number;
  logicalSectorSize: 512 | 4096;
  physicalSectorSize: 512 | 4096;
  diskId: string;
  creator: string;
  logLength: number;
  parent: DifferencingParent | undefined;
}

/** Fills defaults and checks the combination. */
export function resolveCreate(o: VhdxCreateOptions): ResolvedCreate {
  const p = o.parent;
  const size = o.size ?? p?.size;
  if (size === undefined) throw new UsageError('VHDX_SIZE_REQUIRED', 'a size is needed to create a disk');
  if (p) {
    if (size !== p.size)
      throw new UsageError('VHDX_PARENT_SIZE', "a differencing disk has its parent's size");
    if (o.logicalSectorSize !== undefined && o.logicalSectorSize !== p.logicalSectorSize) {
      throw new UsageError(
        'VHDX_PARENT_SECTOR_SIZE',
        "a differencing disk has its parent's logical sector size",
      );
    }
    if (o.type === 'fixed') throw new UsageError('VHDX_TYPE', 'a differencing disk cannot be fixed');
  }
  return {
    size,
    type: o.type ?? 'dynamic',
    blockSize: o.blockSize ?? p?.blockSize ?? defaultBlockSize(size),
    logicalSectorSize: (o.logicalSectorSize ?? p?.logicalSectorSize ?? 512) as 512 | 4096,
    physicalSectorSize: (o.physicalSectorSize ?? p?.physicalSectorSize ?? 4096) as 512 | 4096,
    diskId: o.diskId ? normalizeGuid(o.diskId) : randomGuid(),
    creator: o.creator ?? CREATOR,
    logLength: o.logSize ?? MiB,
    parent: p,
  };
}

/** The metadata items of a new disk. */
export function metadataOf(s: ResolvedCreate): MetadataInput {
  let parentLocator: ParentLocator | undefined;
  if (s.parent) {
    const entries = new Map<string, string>();
    entries.set('parent_linkage', `{${normalizeGuid(s.parent.dataWriteGuid)}}`);
    if (s.parent.relativePath) entries.set('relative_path', s.parent.relativePath);
    if (s.parent.volumePath) entries.set('volume_path', s.parent.volumePath);
    if (s.parent.absoluteWin32Path) entries.set('absolute_win32_path', s.parent.absoluteWin32Path);
    parentLocator = { locatorType: VHDX_PARENT_LOCATOR_TYPE, entries };
  }
  return {
    blockSize: s.blockSize,
    leaveBlocksAllocated: s.type === 'fixed',
    hasParent: s.parent !== undefined,
    virtualDiskSize: s.size,
    virtualDiskId: s.diskId,
    logicalSectorSize: s.logicalSectorSize,
    physicalSectorSize: s.physicalSectorSize,
    parentLocator,
  };
}

/**
 * Writes the structures of a new file — metadata, BAT, region tables, file identifier — and the two
 * headers last, so an interrupted creation leaves a file that does not open rather than a wrong one.
 */
export async function writeSkeleton(
  file: BlockDevice,
  plan: LayoutPlan,
  metadata: MetadataInput,
  bat: Uint8Array,
  creator: string,
  sync = true,
): Promise<void> {
  if (!isResizable(file)) throw new UsageError('VHDX_NOT_WRITABLE', 'the output device must be resizable');
  if (file.size < plan.payloadOffset) await file.resize(plan.payloadOffset);
  await file.write(plan.metadataOffset, serializeMetadata(metadata, plan.metadataLength));
  await file.write(plan.batOffset, bat);
  const rt = serializeRegionTable(plan.regions);
  await file.write(REGION_TABLE_OFFSETS[0], rt);
  await file.write(REGION_TABLE_OFFSETS[1], rt);
  await file.write(0, serializeFileIdentifier({ creator }));
  if (sync) await file.flush();
  const fileWriteGuid = randomGuid();
  const dataWriteGuid = randomGuid();
  for (let i = 0; i < 2; i++) {
    const h = serializeHeader({
      sequenceNumber: BigInt(i + 1),
      fileWriteGuid,
      dataWriteGuid,
      logGuid: NIL_GUID,
      logVersion: 0,
      version: 1,
      logLength: plan.logLength,
      logOffset: plan.logOffset,
    });
    await file.write(HEADER_OFFSETS[i]!, h);
  }
  if (sync) await file.flush();
}
