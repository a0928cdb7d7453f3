import { ByteReader, FormatError } from '@lsvm/core';

/** The COFF file header that follows `PE\0\0` (PE/COFF spec §3.3). */
export interface CoffHeader {
  /** IMAGE_FILE_MACHINE_* (0x8664 x64, 0x14c i386, 0xaa64 arm64…). */
  machine: number;
  numberOfSections: number;
  timeDateStamp: number;
  /** File offset of the COFF symbol table; the string table follows it. 0 when absent. */
  pointerToSymbolTable: number;
  numberOfSymbols: number;
  sizeOfOptionalHeader: number;
  characteristics: number;
}

/** `PE\0\0` read little-endian. */
export const PE_SIGNATURE = 0x00004550;
/** Size of the COFF file header. */
export const COFF_HEADER_SIZE = 20;
/** Size of one COFF symbol record; the string table starts after NumberOfSymbols of them. */
export const COFF_SYMBOL_SIZE = 18;

/** Names of common IMAGE_FILE_MACHINE values, for display. */
export const MACHINE_NAMES: Readonly<Record<number, string>> = {
  332: 'i386',
  34404: 'x86_64',
  450: 'thumb',
  452: 'armv7',
  43620: 'aarch64',
  20580: 'riscv64',
  20530: 'riscv32',
  25188: 'loongarch64',
  3772: 'ebc',
};

/** Parses the signature and COFF header at `offset` (the DOS header's e_lfanew). */
export function parseCoffHeader(bytes: Uint8Array, offset: number): CoffHeader {
  const r = new ByteReader(bytes, { structure: 'COFF header', offset });
  if (r.u32() !== PE_SIGNATURE) {
    throw new FormatError('PE_BAD_SIGNATURE', 'no PE\\0\\0 signature at e_lfanew', {
      structure: 'PE signature',
      offset,
    });
  }
  return {
    machine: r.u16(),
    numberOfSections: r.u16(),
    timeDateStamp: r.u32(),
    pointerToSymbolTable: r.u32(),
    numberOfSymbols: r.u32(),
    sizeOfOptionalHeader: r.u16(),
    characteristics: r.u16(),
  };
}

/**
 * Resolves a section name through the COFF string table (PE/COFF spec §3.4, "Name"): an 8-byte
 * name of the form `/NNN` means "the NUL-terminated string at offset NNN of the string table",
 * which sits right after the symbol table. Debian's shim stores `.sbatlevel` and `.vendor_cert`
 * this way. Returns undefined when the reference cannot be followed.
 */
export function resolveLongName(bytes: Uint8Array, coff: CoffHeader, ref: string): string | undefined {
  if (!/^\/\d{1,7}$/.test(ref) || coff.pointerToSymbolTable === 0) return undefined;
  const tableStart = coff.pointerToSymbolTable + coff.numberOfSymbols * COFF_SYMBOL_SIZE;
  if (!Number.isSafeInteger(tableStart) || tableStart + 4 > bytes.length) return undefined;
  const r = new ByteReader(bytes, { structure: 'COFF string table' });
  const tableSize = r.u32At(tableStart);
  const at = Number(ref.slice(1));
  if (at < 4 || at >= tableSize || tableStart + at >= bytes.length) return undefined;
  const end = Math.min(bytes.length, tableStart + tableSize);
  let e = tableStart + at;
  while (e < end && bytes[e] !== 0) e++;
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(tableStart + at, e));
}
