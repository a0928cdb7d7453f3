import { UsageError } from '@lsvm/core';
import { normalizeName } from './entry.js';

/**
 * The relative path an entry may be extracted to, or an error when its name would escape the
 * destination (`..` components). Absolute names are made relative, as `cpio -i --no-absolute-filenames` does.
 */
export function safeExtractPath(name: string): string {
  const p = normalizeName(name);
  if (p.split('/').some((c) => c === '..')) {
    throw new UsageError(
      'CPIO_UNSAFE_PATH',
      `entry ${JSON.stringify(name)} would be extracted outside the destination`,
    );
  }
  return p;
}
