import { ByteReader, FormatError } from '@lsvm/core';

/** One IMAGE_DATA_DIRECTORY entry (PE/COFF spec §3.4.3). */
export interface DataDirectory {
  /** An RVA, except for the certificate table (index 4), where it is a file offset. */
  virtualAddress: number;
  size: number;
}

/** The optional header, PE32 or PE32+ (PE/COFF spec §3.4). */
export interface OptionalHeader {
  /** `PE32` (magic 0x10b) or `PE32+` (0x20b). */
  format: 'PE32' | 'PE32+';
  /** File offset of the optional header. */
  offset: number;
  magic: number;
  majorLinkerVersion: number;
  minorLinkerVersion: number;
  sizeOfCode: number;
  sizeOfInitializedData: number;
  sizeOfUninitializedData: number;
  addressOfEntryPoint: number;
  baseOfCode: number;
  /** ImageBase (u64 for PE32+). */
  imageBase: bigint;
  sectionAlignment: number;
  fileAlignment: number;
  majorOperatingSystemVersion: number;
  minorOperatingSystemVersion: number;
  majorImageVersion: number;
  minorImageVersion: number;
  majorSubsystemVersion: number;
  minorSubsystemVersion: number;
  win32VersionValue: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  /** The stored PE checksum. */
  checkSum: number;
  subsystem: number;
  dllCharacteristics: number;
  sizeOfStackReserve: bigint;
  sizeOfStackCommit: bigint;
  sizeOfHeapReserve: bigint;
  sizeOfHeapCommit: bigint;
  loaderFlags: number;
  numberOfRvaAndSizes: number;
  /** Data directories actually present (min(NumberOfRvaAndSizes, 16, what fits the header)). */
  dataDirectories: DataDirectory[];
  /** File offset of the CheckSum field (excluded from the Authenticode digest). */
  checksumOffset: number;
  /** File offset of data directory 0. */
  dataDirectoryOffset: number;
}

export const PE32_MAGIC = 0x10b;
export const PE32PLUS_MAGIC = 0x20b;
/** Index of the certificate table among the data directories. */
export const CERTIFICATE_TABLE_INDEX = 4;
/** Offset of CheckSum within the optional header (the same for PE32 and PE32+). */
export const CHECKSUM_FIELD_OFFSET = 64;

/** Names of the IMAGE_SUBSYSTEM values an EFI binary carries. */
export const SUBSYSTEM_NAMES: Readonly<Record<number, string>> = {
  1: 'native',
  2: 'windows-gui',
  3: 'windows-cui',
  10: 'efi-application',
  11: 'efi-boot-service-driver',
  12: 'efi-runtime-driver',
  13: 'efi-rom',
};

/**
 * Parses the optional header at `offset`, `size` bytes long (SizeOfOptionalHeader). Data
 * directories beyond what the header size can hold are not read: the header size bounds them.
 */
export function parseOptionalHeader(bytes: Uint8Array, offset: number, size: number): OptionalHeader {
  const structure = 'optional header';
  if (offset + size > bytes.length) {
    throw new FormatError('PE_TRUNCATED', `optional header of ${size} bytes runs past the end of the file`, {
      structure,
      offset,
    });
  }
  const r = new ByteReader(bytes.subarray(offset, offset + size), { structure, base: offset });
  const magic = r.u16();
  if (magic !== PE32_MAGIC && magic !== PE32PLUS_MAGIC) {
    throw new FormatError('PE_BAD_OPTIONAL_MAGIC', `unknown optional header magic 0x${magic.toString(16)}`, {
      structure,
      offset,
    });
  }
  const plus = magic === PE32PLUS_MAGIC;
  const majorLinkerVersion = r.u8();
  const minorLinkerVersion = r.u8();
  const sizeOfCode = r.u32();
  const sizeOfInitializedData = r.u32();
  const sizeOfUninitializedData = r.u32();
  const addressOfEntryPoint = r.u32();
  const baseOfCode = r.u32();
  let imageBase: bigint;
  if (plus) imageBase = r.u64();
  else {
    r.u32(); // BaseOfData, PE32 only
    imageBase = BigInt(r.u32());
  }
  const word = (): bigint => (plus ? r.u64() : BigInt(r.u32()));
  const h = {
    sectionAlignment: r.u32(),
    fileAlignment: r.u32(),
    majorOperatingSystemVersion: r.u16(),
    minorOperatingSystemVersion: r.u16(),
    majorImageVersion: r.u16(),
    minorImageVersion: r.u16(),
    majorSubsystemVersion: r.u16(),
    minorSubsystemVersion: r.u16(),
    win32VersionValue: r.u32(),
    sizeOfImage: r.u32(),
    sizeOfHeaders: r.u32(),
    checkSum: r.u32(),
    subsystem: r.u16(),
    dllCharacteristics: r.u16(),
    sizeOfStackReserve: word(),
    sizeOfStackCommit: word(),
    sizeOfHeapReserve: word(),
    sizeOfHeapCommit: word(),
    loaderFlags: r.u32(),
    numberOfRvaAndSizes: r.u32(),
  };
  const dataDirectoryOffset = offset + r.pos;
  const fit = Math.floor(r.remaining / 8);
  const count = Math.min(h.numberOfRvaAndSizes, 16, fit);
  const dataDirectories: DataDirectory[] = [];
  for (let i = 0; i < count; i++) dataDirectories.push({ virtualAddress: r.u32(), size: r.u32() });
  return {
    format: plus ? 'PE32+' : 'PE32',
    offset,
    magic,
    majorLinkerVersion,
    minorLinkerVersion,
    sizeOfCode,
    sizeOfInitializedData,
    sizeOfUninitializedData,
    addressOfEntryPoint,
    baseOfCode,
    imageBase,
    ...h,
    dataDirectories,
    checksumOffset: offset + CHECKSUM_FIELD_OFFSET,
    dataDirectoryOffset,
  };
}
