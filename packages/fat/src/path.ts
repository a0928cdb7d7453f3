import { UsageError } from '@lsvm/core';

/**
 * Splits a path into components. `/` and `\` both separate (UEFI paths use `\`); empty components
 * and `.` are dropped; `..` is refused rather than interpreted, so a path can never climb out of
 * what the caller named.
 */
export function splitPath(path: string): string[] {
  const parts = path.split(/[/\\]+/).filter((p) => p.length > 0 && p !== '.');
  for (const p of parts) {
    if (p === '..') throw new UsageError('FAT_BAD_PATH', `path '${path}' contains '..'`);
  }
  return parts;
}

/** Joins components into the canonical `/a/b` form used in results. */
export function joinPath(parts: readonly string[]): string {
  return `/${parts.join('/')}`;
}
