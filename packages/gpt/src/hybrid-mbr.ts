import { isUsedEntry } from './entry.js';
import { lbaToChs, MBR_MAX_SECTORS, MBR_TYPE_GPT_PROTECTIVE, type Mbr, type MbrRecord } from './mbr.js';
import type { GptTable } from './table.js';

/**
 * Keeping a hybrid MBR true to the GPT it sits beside.
 *
 * A hybrid MBR (UEFI §5.2.3 forbids it, Boot Camp and `gdisk`'s `h` command make it) repeats some
 * GPT partitions as MBR records so legacy systems see them. The MBR records are only copies: when
 * the GPT changes under them, a stale record makes a legacy OS read or write the wrong sectors —
 * the worst kind of silent corruption. gdisk drops the MBR copy of a partition it deletes; we go a
 * step further and follow resizes too. A record is tied to the GPT partition that starts where it
 * starts (that is how gdisk builds them); an edit then:
 *   - keeps the record when the partition still starts there, with its size (and CHS end)
 *     following the partition's new end — dropped if the new size no longer fits 32 bits;
 *   - drops the record when no partition starts there any more (deleted or moved);
 *   - clamps the 0xEE record to the disk when the disk shrank below it.
 * Boot code, disk signature and record order are kept; dropped records become all-zero slots.
 */

/** What {@link reconcileHybridMbr} changed, for reports. */
export interface HybridMbrChange {
  /** Slot 0..3 of the record. */
  readonly slot: number;
  readonly action: 'resized' | 'removed' | 'clamped';
  readonly record: MbrRecord;
}

const EMPTY_RECORD: MbrRecord = {
  bootIndicator: 0,
  startChs: 0,
  osType: 0,
  endChs: 0,
  startingLba: 0,
  sizeInLba: 0,
};

/** The hybrid MBR `mbr` brought in line with `table` (see the module comment), and what changed. */
export function reconcileHybridMbr(mbr: Mbr, table: GptTable): { mbr: Mbr; changes: HybridMbrChange[] } {
  const changes: HybridMbrChange[] = [];
  const byStart = new Map<number, number>();
  for (const e of table.entries) if (isUsedEntry(e)) byStart.set(e.firstLba, e.lastLba);
  const records = mbr.records.map((r, slot): MbrRecord => {
    if (r.osType === 0) return r;
    if (r.osType === MBR_TYPE_GPT_PROTECTIVE) {
      const end = r.startingLba + r.sizeInLba - 1;
      if (r.sizeInLba === 0 || end <= table.diskSectors - 1) return r;
      const sizeInLba = Math.max(0, table.diskSectors - r.startingLba);
      const clamped = { ...r, sizeInLba, endChs: lbaToChs(r.startingLba + sizeInLba - 1) };
      changes.push({ slot, action: 'clamped', record: clamped });
      return clamped;
    }
    const last = byStart.get(r.startingLba);
    if (last === undefined || last - r.startingLba + 1 > MBR_MAX_SECTORS) {
      changes.push({ slot, action: 'removed', record: r });
      return EMPTY_RECORD;
    }
    const sizeInLba = last - r.startingLba + 1;
    if (sizeInLba === r.sizeInLba) return r;
    const resized = { ...r, sizeInLba, endChs: lbaToChs(last) };
    changes.push({ slot, action: 'resized', record: resized });
    return resized;
  });
  return { mbr: { ...mbr, records }, changes };
}
