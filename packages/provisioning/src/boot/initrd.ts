import { FormatError } from '@lsvm/core';
import { LSVMLOAD_KEY_MODE, type RebuildResult, injectKeys } from '@lsvm/cpio';
import type { ExtFs } from '../ext-fs.js';
import type { KeysPayload } from '../keys-payload.js';
import { BOOT_FS_PATHS } from './disk.js';
import { type GrubDefault, bootFsCandidates, findGrubDefault } from './grub-cfg.js';

/**
 * lsvmload's initramfs step: find the initrd the default GRUB entry boots, and inject the volume
 * passphrases into a copy of it (`etc/lsvmload/bootkey`, `etc/lsvmload/rootkey`, mode 0100755 as
 * lsvmload writes them; `etc/lsvmload/specialize` and every `hyperv-keyboard.ko` removed). The
 * copy holds secrets: lsvmload keeps it in RAM, and so should callers (zero it when done).
 */

/** Where the default initrd was found. */
export interface DefaultInitrd {
  grubCfg: string;
  entry: GrubDefault;
  /** Path of the initrd inside the boot file system. */
  path: string;
  bytes: Uint8Array;
}

/** Reads `/grub/grub.cfg` or `/grub2/grub.cfg` and the initrd its default entry names. */
export async function readDefaultInitrd(fs: ExtFs): Promise<DefaultInitrd> {
  let grubCfg: string | undefined;
  for (const p of BOOT_FS_PATHS.grubCfg)
    if (await fs.exists(p)) {
      grubCfg = p;
      break;
    }
  if (!grubCfg)
    throw new FormatError(
      'BOOT_NO_GRUB_CFG',
      'the boot file system has neither /grub/grub.cfg nor /grub2/grub.cfg',
    );
  const entry = findGrubDefault(await fs.readFile(grubCfg));
  const named = entry.initrds[entry.initrds.length - 1];
  if (!named)
    throw new FormatError(
      'BOOT_NO_INITRD',
      `the default entry ${JSON.stringify(entry.title)} names no initrd`,
      {
        structure: 'grub.cfg',
      },
    );
  for (const path of bootFsCandidates(named))
    if (await fs.exists(path)) return { grubCfg, entry, path, bytes: await fs.readFile(path) };
  throw new FormatError(
    'BOOT_INITRD_MISSING',
    `the initrd ${named} named by ${grubCfg} is not in the boot file system`,
  );
}

/** Injects the keys into a copy of `initrd` (gzip is kept, other compressions as the cpio package decides). */
export function injectInitrdKeys(initrd: Uint8Array, keys: KeysPayload): Promise<RebuildResult> {
  return injectKeys(initrd, { bootKey: keys.boot, rootKey: keys.root, keyMode: LSVMLOAD_KEY_MODE });
}
