import { LimitError } from '@lsvm/core';
import { DEFAULT_PE_LIMITS } from './limits.js';

/**
 * One line of a `.sbat` section (shim's SBAT.md): the component a binary contains and the
 * generation number that revocation compares against.
 */
export interface SbatEntry {
  component: string;
  /** component_generation; NaN-free: a non-numeric field is kept in `fields` and reported as -1. */
  generation: number;
  vendorName: string;
  vendorPackageName: string;
  vendorVersion: string;
  vendorUrl: string;
  /** All fields of the line as written. */
  fields: string[];
}

/**
 * Parses `.sbat` section data: CSV lines up to the first NUL (the section is zero-padded to the
 * file alignment). Blank lines are skipped. The first line is conventionally `sbat,1,SBAT
 * Version,…`. Fields are not quoted in SBAT, so a plain split is the format's own rule.
 */
export function parseSbat(data: Uint8Array, maxEntries = DEFAULT_PE_LIMITS.maxSbatEntries): SbatEntry[] {
  let end = data.indexOf(0);
  if (end < 0) end = data.length;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(data.subarray(0, end));
  const out: SbatEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (out.length >= maxEntries)
      throw new LimitError('PE_SBAT_TOO_MANY', `more than ${maxEntries} SBAT entries`, {
        structure: '.sbat',
      });
    const fields = line.split(',');
    const gen = /^\d{1,9}$/.test(fields[1] ?? '') ? Number(fields[1]) : -1;
    out.push({
      component: fields[0] ?? '',
      generation: gen,
      vendorName: fields[2] ?? '',
      vendorPackageName: fields[3] ?? '',
      vendorVersion: fields[4] ?? '',
      vendorUrl: fields[5] ?? '',
      fields,
    });
  }
  return out;
}

/** Serialises SBAT entries back to CSV (one `\n`-terminated line each). */
export function serializeSbat(entries: SbatEntry[]): Uint8Array {
  return new TextEncoder().encode(entries.map((e) => `${e.fields.join(',')}\n`).join(''));
}
