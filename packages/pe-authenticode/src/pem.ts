import { decodePemBody, scanPem } from '@lsvm/core';

/** PEM scanning lives in @lsvm/core (RFC 7468, one linear-time pass); re-exported for this package's API. */
export { type PemBlock, scanPem } from '@lsvm/core';

/**
 * The bodies of the `label` blocks of `text`, decoded from base64 (whitespace ignored). A body that
 * is not base64 is a FormatError (`PEM_MALFORMED`).
 */
export function pemBodies(text: string, label: string): Uint8Array[] {
  return scanPem(text)
    .filter((b) => b.label === label)
    .map((b) => decodePemBody(b));
}
