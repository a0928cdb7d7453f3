import { type BlockDevice, checkLimit, FormatError, LimitError } from '@lsvm/core';
import { type BatGeometry, batByteLength, batGeometry } from './bat.js';
import { type ReservedRange, validateBat } from './bat-check.js';
import { HEADER_OFFSETS, HEADER_SECTION_SIZE, KiB64, REGION_TABLE_OFFSETS } from './constants.js';
import { parseFileIdentifier } from './file-identifier.js';
import { type CurrentHeader, logInUse, selectHeader } from './header.js';
import type { VhdxLimits } from './limits.js';
import { type ActiveSequence, findActiveSequence } from './log-replay.js';
import { parseMetadata, type VhdxMetadata } from './metadata.js';
import { parseRegionTable, type RegionTable } from './region-table.js';

/** Everything read from a VHDX file before any payload access. */
export interface VhdxLayout {
  creator: string;
  current: CurrentHeader;
  regions: RegionTable;
  /** Which region table copy was used (0 or 1) and the other copy's problem, if any. */
  regionSlot: 0 | 1;
  metadata: VhdxMetadata;
  geometry: BatGeometry;
  /** The BAT bytes (exactly `totalEntries × 8`). */
  bat: Uint8Array;
  /** Ranges no payload block may overlap. */
  reserved: ReservedRange[];
}

/** Reads the header section and picks the current header. */
export async function readHeaders(file: BlockDevice): Promise<{ creator: string; current: CurrentHeader }> {
  if (file.size < REGION_TABLE_OFFSETS[1] + KiB64) {
    throw new FormatError('VHDX_TRUNCATED', `a ${file.size}-byte file is too short to be a VHDX file`, {
      structure: 'VHDX file',
      offset: 0,
    });
  }
  const head = await file.read(0, REGION_TABLE_OFFSETS[0]);
  const { creator } = parseFileIdentifier(head);
  const current = selectHeader(head.subarray(HEADER_OFFSETS[0]), head.subarray(HEADER_OFFSETS[1]));
  return { creator, current };
}

/**
 * Reads the log region named by `header` and finds its active sequence; `undefined` when the log is
 * not in use or empty. Throws when the log lies outside the file or exceeds the limits.
 */
export async function readActiveLog(
  file: BlockDevice,
  header: CurrentHeader['header'],
  limits: VhdxLimits,
): Promise<ActiveSequence | undefined> {
  if (!logInUse(header) || header.logLength === 0) return undefined;
  checkLimit(header.logLength, limits.maxLogBytes, 'VHDX_LOG_TOO_LARGE', 'log length', 'VHDX header');
  if (header.logOffset + header.logLength > file.size) {
    throw new FormatError('VHDX_LOG_PAST_EOF', 'the log runs past the end of the file', {
      structure: 'VHDX log',
      offset: header.logOffset,
    });
  }
  const log = await file.read(header.logOffset, header.logLength);
  const seq = findActiveSequence(log, header.logGuid, header.logOffset);
  if (seq) {
    // Bound the work a hostile log can ask of a read-write replay (zero ranges, file growth).
    let zeroBytes = 0;
    let end = Math.max(file.size, seq.lastFileOffset);
    for (const e of seq.entries) {
      for (const w of e.writes) {
        if (w.kind === 'zero') zeroBytes += w.length;
        end = Math.max(end, w.fileOffset + (w.kind === 'zero' ? w.length : w.data.length));
      }
    }
    if (zeroBytes > limits.maxExpandedBytes || end - file.size > limits.maxExpandedBytes) {
      throw new LimitError('VHDX_LOG_TOO_LARGE', 'the log asks to zero or grow more than the limit allows', {
        structure: 'VHDX log',
        offset: header.logOffset + seq.head.offset,
      });
    }
  }
  if (seq && file.size < seq.flushedFileOffset) {
    throw new FormatError(
      'VHDX_LOG_TRUNCATED_FILE',
      `the file is ${file.size} bytes but the log says ${seq.flushedFileOffset} bytes were flushed: it was truncated`,
      { structure: 'VHDX log', offset: header.logOffset + seq.head.offset },
    );
  }
  return seq;
}

/** Reads the region tables: the first valid copy wins. */
export async function readRegions(file: BlockDevice): Promise<{ regions: RegionTable; slot: 0 | 1 }> {
  const bytes = await file.read(REGION_TABLE_OFFSETS[0], 2 * KiB64);
  try {
    return { regions: parseRegionTable(bytes.subarray(0, KiB64), REGION_TABLE_OFFSETS[0]), slot: 0 };
  } catch (e1) {
    try {
      return { regions: parseRegionTable(bytes.subarray(KiB64), REGION_TABLE_OFFSETS[1]), slot: 1 };
    } catch {
      throw e1;
    }
  }
}

/**
 * Reads and validates everything but the payload from `file` (already log-replayed, or an overlay):
 * regions inside the file and clear of the log, metadata, BAT geometry and every BAT entry.
 */
export async function readLayout(
  file: BlockDevice,
  current: CurrentHeader,
  creator: string,
  limits: VhdxLimits,
  options: { validateEntries?: boolean } = {},
): Promise<VhdxLayout> {
  const { regions, slot } = await readRegions(file);
  const h = current.header;
  const reserved: ReservedRange[] = [{ name: 'header section', start: 0, end: HEADER_SECTION_SIZE }];
  if (h.logLength > 0) reserved.push({ name: 'log', start: h.logOffset, end: h.logOffset + h.logLength });
  for (const r of regions.entries) {
    const name =
      r === regions.bat ? 'BAT region' : r === regions.metadata ? 'metadata region' : `region ${r.guid}`;
    if (r.fileOffset + r.length > file.size) {
      throw new FormatError('VHDX_REGION_PAST_EOF', `the ${name} runs past the end of the file`, {
        structure: 'VHDX region table',
        offset: r.fileOffset,
      });
    }
    if (
      h.logLength > 0 &&
      r.fileOffset < h.logOffset + h.logLength &&
      h.logOffset < r.fileOffset + r.length
    ) {
      throw new FormatError('VHDX_REGION_OVERLAP', `the ${name} overlaps the log`, {
        structure: 'VHDX region table',
        offset: r.fileOffset,
      });
    }
    reserved.push({ name, start: r.fileOffset, end: r.fileOffset + r.length });
  }
  checkLimit(
    regions.metadata.length,
    limits.maxMetadataBytes,
    'VHDX_METADATA_TOO_LARGE',
    'metadata region length',
  );
  const metaBytes = await file.read(regions.metadata.fileOffset, regions.metadata.length);
  const metadata = parseMetadata(metaBytes, regions.metadata.fileOffset);
  const geometry = batGeometry(metadata);
  if (geometry.totalEntries > limits.maxBatEntries || batByteLength(geometry) > limits.maxAllocation) {
    throw new LimitError(
      'VHDX_BAT_TOO_LARGE',
      `the BAT has ${geometry.totalEntries} entries, above the limit of ${limits.maxBatEntries}`,
      { structure: 'VHDX BAT', offset: regions.bat.fileOffset },
    );
  }
  if (batByteLength(geometry) > regions.bat.length) {
    throw new FormatError(
      'VHDX_BAT_TOO_SMALL',
      `the BAT region holds ${regions.bat.length} bytes but ${geometry.totalEntries} entries need ${batByteLength(geometry)}`,
      { structure: 'VHDX BAT', offset: regions.bat.fileOffset },
    );
  }
  const bat = await file.read(regions.bat.fileOffset, batByteLength(geometry));
  if (options.validateEntries ?? true) {
    const problems = validateBat(bat, geometry, file.size, reserved, 1);
    const p = problems[0];
    if (p) {
      throw new FormatError(p.code, p.message, {
        structure: 'VHDX BAT',
        offset: regions.bat.fileOffset + p.index * 8,
      });
    }
  }
  return { creator, current, regions, regionSlot: slot, metadata, geometry, bat, reserved };
}
