import { type BlockDevice, isLsvmError, NIL_GUID, UsageError } from '@lsvm/core';
import { validateBat } from './bat-check.js';
import { HEADER_OFFSETS, KiB64, REGION_TABLE_OFFSETS } from './constants.js';
import { type CurrentHeader, serializeHeader } from './header.js';
import { readActiveLog, readHeaders, readLayout } from './image.js';
import { resolveVhdxLimits, type VhdxLimits } from './limits.js';
import { isResizable } from './memory-file.js';
import { LogOverlayDevice } from './overlay-device.js';
import { parseRegionTable, type RegionTable, serializeRegionTable } from './region-table.js';
import { applyWrites, VhdxDevice } from './vhdx-device.js';

/** One problem `check` found. */
export interface VhdxFinding {
  /** Stable code, e.g. `VHDX_HEADER_CHECKSUM`, `VHDX_BAT_PAST_EOF`, `VHDX_LOG_REPLAY_NEEDED`. */
  code: string;
  /** `fatal`: the file cannot be opened at all; `error`: damage; `warning`: worth knowing. */
  severity: 'fatal' | 'error' | 'warning';
  message: string;
  /** File offset of the problem, when known. */
  offset?: number;
  /** True when `--repair` fixed it. */
  repaired?: boolean;
}

/** Result of {@link checkVhdx}. */
export interface VhdxCheckResult {
  findings: VhdxFinding[];
  /** True when no finding remains unrepaired. */
  clean: boolean;
}

/** Options of {@link checkVhdx}. */
export interface VhdxCheckOptions {
  /** Fix what can be fixed: replay the log, rewrite a damaged header or region table copy, drop bad BAT entries. */
  repair?: boolean;
  limits?: Partial<VhdxLimits>;
}

/**
 * Checks a VHDX file like `qemu-img check`: both headers and region tables, the log (replay
 * needed?), metadata, and every BAT entry (state, past EOF, overlaps). With `repair`, the file
 * (writable and resizable) is fixed where possible, then checked again; repaired findings are
 * kept in the result with `repaired: true`.
 */
export async function checkVhdx(file: BlockDevice, options: VhdxCheckOptions = {}): Promise<VhdxCheckResult> {
  const limits = resolveVhdxLimits(options.limits);
  const first = await inspect(file, limits);
  if (!options.repair || first.findings.every((f) => f.severity === 'warning')) {
    return { findings: first.findings, clean: first.findings.every((f) => f.severity === 'warning') };
  }
  if (file.readOnly || !isResizable(file)) {
    throw new UsageError('VHDX_NOT_WRITABLE', 'repair needs a writable, resizable device');
  }
  if (first.current) await repair(file, first, limits);
  const after = await inspect(file, limits);
  const remaining = new Set(after.findings.map((f) => `${f.code}@${f.offset ?? ''}`));
  const findings: VhdxFinding[] = first.findings.map((f) => ({
    ...f,
    repaired: !remaining.has(`${f.code}@${f.offset ?? ''}`),
  }));
  for (const f of after.findings)
    if (!first.findings.some((g) => g.code === f.code && g.offset === f.offset)) findings.push(f);
  return { findings, clean: after.findings.every((f) => f.severity === 'warning') };
}

interface Inspection {
  findings: VhdxFinding[];
  current?: CurrentHeader;
  badHeaderSlots: number[];
  logNeedsReplay: boolean;
  regionTables: [RegionTable | undefined, RegionTable | undefined];
  badBatEntries: number[];
  logicalSectorSize: number;
}

function finding(e: unknown, severity: VhdxFinding['severity'], fallbackOffset?: number): VhdxFinding {
  if (isLsvmError(e)) {
    const off = typeof e.offset === 'bigint' ? Number(e.offset) : (e.offset ?? fallbackOffset);
    return { code: e.code, severity, message: e.message, ...(off !== undefined ? { offset: off } : {}) };
  }
  throw e;
}

async function inspect(file: BlockDevice, limits: VhdxLimits): Promise<Inspection> {
  const out: Inspection = {
    findings: [],
    badHeaderSlots: [],
    logNeedsReplay: false,
    regionTables: [undefined, undefined],
    badBatEntries: [],
    logicalSectorSize: 512,
  };
  let creator: string;
  try {
    const h = await readHeaders(file);
    creator = h.creator;
    out.current = h.current;
  } catch (e) {
    out.findings.push(finding(e, 'fatal', 0));
    return out;
  }
  const current = out.current;
  current.copies.forEach((c, slot) => {
    if (c instanceof Error) {
      out.findings.push(finding(c, 'error', HEADER_OFFSETS[slot]));
      out.badHeaderSlots.push(slot);
    }
  });
  let src: BlockDevice = file;
  try {
    const seq = await readActiveLog(file, current.header, limits);
    if (seq) {
      out.logNeedsReplay = true;
      out.findings.push({
        code: 'VHDX_LOG_REPLAY_NEEDED',
        severity: 'error',
        message: `the log holds ${seq.entries.length} entr${seq.entries.length === 1 ? 'y' : 'ies'} not applied to the file (an interrupted update)`,
        offset: current.header.logOffset + seq.head.offset,
      });
      src = new LogOverlayDevice(
        file,
        seq.entries.flatMap((x) => x.writes),
        seq.lastFileOffset,
      );
    }
  } catch (e) {
    out.findings.push(finding(e, 'fatal', current.header.logOffset));
    return out;
  }
  const rt = await src.read(REGION_TABLE_OFFSETS[0], 2 * KiB64);
  for (const slot of [0, 1] as const) {
    try {
      out.regionTables[slot] = parseRegionTable(
        rt.subarray(slot * KiB64, (slot + 1) * KiB64),
        REGION_TABLE_OFFSETS[slot],
      );
    } catch (e) {
      out.findings.push(finding(e, 'error', REGION_TABLE_OFFSETS[slot]));
    }
  }
  const [r1, r2] = out.regionTables;
  if (r1 && r2 && JSON.stringify(r1.entries) !== JSON.stringify(r2.entries)) {
    out.findings.push({
      code: 'VHDX_REGION_TABLES_DIFFER',
      severity: 'warning',
      message: 'the two region table copies differ',
      offset: REGION_TABLE_OFFSETS[1],
    });
  }
  if (!r1 && !r2) {
    out.findings.push({
      code: 'VHDX_NO_REGION_TABLE',
      severity: 'fatal',
      message: 'no valid region table copy',
    });
    return out;
  }
  try {
    const layout = await readLayout(src, current, creator, limits, { validateEntries: false });
    out.logicalSectorSize = layout.metadata.logicalSectorSize;
    for (const p of validateBat(layout.bat, layout.geometry, src.size, layout.reserved)) {
      out.findings.push({
        code: p.code,
        severity: 'error',
        message: p.message,
        offset: layout.regions.bat.fileOffset + p.index * 8,
      });
      out.badBatEntries.push(p.index);
    }
  } catch (e) {
    out.findings.push(finding(e, 'fatal'));
  }
  return out;
}

async function repair(file: BlockDevice, found: Inspection, limits: VhdxLimits): Promise<void> {
  const current = found.current!;
  let header = current.header;
  const dev = file as BlockDevice & { resize(n: number): Promise<void> };
  if (found.logNeedsReplay) {
    const seq = await readActiveLog(file, header, limits);
    if (seq)
      await applyWrites(
        dev,
        seq.entries.flatMap((e) => e.writes),
        seq.lastFileOffset,
      );
    header = { ...header, logGuid: NIL_GUID };
  }
  if (found.logNeedsReplay || found.badHeaderSlots.length > 0) {
    // Rewrite both copies, the stale or damaged slot first, each with a higher sequence number.
    let slot: 0 | 1 = current.slot === 0 ? 1 : 0;
    for (let i = 0; i < 2; i++) {
      header = { ...header, sequenceNumber: header.sequenceNumber + 1n };
      await file.write(HEADER_OFFSETS[slot], serializeHeader(header));
      await file.flush();
      slot = slot === 0 ? 1 : 0;
    }
  }
  const [r1, r2] = found.regionTables;
  const good = r1 ?? r2;
  if (good && (!r1 || !r2)) {
    await file.write(REGION_TABLE_OFFSETS[r1 ? 1 : 0], serializeRegionTable(good.entries));
    await file.flush();
  }
  if (found.badBatEntries.length > 0) {
    const vdev = await VhdxDevice.open(file, {
      readOnly: false,
      skipBatValidation: true,
      checkParentLinkage: false,
      limits,
      // A differencing child's BAT can be repaired without its parent: no payload is read.
      parent: undefined,
      resolveParent: async () => new NullParent(found.logicalSectorSize),
    });
    try {
      await vdev.resetBatEntries(found.badBatEntries);
    } finally {
      await vdev.close();
    }
  }
}

/** Stand-in parent for repairs that never read payload. */
class NullParent {
  readonly size = Number.MAX_SAFE_INTEGER;
  readonly readOnly = true;
  constructor(readonly sectorSize: number) {}
  async read(): Promise<Uint8Array> {
    throw new UsageError('VHDX_NO_PARENT', 'no parent during repair');
  }
  async readInto(): Promise<void> {
    throw new UsageError('VHDX_NO_PARENT', 'no parent during repair');
  }
  async write(): Promise<void> {
    throw new UsageError('VHDX_NO_PARENT', 'no parent during repair');
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
