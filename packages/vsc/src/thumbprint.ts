import { createHash } from 'node:crypto';
import { toHex } from '@lsvm/core';
import { UsageError } from '@lsvm/core';

/**
 * A certificate thumbprint, everywhere in lsvm: the lower-case hex SHA-256 of the certificate's
 * DER encoding (64 characters). Windows shows SHA-1 thumbprints; lsvm does not use SHA-1.
 */
export function certificateThumbprint(der: Uint8Array): string {
  return toHex(createHash('sha256').update(der).digest());
}

/**
 * Normalises a thumbprint typed by a person: case, colons and spaces are ignored. Throws a
 * {@link UsageError} unless 64 hex digits remain.
 */
export function normalizeThumbprint(s: string): string {
  const t = s.replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(t)) {
    throw new UsageError(
      'VSC_BAD_THUMBPRINT',
      'a certificate thumbprint is the SHA-256 of the DER certificate: 64 hex digits',
    );
  }
  return t;
}
