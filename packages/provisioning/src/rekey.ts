import { randomBytes } from 'node:crypto';
import { AuthError, type BlockDevice, VerificationError, isLsvmError, zeroize } from '@lsvm/core';
import { type KdfOptions, addKeyslot, readLuks, removeKeyslot, unlockLuks } from '@lsvm/luks2';
import { luksUuid } from './check.js';

/**
 * Step 4 of provisioning, mode `keyslot`: the well-known passphrase is replaced by a fresh random
 * one — a keyslot is added under the new passphrase, then the keyslot the well-known one opened is
 * removed (LUKS header writes keep one valid copy at every instant, @lsvm/luks2). The volume keys
 * stay those of the template: anyone who kept the template's volume keys can still decrypt the
 * VM's data. Mode `reencrypt` (new volume keys) is the answer to that, and is not implemented yet.
 */

/** How volumes are re-keyed. */
export type RekeyMode = 'keyslot' | 'reencrypt';

/**
 * KDF of the new keyslots. The new passphrases are 256-bit random strings, so a costly KDF adds
 * no strength (it exists to slow guessing of human passphrases): PBKDF2-SHA256 with 1000
 * iterations, the LUKS minimum, as systemd-cryptenroll does for TPM2-released keys.
 */
export const REKEY_KDF: KdfOptions = { type: 'pbkdf2', hash: 'sha256', iterations: 1000 };

/** A fresh volume passphrase: 32 random bytes in base64url (43 printable characters). */
export function newVolumePassphrase(): Uint8Array {
  const raw = randomBytes(32);
  const text = raw.toString('base64url');
  zeroize(raw);
  return new TextEncoder().encode(text);
}

/** What one re-key did (no secret). */
export interface RekeyResult {
  luksVersion: 1 | 2;
  luksUuid: string;
  removedKeyslot: number;
  addedKeyslot: number;
}

/**
 * Re-keys one volume in `keyslot` mode and checks the result: the new passphrase opens it, the old
 * one no longer does. Returns the volume key (the caller zeroes it).
 */
export async function rekeyVolume(
  dev: BlockDevice,
  oldPassphrase: Uint8Array,
  newPassphrase: Uint8Array,
  kdf: KdfOptions = REKEY_KDF,
): Promise<{ result: RekeyResult; volumeKey: Uint8Array }> {
  const before = await readLuks(dev);
  const opened = await unlockLuks(dev, before, oldPassphrase, { boundOnly: true });
  zeroize(opened.volumeKey);
  const added = await addKeyslot(dev, { passphrase: oldPassphrase, keyslot: opened.keyslot }, newPassphrase, {
    kdf,
  });
  await removeKeyslot(dev, opened.keyslot);
  // Read back: the new passphrase opens, the old one must not.
  const after = await readLuks(dev);
  const check = await unlockLuks(dev, after, newPassphrase, { boundOnly: true });
  try {
    await unlockLuks(dev, after, oldPassphrase);
    zeroize(check.volumeKey);
    throw new VerificationError(
      'PROVISION_OLD_PASSPHRASE_OPENS',
      'the well-known passphrase still opens the volume',
    );
  } catch (e) {
    if (!(e instanceof AuthError) && !(isLsvmError(e) && e.kind === 'auth')) {
      zeroize(check.volumeKey);
      throw e;
    }
  }
  return {
    result: {
      luksVersion: after.version,
      luksUuid: luksUuid(after),
      removedKeyslot: opened.keyslot,
      addedKeyslot: added,
    },
    volumeKey: check.volumeKey,
  };
}
