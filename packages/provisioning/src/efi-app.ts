import { UsageError } from '@lsvm/core';
import { updatePeChecksum } from '@lsvm/pe-authenticode';

/**
 * A minimal valid PE32+ EFI application, built in code so that the sample template needs no
 * compiler and no binary blob: one `.text` section whose entry point is `xor eax, eax; ret`
 * (returns EFI_SUCCESS) followed by a marker string that names what the image stands for
 * ("sample grubx64"). Layout per the PE/COFF specification (§2 MS-DOS stub, §3 COFF header,
 * §3.4 optional header PE32+, §4 section table) with the UEFI subsystem (10). The code is
 * position-independent and the image has no relocations, so a loader may place it anywhere.
 */

const FILE_ALIGN = 0x200;
const SECTION_ALIGN = 0x1000;
const PE_OFFSET = 0x40;
const COFF_OFFSET = PE_OFFSET + 4;
const OPT_OFFSET = COFF_OFFSET + 20;
const OPT_SIZE = 240;
const SECTIONS_OFFSET = OPT_OFFSET + OPT_SIZE;
/** `xor eax, eax; ret` — EFI_SUCCESS in RAX. */
const CODE = Uint8Array.of(0x31, 0xc0, 0xc3);
/** Longest marker accepted (keeps the image one file-alignment unit or a few). */
const MAX_MARKER = 4096;

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Options of {@link makeEfiApplication}. */
export interface EfiApplicationOptions {
  /** ASCII text embedded after the code, to tell sample images apart. */
  marker?: string;
  /** PE machine (default 0x8664, x86-64). */
  machine?: number;
}

/** Builds the image (unsigned, with a correct optional-header checksum). */
export function makeEfiApplication(options: EfiApplicationOptions = {}): Uint8Array {
  const marker = new TextEncoder().encode(`${options.marker ?? 'lsvm sample EFI application'}\0`);
  if (marker.length > MAX_MARKER)
    throw new UsageError('EFI_APP_MARKER', `marker longer than ${MAX_MARKER} bytes`);
  const textSize = CODE.length + marker.length;
  const rawSize = align(textSize, FILE_ALIGN);
  const headersSize = FILE_ALIGN;
  const image = new Uint8Array(headersSize + rawSize);
  const v = new DataView(image.buffer);
  // MS-DOS header: only e_magic and e_lfanew matter to UEFI loaders.
  image[0] = 0x4d; // M
  image[1] = 0x5a; // Z
  v.setUint32(0x3c, PE_OFFSET, true);
  image.set([0x50, 0x45, 0, 0], PE_OFFSET); // "PE\0\0"
  // COFF file header.
  v.setUint16(COFF_OFFSET, options.machine ?? 0x8664, true);
  v.setUint16(COFF_OFFSET + 2, 1, true); // NumberOfSections
  v.setUint16(COFF_OFFSET + 16, OPT_SIZE, true);
  v.setUint16(COFF_OFFSET + 18, 0x0022, true); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
  // Optional header, PE32+.
  const o = OPT_OFFSET;
  v.setUint16(o, 0x20b, true);
  image[o + 2] = 14; // linker version, informational
  v.setUint32(o + 4, rawSize, true); // SizeOfCode
  v.setUint32(o + 16, SECTION_ALIGN, true); // AddressOfEntryPoint
  v.setUint32(o + 20, SECTION_ALIGN, true); // BaseOfCode
  v.setBigUint64(o + 24, 0x10000000n, true); // ImageBase
  v.setUint32(o + 32, SECTION_ALIGN, true);
  v.setUint32(o + 36, FILE_ALIGN, true);
  v.setUint32(o + 56, SECTION_ALIGN + align(textSize, SECTION_ALIGN), true); // SizeOfImage
  v.setUint32(o + 60, headersSize, true); // SizeOfHeaders
  v.setUint16(o + 68, 10, true); // Subsystem: EFI application
  v.setUint16(o + 70, 0x0100, true); // DllCharacteristics: NX_COMPAT
  v.setBigUint64(o + 72, 0x100000n, true); // stack reserve
  v.setBigUint64(o + 80, 0x1000n, true); // stack commit
  v.setBigUint64(o + 88, 0x100000n, true); // heap reserve
  v.setBigUint64(o + 96, 0x1000n, true); // heap commit
  v.setUint32(o + 108, 16, true); // NumberOfRvaAndSizes (all zero: no imports, relocs or certs yet)
  // Section table: .text.
  const s = SECTIONS_OFFSET;
  image.set(new TextEncoder().encode('.text'), s);
  v.setUint32(s + 8, textSize, true); // VirtualSize
  v.setUint32(s + 12, SECTION_ALIGN, true); // VirtualAddress
  v.setUint32(s + 16, rawSize, true); // SizeOfRawData
  v.setUint32(s + 20, headersSize, true); // PointerToRawData
  v.setUint32(s + 36, 0x60000020, true); // CODE | EXECUTE | READ
  image.set(CODE, headersSize);
  image.set(marker, headersSize + CODE.length);
  updatePeChecksum(image, o + 64);
  return image;
}
