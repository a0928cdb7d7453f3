import { FormatError, isLsvmError } from '@lsvm/core';
import { parseAuthVariable } from './auth-variable.js';
import { type SignatureList, parseSignatureLists } from './signature-list.js';
import { type Certificate, parseCertificate, pemCertificates } from './x509.js';

/** What a trust or revocation file turned out to hold. */
export interface TrustInput {
  kind: 'pem' | 'der' | 'esl' | 'auth-variable';
  certificates: Certificate[];
  /** Signature lists (ESL or the payload of an authenticated variable). */
  lists: SignatureList[];
}

/**
 * Reads a file given as `--trust` or `--dbx`: PEM certificates, one DER certificate, an
 * EFI_SIGNATURE_LIST buffer (a db/dbx dump) or an authenticated variable (a db/dbx update).
 * Certificates found in ESLs stay in `lists`; the caller builds a database from them.
 */
export function parseTrustInput(bytes: Uint8Array): TrustInput {
  const pem = pemCertificates(bytes);
  if (pem.length > 0) return { kind: 'pem', certificates: pem.map(parseCertificate), lists: [] };
  if (bytes[0] === 0x30) {
    try {
      return { kind: 'der', certificates: [parseCertificate(bytes)], lists: [] };
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  }
  try {
    const lists = parseSignatureLists(bytes);
    if (lists.length > 0) return { kind: 'esl', certificates: [], lists };
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
  try {
    const v = parseAuthVariable(bytes);
    if (v.lists) return { kind: 'auth-variable', certificates: [], lists: v.lists };
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
  throw new FormatError(
    'TRUST_INPUT_UNKNOWN',
    'not a certificate (PEM or DER), an EFI_SIGNATURE_LIST or an authenticated variable',
    { structure: 'trust file' },
  );
}
