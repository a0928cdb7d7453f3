import { FormatError } from '@lsvm/core';

/**
 * A template version `a.b.c.d`, as Windows writes disk versions (each part an unsigned 16-bit
 * number). Held as a string in canonical form (decimal, no leading zeros) in the API and as an
 * array of four unsigned integers in the catalog.
 */
export type TemplateVersion = string;

/** Parses `a.b.c.d` (each part 0..65535, decimal) into its four parts. */
export function parseTemplateVersion(s: string): [number, number, number, number] {
  const m = /^(\d{1,5})\.(\d{1,5})\.(\d{1,5})\.(\d{1,5})$/.exec(s);
  const parts = m ? [m[1]!, m[2]!, m[3]!, m[4]!].map((p) => Number(p)) : [];
  if (!m || parts.some((p) => p > 65535)) {
    throw new FormatError(
      'VSC_BAD_VERSION',
      `template version ${JSON.stringify(s.slice(0, 40))} is not a.b.c.d with each part below 65536`,
    );
  }
  return parts as [number, number, number, number];
}

/** Canonical string of a version given as parts or as a string (`01.2.3.4` → `1.2.3.4`). */
export function formatTemplateVersion(v: string | readonly number[]): TemplateVersion {
  const parts = typeof v === 'string' ? parseTemplateVersion(v) : v;
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new FormatError('VSC_BAD_VERSION', 'a template version has four parts, each 0..65535');
  }
  return parts.join('.');
}

/** Compares two versions part by part: negative, zero or positive like a sort comparator. */
export function compareTemplateVersions(a: string, b: string): number {
  const pa = parseTemplateVersion(a);
  const pb = parseTemplateVersion(b);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}
