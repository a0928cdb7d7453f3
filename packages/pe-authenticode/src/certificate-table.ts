import { ByteReader, FormatError, LimitError } from '@lsvm/core';
import { DEFAULT_PE_LIMITS, type PeLimits } from './limits.js';

/** WIN_CERTIFICATE.wRevision values (PE/COFF spec §5.2). */
export const WIN_CERT_REVISION_1_0 = 0x0100;
export const WIN_CERT_REVISION_2_0 = 0x0200;
/** WIN_CERTIFICATE.wCertificateType: PKCS#7 SignedData (Authenticode). */
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;
/** WIN_CERTIFICATE.wCertificateType: EFI_GUID-typed certificate (UEFI authenticated variables). */
export const WIN_CERT_TYPE_EFI_GUID = 0x0ef1;
/** WIN_CERTIFICATE.wCertificateType: PKCS#1 v1.5 (UEFI). */
export const WIN_CERT_TYPE_EFI_PKCS115 = 0x0ef0;

/** One WIN_CERTIFICATE entry of the attribute certificate table. */
export interface WinCertificate {
  /** Index in the table. */
  index: number;
  /** File offset of the entry. */
  offset: number;
  /** dwLength as stored: header + certificate, with or without the padding to 8. */
  length: number;
  revision: number;
  certificateType: number;
  /** bCertificate (dwLength − 8 bytes), a view into the file. Trailing zero padding may be included. */
  certificate: Uint8Array;
}

/**
 * Walks the attribute certificate table at file offset `offset`, `size` bytes long (data directory
 * 4; PE/COFF spec §5.2). Entries start on 8-byte boundaries: the next entry follows at
 * `offset + align8(dwLength)`. Whether dwLength itself includes that padding differs between
 * signers (sbsign and pesign do not pad it, signtool does); both are accepted.
 */
export function parseCertificateTable(
  bytes: Uint8Array,
  offset: number,
  size: number,
  limits: Partial<PeLimits> = {},
): WinCertificate[] {
  const max = limits.maxCertificates ?? DEFAULT_PE_LIMITS.maxCertificates;
  const structure = 'certificate table';
  if (offset + size > bytes.length) {
    throw new FormatError(
      'PE_CERT_TABLE_PAST_EOF',
      `certificate table of ${size} bytes runs past the end of the file`,
      {
        structure,
        offset,
      },
    );
  }
  const r = new ByteReader(bytes, { structure });
  const end = offset + size;
  const out: WinCertificate[] = [];
  let p = offset;
  while (p < end) {
    // Trailing zero padding after the last entry (some tools pad the table) is not an entry.
    if (end - p < 8) {
      if (bytes.subarray(p, end).every((b) => b === 0)) break;
      throw new FormatError('PE_CERT_TRUNCATED', 'certificate table ends inside an entry header', {
        structure,
        offset: p,
      });
    }
    const length = r.u32At(p);
    if (length === 0 && bytes.subarray(p, end).every((b) => b === 0)) break;
    if (length < 8 || p + length > end) {
      throw new FormatError(
        'PE_CERT_BAD_LENGTH',
        `WIN_CERTIFICATE dwLength ${length} does not fit the table`,
        {
          structure,
          offset: p,
        },
      );
    }
    if (out.length >= max) {
      throw new LimitError('PE_TOO_MANY_CERTIFICATES', `more than ${max} WIN_CERTIFICATE entries`, {
        structure,
        offset: p,
      });
    }
    out.push({
      index: out.length,
      offset: p,
      length,
      revision: r.u16At(p + 4),
      certificateType: r.u16At(p + 6),
      certificate: bytes.subarray(p + 8, p + length),
    });
    p += align8(length);
  }
  return out;
}

/** Rounds up to a multiple of 8. */
export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Encodes one WIN_CERTIFICATE: unpadded dwLength, bytes padded with zeros to a multiple of 8. */
export function encodeWinCertificate(
  certificate: Uint8Array,
  certificateType = WIN_CERT_TYPE_PKCS_SIGNED_DATA,
  revision = WIN_CERT_REVISION_2_0,
): Uint8Array {
  const length = 8 + certificate.length;
  const out = new Uint8Array(align8(length));
  const v = new DataView(out.buffer);
  v.setUint32(0, length, true);
  v.setUint16(4, revision, true);
  v.setUint16(6, certificateType, true);
  out.set(certificate, 8);
  return out;
}
