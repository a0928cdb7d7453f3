import { SPECIALIZATION_UNATTEND_NAME, unpackSpecialization } from '@lsvm/shielding-data';
import { zeroize } from '@lsvm/core';
import type { ExtFs } from '../ext-fs.js';
import { BOOT_FS_PATHS } from './disk.js';

/**
 * lsvmload's first-boot step: `\EFI\boot\specialization.aes`, encrypted under the boot volume
 * key, holds the answer file and other files from the shielding data. Each is written to
 * `/lsvmload/specialize/<name>` in the boot file system with mode 0600, `unattend.xml` renamed
 * `specialize` (lsvmload's SPEC_SPECIALIZE_FILENAME); the caller then deletes the ESP file.
 */

/** The name lsvmload gives a specialization file on the boot file system. */
export function specializedName(name: string): string {
  return name === SPECIALIZATION_UNATTEND_NAME ? 'specialize' : name;
}

/** Decrypts and verifies `spec` with the boot volume key and writes its files; returns their paths. */
export async function applySpecialization(
  bootFs: ExtFs,
  spec: Uint8Array,
  bootVolumeKey: Uint8Array,
): Promise<{ files: string[]; authenticated: boolean }> {
  const { files, authenticated } = unpackSpecialization(spec, bootVolumeKey);
  try {
    await bootFs.mkdirp(BOOT_FS_PATHS.specializeDir, 0o700);
    const written: string[] = [];
    for (const f of files) {
      const path = `${BOOT_FS_PATHS.specializeDir}/${specializedName(f.name)}`;
      await bootFs.writeFile(path, f.data, 0o600);
      written.push(path);
    }
    return { files: written, authenticated };
  } finally {
    for (const f of files) zeroize(f.data);
  }
}
