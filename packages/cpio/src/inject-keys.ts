import { UsageError } from '@lsvm/core';
import { directoryEntry, fileEntry, normalizeName } from './entry.js';
import {
  type Initramfs,
  type RebuildOptions,
  type RebuildResult,
  parseInitramfs,
  rebuildInitramfs,
} from './initramfs.js';
import type { CpioLimits } from './limits.js';

/** Where lsvmload puts the boot volume passphrase. */
export const BOOTKEY_PATH = 'etc/lsvmload/bootkey';
/** Where lsvmload puts the root volume passphrase. */
export const ROOTKEY_PATH = 'etc/lsvmload/rootkey';
/** A marker lsvmload removes: the VM is specialised once keys are injected. */
export const SPECIALIZE_PATH = 'etc/lsvmload/specialize';
/** The mode lsvmload gives the key files (0100755). */
export const LSVMLOAD_KEY_MODE = 0o100755;
/** The mode our own flows default to (0100400: readable by root only). */
export const DEFAULT_KEY_MODE = 0o100400;

/** Options of {@link injectKeys}. */
export interface InjectKeysOptions {
  bootKey: Uint8Array;
  rootKey: Uint8Array;
  /** Mode of the key files. Default {@link DEFAULT_KEY_MODE}; {@link LSVMLOAD_KEY_MODE} is what lsvmload writes. */
  keyMode?: number;
  /** Extra normalised paths to remove besides lsvmload's own. */
  remove?: string[];
  /** Compression of the rewritten last segment (default: keep gzip, else none). */
  compression?: RebuildOptions['compression'];
  /** Modification time of the added entries, seconds since the epoch. Default 0 (reproducible). */
  mtime?: number;
  limits?: Partial<CpioLimits>;
}

/** True for every path lsvmload deletes from the initramfs: the specialise marker and the Hyper-V keyboard driver. */
export function isLsvmloadRemoval(path: string): boolean {
  const p = normalizeName(path);
  const base = p.slice(p.lastIndexOf('/') + 1);
  // lsvmload removes hyperv-keyboard.ko; distributions also ship it compressed.
  return p === SPECIALIZE_PATH || /^hyperv-keyboard\.ko(\.(xz|zst|gz))?$/.test(base);
}

/**
 * The boot path's injection, as lsvmload does it: ensure `etc` and `etc/lsvmload` (040755), write
 * `etc/lsvmload/bootkey` and `etc/lsvmload/rootkey`, remove `etc/lsvmload/specialize` and every
 * `hyperv-keyboard.ko`. Only the last segment (and any segment holding a removed path) is
 * rewritten; earlier ones stay byte-identical. The returned bytes hold the keys: the caller owns
 * them and should zero them when done.
 */
export async function injectKeys(
  initrd: Uint8Array | Initramfs,
  options: InjectKeysOptions,
): Promise<RebuildResult> {
  if (options.bootKey.length === 0 || options.rootKey.length === 0) {
    throw new UsageError('CPIO_EMPTY_KEY', 'boot and root keys must not be empty');
  }
  const img = initrd instanceof Uint8Array ? await parseInitramfs(initrd, options.limits) : initrd;
  const mode = options.keyMode ?? DEFAULT_KEY_MODE;
  if ((mode & 0o170000) !== 0 && (mode & 0o170000) !== 0o100000) {
    throw new UsageError('CPIO_BAD_MODE', `key file mode ${mode.toString(8)} is not a regular file mode`);
  }
  const mtime = options.mtime ?? 0;
  const last = img.segments[img.segments.length - 1]!;
  const inLast = new Set(last.entries.map((e) => normalizeName(e.name)));
  const put = [
    ...['etc', 'etc/lsvmload']
      .filter((d) => !inLast.has(d))
      .map((d) => directoryEntry(d, { mode: 0o40755, mtime })),
    fileEntry(BOOTKEY_PATH, options.bootKey.slice(), { mode, mtime }),
    fileEntry(ROOTKEY_PATH, options.rootKey.slice(), { mode, mtime }),
  ];
  const extra = new Set((options.remove ?? []).map(normalizeName));
  try {
    return await rebuildInitramfs(
      img,
      { put, remove: (p) => isLsvmloadRemoval(p) || extra.has(p) },
      { target: 'last', compression: options.compression ?? 'keep', limits: options.limits },
    );
  } finally {
    for (const e of put) e.data.fill(0);
  }
}
