import { type BlockDevice, FormatError, UsageError } from '@lsvm/core';
import type { GptFinding } from './errors.js';
import { reconcileHybridMbr } from './hybrid-mbr.js';
import { protectiveSize, protectiveRecord } from './mbr.js';
import { type GptCopy, type GptDisk, type OpenGptOptions, openGpt, tableFromCopy } from './open.js';
import { relocateBackup } from './edit.js';
import { isUsedEntry } from './entry.js';
import { arraySectorsOf, type GptTable } from './table.js';
import { checkLayout } from './validate.js';
import { serializeGpt, writeGpt } from './writer.js';

/**
 * Explicit repair (never automatic on open). It rebuilds a damaged copy from the intact one,
 * relocates the backup to the end of a grown disk and rewrites a wrong protective MBR. It never
 * changes partition entries: the array written is the intact copy's bytes, verbatim.
 */

/** Options of {@link repairGpt}. */
export interface RepairGptOptions extends OpenGptOptions {
  /**
   * Replace a plain (non-protective) MBR by a protective one. Off by default: the MBR records
   * it holds would be lost, and a disk with real MBR partitions may not be a GPT disk at all.
   */
  forceProtectiveMbr?: boolean;
  /** Report what would be done without writing. */
  dryRun?: boolean;
}

/** What {@link repairGpt} did. */
export interface RepairResult {
  /** One line per action, e.g. `rebuilt the primary header and array from the backup`. */
  readonly actions: readonly string[];
  /** Findings before the repair. */
  readonly before: readonly GptFinding[];
  /** Findings after the repair (re-read from the device); equal to `before` on a dry run. */
  readonly after: readonly GptFinding[];
  /** Which copy the table was taken from. */
  readonly source: 'primary' | 'backup';
}

/**
 * Repairs the GPT on `device`.
 * @throws FormatError `GPT_NO_VALID_HEADER` when neither copy is intact (nothing to rebuild from),
 *   UsageError `GPT_DISK_TOO_SMALL` when the disk shrank below the partitions.
 */
export async function repairGpt(device: BlockDevice, options: RepairGptOptions = {}): Promise<RepairResult> {
  const disk = await openGpt(device, options);
  if (!disk.table || !disk.source) {
    throw new FormatError(
      'GPT_NO_VALID_HEADER',
      'neither GPT copy is intact: there is nothing to rebuild from',
      {
        structure: 'GPT header',
      },
    );
  }
  const { copy: src, table } = chooseSource(disk);
  const ss = disk.sectorSize;
  const mbrAction = mbrRepair(disk, options.forceProtectiveMbr === true);
  const writeOptions = {
    arrayBytes: src.arrayBytes!,
    mbr: disk.mbr,
    keepHybrid: mbrAction === undefined,
    // Repair restores redundancy; it must work even when entries overlap (it never edits them).
    unchecked: true,
  };
  const img = serializeGpt(table, writeOptions);
  const other = src.which === 'primary' ? 'backup' : 'primary';
  const actions: string[] = [];
  if (table.backupHeaderLba !== disk.table.backupHeaderLba || table.backupHeaderLba !== disk.backup.lba) {
    actions.push(`moved the backup header to the last LBA ${table.backupHeaderLba} (was ${disk.backup.lba})`);
  }
  const stale = staleBackupLba(disk, table);
  if (stale !== undefined) actions.push(`wiped the old backup header at LBA ${stale}`);
  const same = async (lba: number, bytes: Uint8Array): Promise<boolean> =>
    (lba + bytes.length / ss) * ss <= device.size && equal(await device.read(lba * ss, bytes.length), bytes);
  if (!(await same(1, img.primaryHeader)) || !(await same(table.primaryEntryLba, img.array))) {
    actions.push(
      src.which === 'primary'
        ? 'rewrote the primary header'
        : 'rebuilt the primary header and array from the backup',
    );
  }
  if (
    !(await same(table.backupHeaderLba, img.backupHeader)) ||
    !(await same(table.backupEntryLba, img.array))
  ) {
    actions.push(
      src.which === 'backup'
        ? 'rewrote the backup header'
        : 'rebuilt the backup header and array from the primary',
    );
  }
  if (mbrAction) actions.push(mbrAction);
  else if (disk.mbr.kind === 'hybrid') {
    // The kept hybrid MBR is brought in line with the table as it is written (serializeGpt): say so.
    for (const c of reconcileHybridMbr(disk.mbr, table).changes)
      actions.push(`${c.action} hybrid MBR record ${c.slot + 1} (type 0x${c.record.osType.toString(16)})`);
  }
  if (actions.length === 0 || options.dryRun) {
    return { actions, before: disk.findings, after: disk.findings, source: src.which };
  }
  if (device.readOnly) throw new UsageError('READ_ONLY', 'the device is read-only; cannot repair');
  // The copy being rebuilt is written first, so the intact one stays intact until the other is whole.
  await writeGpt(device, table, {
    ...writeOptions,
    order: other === 'primary' ? 'primary-first' : 'backup-first',
  });
  // Only once both new copies are whole: until then the old backup may be the one intact copy.
  if (stale !== undefined) {
    await device.write(stale * ss, new Uint8Array(ss));
    await device.flush();
  }
  const after = await openGpt(device, { ...options, sectorSize: ss });
  return { actions, before: disk.findings, after: after.findings, source: src.which };
}

/**
 * The copy to rebuild from, and the table to write: the preferred intact copy whose layout holds
 * once the backup sits at the end of the disk; the other intact copy when it does not (a header
 * can be intact — CRC correct — and still describe an impossible layout).
 */
function chooseSource(disk: GptDisk): { copy: GptCopy; table: GptTable } {
  // A copy without any finding beats one with warnings (an unknown revision, say), which beats
  // one with errors; ties go to the copy openGpt trusts.
  const rank = (c: GptCopy): number => (c.problems.length === 0 ? 0 : c.valid ? 1 : 2);
  const preferred = disk.source === 'backup' ? disk.backup : disk.primary;
  const otherCopy = preferred === disk.primary ? disk.backup : disk.primary;
  const [first, second] = rank(otherCopy) < rank(preferred) ? [otherCopy, preferred] : [preferred, otherCopy];
  const candidates = [first, second].filter((c) => c.intact);
  let lastError: unknown;
  for (const copy of candidates) {
    const other = copy === first ? second : first;
    for (const o of other.intact ? [other, undefined] : [undefined]) {
      let table = tableFromCopy(copy, o, disk.sectorSize, disk.diskSectors);
      try {
        if (table.backupHeaderLba !== disk.diskSectors - 1) table = relocateBackup(table, disk.diskSectors);
      } catch (e) {
        lastError = e;
        continue;
      }
      if (!checkLayout(table).some((p) => p.severity === 'error')) return { copy, table };
    }
  }
  if (lastError) throw lastError;
  throw new FormatError('GPT_NO_VALID_HEADER', 'no intact GPT copy describes a consistent layout', {
    structure: 'GPT header',
  });
}

/**
 * The LBA of an intact backup header left behind by relocation (a grown disk), when it now lies in
 * free space. It is wiped after the move: a second, stale but valid header in the middle of the
 * disk is what recovery tools (and the backup probe of readers whose primary is damaged, like our
 * own open) may pick up later, resurrecting an old table. Inside a partition it is data — never
 * touched.
 */
function staleBackupLba(disk: GptDisk, table: GptTable): number | undefined {
  const lba = disk.backup.lba;
  if (!disk.backup.intact || lba === table.backupHeaderLba || lba <= 1 || lba >= table.diskSectors)
    return undefined;
  const inPartition = table.entries.some((e) => isUsedEntry(e) && e.firstLba <= lba && lba <= e.lastLba);
  const inArrays = [table.primaryEntryLba, table.backupEntryLba].some(
    (start) => lba >= start && lba < start + arraySectorsOf(table),
  );
  return inPartition || inArrays ? undefined : lba;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function mbrRepair(disk: GptDisk, force: boolean): string | undefined {
  const m = disk.mbr;
  switch (m.kind) {
    case 'none':
      return 'wrote a protective MBR (there was none)';
    case 'empty':
      return 'wrote the protective MBR record (the MBR had no records)';
    case 'mbr':
      if (!force) return undefined;
      return 'replaced the plain MBR by a protective MBR';
    case 'hybrid':
      return undefined;
    case 'protective': {
      const ee = protectiveRecord(m)!;
      if (
        ee.startingLba !== 1 ||
        ee.sizeInLba !== protectiveSize(disk.diskSectors) ||
        m.records.filter((r) => r.osType !== 0).length > 1
      ) {
        return `rewrote the protective MBR (0xEE record LBA ${ee.startingLba}+${ee.sizeInLba}, needs 1+${protectiveSize(disk.diskSectors)})`;
      }
      return undefined;
    }
  }
}
