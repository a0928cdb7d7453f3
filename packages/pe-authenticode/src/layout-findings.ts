import { quoted } from '@lsvm/core';
import type { CoffHeader } from './coff-header.js';
import type { OptionalHeader } from './optional-header.js';
import { CERTIFICATE_TABLE_INDEX } from './optional-header.js';
import type { SectionHeader } from './section-table.js';

/**
 * A layout property of a PE file worth reporting: hostile or unusual layouts are findings, not
 * crashes, because the same bytes can be hashed differently by different verifiers (the section-
 * sorted and linear Authenticode methods disagree exactly on such files).
 */
export interface LayoutFinding {
  /** Stable identifier, e.g. `SECTIONS_OVERLAP`. */
  code: LayoutFindingCode;
  /** `error` for layouts loaders refuse or verifiers disagree on, `warning` for oddities. */
  severity: 'error' | 'warning';
  message: string;
  /** File offset concerned, when there is one. */
  offset?: number;
}

/** Every finding code {@link layoutFindings} can produce. */
export type LayoutFindingCode =
  | 'SECTIONS_UNSORTED'
  | 'SECTIONS_OVERLAP'
  | 'SECTION_GAP'
  | 'DATA_BETWEEN_SECTIONS'
  | 'SECTION_PAST_EOF'
  | 'SECTION_INSIDE_HEADERS'
  | 'HEADERS_PAST_EOF'
  | 'SECTION_TABLE_PAST_HEADERS'
  | 'FEW_DATA_DIRECTORIES'
  | 'CERT_TABLE_NOT_AT_END'
  | 'CERT_TABLE_PAST_EOF'
  | 'CERT_TABLE_UNALIGNED'
  | 'CERT_TABLE_INSIDE_SECTIONS'
  | 'OVERLAY'
  | 'UNPADDED_LENGTH'
  | 'CHECKSUM_MISMATCH';

/** Inputs of the layout check, all already parsed. */
export interface LayoutInput {
  fileSize: number;
  coff: CoffHeader;
  optional: OptionalHeader;
  sections: SectionHeader[];
  /** End of the section table (file offset). */
  sectionTableEnd: number;
  /** Bytes of the file, to tell zero gaps from hidden data. */
  bytes: Uint8Array;
}

/** Checks section and certificate-table placement; never throws. */
export function layoutFindings(x: LayoutInput): LayoutFinding[] {
  const out: LayoutFinding[] = [];
  const add = (
    code: LayoutFindingCode,
    severity: 'error' | 'warning',
    message: string,
    offset?: number,
  ): void => {
    out.push(offset === undefined ? { code, severity, message } : { code, severity, message, offset });
  };
  const { fileSize, optional: oh } = x;
  const headers = oh.sizeOfHeaders;
  if (headers > fileSize)
    add('HEADERS_PAST_EOF', 'error', `SizeOfHeaders ${headers} exceeds the file size ${fileSize}`);
  if (x.sectionTableEnd > headers)
    add(
      'SECTION_TABLE_PAST_HEADERS',
      'warning',
      `section table ends at ${x.sectionTableEnd}, after SizeOfHeaders ${headers}`,
    );
  if (oh.numberOfRvaAndSizes <= CERTIFICATE_TABLE_INDEX)
    add(
      'FEW_DATA_DIRECTORIES',
      'error',
      `NumberOfRvaAndSizes is ${oh.numberOfRvaAndSizes}: no certificate table directory, the image cannot be signed`,
    );

  const withData = x.sections.filter((s) => s.sizeOfRawData > 0);
  for (let i = 1; i < withData.length; i++) {
    if (withData[i]!.pointerToRawData < withData[i - 1]!.pointerToRawData) {
      add(
        'SECTIONS_UNSORTED',
        'warning',
        `section ${quoted(withData[i]!.name)} precedes ${quoted(withData[i - 1]!.name)} in the file`,
        withData[i]!.headerOffset,
      );
      break;
    }
  }
  for (const s of withData) {
    if (s.pointerToRawData + s.sizeOfRawData > fileSize)
      add(
        'SECTION_PAST_EOF',
        'error',
        `section ${quoted(s.name)} (${s.pointerToRawData}+${s.sizeOfRawData}) runs past the end of the file`,
        s.headerOffset,
      );
    if (s.pointerToRawData < headers)
      add(
        'SECTION_INSIDE_HEADERS',
        'error',
        `section ${quoted(s.name)} starts at ${s.pointerToRawData}, inside the headers`,
        s.headerOffset,
      );
  }
  const sorted = [...withData].sort((a, b) => a.pointerToRawData - b.pointerToRawData);
  let cursor = headers;
  for (const s of sorted) {
    const start = s.pointerToRawData;
    if (start < cursor && start >= headers) {
      add(
        'SECTIONS_OVERLAP',
        'error',
        `section ${quoted(s.name)} at ${start} overlaps the previous section (ends at ${cursor})`,
        start,
      );
    } else if (start > cursor) {
      const gap = x.bytes.subarray(Math.min(cursor, fileSize), Math.min(start, fileSize));
      if (gap.some((b) => b !== 0))
        add(
          'DATA_BETWEEN_SECTIONS',
          'error',
          `${start - cursor} bytes between sections at ${cursor} hold data that the section-sorted digest does not cover`,
          cursor,
        );
      else
        add('SECTION_GAP', 'warning', `${start - cursor} zero bytes between sections at ${cursor}`, cursor);
    }
    cursor = Math.max(cursor, start + s.sizeOfRawData);
  }
  const sectionsEnd = cursor;

  const dir = oh.dataDirectories[CERTIFICATE_TABLE_INDEX];
  if (dir !== undefined && dir.size > 0) {
    const end = dir.virtualAddress + dir.size;
    if (end > fileSize)
      add(
        'CERT_TABLE_PAST_EOF',
        'error',
        `certificate table ${dir.virtualAddress}+${dir.size} runs past the end of the file`,
        dir.virtualAddress,
      );
    else if (end !== fileSize)
      add(
        'CERT_TABLE_NOT_AT_END',
        'error',
        `certificate table ends at ${end}, ${fileSize - end} bytes before the end of the file`,
        dir.virtualAddress,
      );
    if (dir.virtualAddress % 8 !== 0)
      add(
        'CERT_TABLE_UNALIGNED',
        'warning',
        `certificate table offset ${dir.virtualAddress} is not 8-byte aligned`,
        dir.virtualAddress,
      );
    if (dir.virtualAddress < sectionsEnd)
      add(
        'CERT_TABLE_INSIDE_SECTIONS',
        'error',
        `certificate table at ${dir.virtualAddress} lies inside the headers or sections (which end at ${sectionsEnd})`,
        dir.virtualAddress,
      );
    else if (dir.virtualAddress > sectionsEnd)
      add(
        'OVERLAY',
        'warning',
        `${dir.virtualAddress - sectionsEnd} bytes of trailing data before the certificate table`,
        sectionsEnd,
      );
  } else {
    if (fileSize > sectionsEnd)
      add(
        'OVERLAY',
        'warning',
        `${fileSize - sectionsEnd} bytes of trailing data after the last section`,
        sectionsEnd,
      );
    if (fileSize % 8 !== 0)
      add(
        'UNPADDED_LENGTH',
        'warning',
        `file length ${fileSize} is not a multiple of 8: a signature's digest will include ${8 - (fileSize % 8)} zero bytes of padding`,
      );
  }
  return out;
}
