import { ByteReader } from '@lsvm/core';
import { type CoffHeader, resolveLongName } from './coff-header.js';

/** One section header (PE/COFF spec §4). */
export interface SectionHeader {
  /** Index in the section table. */
  index: number;
  /** The 8 name bytes as stored (e.g. `.text` or `/4`). */
  rawName: string;
  /** The name, resolved through the COFF string table when stored as `/NNN`. */
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  pointerToRelocations: number;
  pointerToLinenumbers: number;
  numberOfRelocations: number;
  numberOfLinenumbers: number;
  characteristics: number;
  /** File offset of this 40-byte header. */
  headerOffset: number;
}

/** Size of one section header. */
export const SECTION_HEADER_SIZE = 40;

/** Parses `coff.numberOfSections` headers starting at `offset`. */
export function parseSectionTable(bytes: Uint8Array, offset: number, coff: CoffHeader): SectionHeader[] {
  const r = new ByteReader(bytes, { structure: 'section table', offset });
  const out: SectionHeader[] = [];
  for (let i = 0; i < coff.numberOfSections; i++) {
    const headerOffset = r.pos;
    const nameBytes = r.bytesView(8, 'section name');
    let e = 0;
    while (e < 8 && nameBytes[e] !== 0) e++;
    const rawName = new TextDecoder('utf-8', { fatal: false }).decode(nameBytes.subarray(0, e));
    const name = rawName.startsWith('/') ? (resolveLongName(bytes, coff, rawName) ?? rawName) : rawName;
    out.push({
      index: i,
      rawName,
      name,
      virtualSize: r.u32(),
      virtualAddress: r.u32(),
      sizeOfRawData: r.u32(),
      pointerToRawData: r.u32(),
      pointerToRelocations: r.u32(),
      pointerToLinenumbers: r.u32(),
      numberOfRelocations: r.u16(),
      numberOfLinenumbers: r.u16(),
      characteristics: r.u32(),
      headerOffset,
    });
  }
  return out;
}

/** The file bytes of a section (clamped to the file; use layout findings to learn about truncation). */
export function sectionData(bytes: Uint8Array, s: SectionHeader): Uint8Array {
  const start = Math.min(s.pointerToRawData, bytes.length);
  const end = Math.min(s.pointerToRawData + s.sizeOfRawData, bytes.length);
  return bytes.subarray(start, end);
}
