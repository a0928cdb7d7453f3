import { ByteReader, FormatError } from '@lsvm/core';

/** The fields of the MS-DOS stub header an EFI loader looks at (PE/COFF spec §2, "MS-DOS Stub"). */
export interface DosHeader {
  /** `MZ`. */
  magic: number;
  /** e_lfanew: file offset of the `PE\0\0` signature (offset 0x3c of the stub). */
  peOffset: number;
}

/** `MZ` read little-endian. */
export const DOS_MAGIC = 0x5a4d;

/** Parses the DOS header at the start of `bytes`. */
export function parseDosHeader(bytes: Uint8Array): DosHeader {
  const r = new ByteReader(bytes, { structure: 'DOS header' });
  if (bytes.length < 0x40) {
    throw new FormatError('PE_TRUNCATED', `file of ${bytes.length} bytes is too small for a DOS header`, {
      structure: 'DOS header',
      offset: 0,
    });
  }
  const magic = r.u16At(0);
  if (magic !== DOS_MAGIC) {
    throw new FormatError('PE_BAD_DOS_MAGIC', 'not a PE image: no MZ signature', {
      structure: 'DOS header',
      offset: 0,
    });
  }
  const peOffset = r.u32At(0x3c);
  if (peOffset < 0x40 || peOffset % 4 !== 0 || peOffset + 24 > bytes.length) {
    // The spec puts the signature after the 64-byte stub header on an 8-byte boundary; loaders
    // accept 4. An offset pointing outside the file cannot be followed.
    throw new FormatError(
      'PE_BAD_LFANEW',
      `e_lfanew ${peOffset} does not point at a PE signature inside the file`,
      {
        structure: 'DOS header',
        offset: 0x3c,
      },
    );
  }
  return { magic, peOffset };
}
