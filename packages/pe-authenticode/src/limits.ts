import { DEFAULT_LIMITS, type Limits } from '@lsvm/core';

/**
 * Bounds for the PE and signature parsers. Defaults fit every real EFI binary and Secure Boot
 * database we know of (Microsoft's dbx has a few hundred entries, shim has ~10 sections) with
 * room to spare, while keeping a hostile file from making us walk millions of entries.
 */
export interface PeLimits extends Limits {
  /** Most sections accepted (the PE/COFF specification caps NumberOfSections at 96 for images). */
  maxSections: number;
  /** Most WIN_CERTIFICATE entries in one certificate table. */
  maxCertificates: number;
  /** Most certificates inside one SignedData. */
  maxCertificatesPerSignature: number;
  /** Deepest nesting of nested Authenticode signatures. */
  maxNestingDepth: number;
  /** Most signatures (EFI_SIGNATURE_DATA) across an EFI_SIGNATURE_LIST buffer. */
  maxSignatureEntries: number;
  /** Most SBAT lines. */
  maxSbatEntries: number;
}

/** Default {@link PeLimits}. */
export const DEFAULT_PE_LIMITS: Readonly<PeLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  maxSections: 96,
  maxCertificates: 64,
  maxCertificatesPerSignature: 64,
  maxNestingDepth: 8,
  maxSignatureEntries: 65536,
  maxSbatEntries: 1024,
});
