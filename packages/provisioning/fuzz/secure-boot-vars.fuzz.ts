import { defaultSecureBootVars, findLoaderAuthority, predictPcr7 } from '../src/secure-boot.js';

/**
 * Fuzz target (Jazzer.js convention): PCR 7 prediction on hostile Secure Boot state — a db
 * variable (EFI_SIGNATURE_LIST sequence) and a loader image (PE, Authenticode) taken from the
 * input: u16 LE db length, then the db bytes, then the loader bytes. On any bytes it returns a
 * prediction or throws an LsvmError (SB_LOADER_NOT_TRUSTED for a loader db does not allow).
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  const n = bytes.length >= 2 ? bytes[0]! | (bytes[1]! << 8) : 0;
  const db = bytes.subarray(2, Math.min(bytes.length, 2 + n));
  const loader = bytes.subarray(Math.min(bytes.length, 2 + n));
  const vars = { ...defaultSecureBootVars(), db };
  findLoaderAuthority(vars, loader);
  const p = predictPcr7(vars, loader);
  if (p.value.length !== 32 || p.events.length !== 7) throw new Error('malformed prediction');
}

/** The db length field, for length-aware mutations. */
export const fuzzHints = { fields: [{ offset: 0, size: 2, endian: 'le' }] };
