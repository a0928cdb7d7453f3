import {
  type BatGeometry,
  BitmapState,
  isAllocated,
  isBitmapEntryIndex,
  isValidPayloadState,
  readBatEntry,
} from './bat.js';
import { HEADER_SECTION_SIZE, SECTOR_BITMAP_BLOCK_SIZE } from './constants.js';

/** A problem found in the BAT. */
export interface BatProblem {
  code:
    | 'VHDX_BAT_STATE'
    | 'VHDX_BAT_PAST_EOF'
    | 'VHDX_BAT_OVERLAP'
    | 'VHDX_BAT_IN_RESERVED'
    | 'VHDX_BAT_ALIGNMENT';
  /** BAT entry index. */
  index: number;
  message: string;
}

/** A file range that no block may overlap (header section, log, regions). */
export interface ReservedRange {
  name: string;
  start: number;
  end: number;
}

/**
 * Checks every BAT entry ([MS-VHDX] §2.5): valid state for its kind (payload or sector bitmap, with
 * or without parent), allocated blocks inside the file, not in the header section, log or regions,
 * and no two blocks sharing file space. Stops after `maxProblems`.
 */
export function validateBat(
  bat: Uint8Array,
  g: BatGeometry,
  fileSize: number,
  reserved: readonly ReservedRange[],
  maxProblems = 1000,
): BatProblem[] {
  const problems: BatProblem[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const owners: number[] = [];
  const add = (p: BatProblem): boolean => {
    problems.push(p);
    return problems.length >= maxProblems;
  };
  const sorted = [...reserved].sort((a, b) => a.start - b.start);
  for (let i = 0; i < g.totalEntries; i++) {
    const e = readBatEntry(bat, i);
    const bitmap = isBitmapEntryIndex(g, i);
    let size: number;
    if (bitmap) {
      if (e.state !== BitmapState.NOT_PRESENT && e.state !== BitmapState.PRESENT) {
        if (
          add({
            code: 'VHDX_BAT_STATE',
            index: i,
            message: `sector bitmap entry ${i} has invalid state ${e.state}`,
          })
        )
          break;
        continue;
      }
      if (e.state !== BitmapState.PRESENT) continue;
      size = SECTOR_BITMAP_BLOCK_SIZE;
    } else {
      if (!isValidPayloadState(e.state, g.hasParent)) {
        if (
          add({
            code: 'VHDX_BAT_STATE',
            index: i,
            message: `payload entry ${i} has invalid state ${e.state}`,
          })
        )
          break;
        continue;
      }
      if (!isAllocated(e.state)) continue;
      size = g.blockSize;
    }
    const start = e.fileOffset;
    const end = start + size;
    if (start < HEADER_SECTION_SIZE) {
      if (
        add({
          code: 'VHDX_BAT_ALIGNMENT',
          index: i,
          message: `entry ${i} points into the header section (${start})`,
        })
      )
        break;
      continue;
    }
    if (end > fileSize) {
      if (
        add({
          code: 'VHDX_BAT_PAST_EOF',
          index: i,
          message: `entry ${i} points at ${start}..${end}, past the end of the ${fileSize}-byte file`,
        })
      )
        break;
      continue;
    }
    const hit = sorted.find((r) => start < r.end && r.start < end);
    if (hit) {
      if (
        add({
          code: 'VHDX_BAT_IN_RESERVED',
          index: i,
          message: `entry ${i} at ${start} overlaps the ${hit.name}`,
        })
      )
        break;
      continue;
    }
    starts.push(start);
    ends.push(end);
    owners.push(i);
  }
  if (problems.length < maxProblems && starts.length > 1) {
    const order = Array.from(starts.keys()).sort((a, b) => starts[a]! - starts[b]!);
    for (let k = 1; k < order.length; k++) {
      const prev = order[k - 1]!;
      const cur = order[k]!;
      if (starts[cur]! < ends[prev]!) {
        if (
          add({
            code: 'VHDX_BAT_OVERLAP',
            index: owners[cur]!,
            message: `entries ${owners[prev]} and ${owners[cur]} share file space at ${starts[cur]}`,
          })
        )
          break;
      }
    }
  }
  return problems;
}
