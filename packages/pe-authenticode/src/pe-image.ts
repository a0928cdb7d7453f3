import { FormatError, LimitError } from '@lsvm/core';
import { type WinCertificate, parseCertificateTable } from './certificate-table.js';
import { peChecksum } from './checksum.js';
import { COFF_HEADER_SIZE, type CoffHeader, parseCoffHeader } from './coff-header.js';
import { type DosHeader, parseDosHeader } from './dos-header.js';
import { type LayoutFinding, layoutFindings } from './layout-findings.js';
import { DEFAULT_PE_LIMITS, type PeLimits } from './limits.js';
import { CERTIFICATE_TABLE_INDEX, type OptionalHeader, parseOptionalHeader } from './optional-header.js';
import { type SbatEntry, parseSbat } from './sbat.js';
import { SECTION_HEADER_SIZE, type SectionHeader, parseSectionTable, sectionData } from './section-table.js';

/** A parsed PE/COFF image: every header, the certificate table and the layout findings. */
export interface PeImage {
  /** Length of the file in bytes. */
  fileSize: number;
  dos: DosHeader;
  coff: CoffHeader;
  optional: OptionalHeader;
  sections: SectionHeader[];
  /** File offset just past the section table. */
  sectionTableEnd: number;
  /**
   * The attribute certificate table (data directory 4), absent when the directory is missing or
   * empty. `error` is set (and `entries` empty) when the table could not be walked.
   */
  certificateTable?: {
    offset: number;
    size: number;
    entries: WinCertificate[];
    error?: { code: string; message: string };
  };
  /** Entries of the `.sbat` section, when there is one. */
  sbat?: SbatEntry[];
  /** Stored and computed PE checksums. */
  checksum: { stored: number; computed: number; matches: boolean };
  /** Layout findings (overlaps, gaps, hidden data, misplaced certificate table…). */
  findings: LayoutFinding[];
}

/**
 * Parses a PE/COFF image held in memory. Malformed headers throw a {@link FormatError}; layout
 * problems a loader or verifier should know about are returned as `findings`.
 */
export function parsePe(bytes: Uint8Array, limits: Partial<PeLimits> = {}): PeImage {
  const lim = { ...DEFAULT_PE_LIMITS, ...limits };
  const { dos, coff, optional, sections, sectionTableEnd } = parsePeHeaders(bytes, lim);
  const image: PeImage = {
    fileSize: bytes.length,
    dos,
    coff,
    optional,
    sections,
    sectionTableEnd,
    checksum: { stored: optional.checkSum, computed: 0, matches: false },
    findings: [],
  };
  const dir = optional.dataDirectories[CERTIFICATE_TABLE_INDEX];
  if (dir !== undefined && dir.size > 0) {
    const t: NonNullable<PeImage['certificateTable']> = {
      offset: dir.virtualAddress,
      size: dir.size,
      entries: [],
    };
    try {
      t.entries = parseCertificateTable(bytes, dir.virtualAddress, dir.size, lim);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      t.error = { code: e.code, message: e.message };
    }
    image.certificateTable = t;
  }
  const sbat = sections.find((s) => s.name === '.sbat');
  if (sbat)
    image.sbat = parseSbat(
      sectionData(bytes, sbat).subarray(0, sbat.virtualSize || sbat.sizeOfRawData),
      lim.maxSbatEntries,
    );
  const computed = peChecksum(bytes, optional.checksumOffset);
  image.checksum = { stored: optional.checkSum, computed, matches: computed === optional.checkSum };
  image.findings = layoutFindings({
    fileSize: bytes.length,
    coff,
    optional,
    sections,
    sectionTableEnd,
    bytes,
  });
  if (!image.checksum.matches && optional.checkSum !== 0) {
    image.findings.push({
      code: 'CHECKSUM_MISMATCH',
      severity: 'warning',
      message: `stored checksum 0x${optional.checkSum.toString(16)} differs from the computed 0x${computed.toString(16)}`,
      offset: optional.checksumOffset,
    });
  }
  return image;
}

/** The headers of a PE image: everything the Authenticode digest needs besides the file size. */
export interface PeHeaders {
  dos: DosHeader;
  coff: CoffHeader;
  optional: OptionalHeader;
  sections: SectionHeader[];
  /** File offset just past the section table. */
  sectionTableEnd: number;
}

/**
 * Parses only the headers (DOS, COFF, optional, section table) from a prefix of the file. Used
 * by the streaming digest, which reads the first few KiB of a large image and then hashes ranges.
 * Long section names pointing outside `bytes` stay unresolved (`/NNN`).
 */
export function parsePeHeaders(bytes: Uint8Array, limits: Partial<PeLimits> = {}): PeHeaders {
  const maxSections = limits.maxSections ?? DEFAULT_PE_LIMITS.maxSections;
  const dos = parseDosHeader(bytes);
  const coff = parseCoffHeader(bytes, dos.peOffset);
  if (coff.numberOfSections > maxSections) {
    throw new LimitError(
      'PE_TOO_MANY_SECTIONS',
      `${coff.numberOfSections} sections exceed the limit of ${maxSections}`,
      {
        structure: 'COFF header',
        offset: dos.peOffset + 6,
      },
    );
  }
  const optOffset = dos.peOffset + 4 + COFF_HEADER_SIZE;
  if (coff.sizeOfOptionalHeader < 2) {
    throw new FormatError('PE_NO_OPTIONAL_HEADER', 'object file without an optional header is not an image', {
      structure: 'COFF header',
      offset: dos.peOffset + 20,
    });
  }
  const optional = parseOptionalHeader(bytes, optOffset, coff.sizeOfOptionalHeader);
  const tableOffset = optOffset + coff.sizeOfOptionalHeader;
  const sectionTableEnd = tableOffset + coff.numberOfSections * SECTION_HEADER_SIZE;
  if (sectionTableEnd > bytes.length) {
    throw new FormatError('PE_TRUNCATED', 'section table runs past the end of the file', {
      structure: 'section table',
      offset: tableOffset,
    });
  }
  const sections = parseSectionTable(bytes, tableOffset, coff);
  return { dos, coff, optional, sections, sectionTableEnd };
}

/** Finds a section by resolved name (`.vendor_cert`, `.sbat`, `.text`…). */
export function findSection(pe: PeImage, name: string): SectionHeader | undefined {
  return pe.sections.find((s) => s.name === name);
}

/**
 * shim's built-in vendor certificate: the `.vendor_cert` section starts with a
 * `cert_table` header (shim's `vendor_cert.h`: four u32 — vendor_authorized_size,
 * vendor_deauthorized_size, vendor_authorized_offset, vendor_deauthorized_offset, offsets relative
 * to the section start) followed by the DER certificate (or an ESL) that shim trusts for grub and
 * the kernel, and the vendor dbx. Returns undefined when the binary has no such section.
 */
export function extractVendorCert(
  bytes: Uint8Array,
  pe: PeImage,
): { authorized: Uint8Array; deauthorized: Uint8Array } | undefined {
  const s = findSection(pe, '.vendor_cert');
  if (!s) return undefined;
  const data = sectionData(bytes, s);
  if (data.length < 16) {
    throw new FormatError('PE_VENDOR_CERT_TRUNCATED', '.vendor_cert section is shorter than its header', {
      structure: '.vendor_cert',
      offset: s.pointerToRawData,
    });
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const aSize = v.getUint32(0, true);
  const dSize = v.getUint32(4, true);
  const aOff = v.getUint32(8, true);
  const dOff = v.getUint32(12, true);
  if (aOff + aSize > data.length || dOff + dSize > data.length) {
    throw new FormatError('PE_VENDOR_CERT_BAD_RANGE', '.vendor_cert offsets point outside the section', {
      structure: '.vendor_cert',
      offset: s.pointerToRawData,
    });
  }
  return { authorized: data.subarray(aOff, aOff + aSize), deauthorized: data.subarray(dOff, dOff + dSize) };
}
