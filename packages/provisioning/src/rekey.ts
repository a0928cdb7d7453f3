import { randomBytes } from 'node:crypto';
import {
  AuthError,
  type BlockDevice,
  type LongOperationOptions,
  VerificationError,
  isLsvmError,
  zeroize,
} from '@lsvm/core';
import { type KdfOptions, addKeyslot, readLuks, reencryptLuks, removeKeyslot, unlockLuks } from '@lsvm/luks2';
import { luksUuid } from './check.js';

/**
 * Step 4 of provisioning: the well-known passphrase is replaced by a fresh random one.
 *
 * - Mode `keyslot`: a keyslot is added under the new passphrase, then the keyslot the well-known
 *   one opened is removed (LUKS header writes keep one valid copy at every instant, @lsvm/luks2).
 *   The volume keys stay those of the template: anyone who kept the template's volume keys (or a
 *   copy of its headers and the well-known passphrase) can still decrypt the VM's data.
 * - Mode `reencrypt`: new random volume keys, every data sector re-encrypted in place by
 *   @lsvm/luks2's offline re-encryption — crash-safe through a write-ahead journal (the original
 *   ciphertext of the chunk in flight is saved before it is overwritten), resumable from any crash
 *   point by running it again with the same journal, each chunk read back and compared. The cipher
 *   and key size stay (the boot volume stays LUKS1 aes-xts-plain64 with a 256-bit key).
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
  /** Keyslot the well-known passphrase opened (keyslot mode); -1 after re-encryption, which drops every old keyslot. */
  removedKeyslot: number;
  addedKeyslot: number;
  /** Re-encryption only. */
  reencrypted?: {
    bytes: number;
    chunks: number;
    chunksWritten: number;
    resumed: boolean;
    cipher: string;
    keySizeBits: number;
  };
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
  const { volume, volumeKey } = await checkRekeyed(dev, oldPassphrase, newPassphrase);
  return {
    result: {
      luksVersion: volume.version,
      luksUuid: luksUuid(volume),
      removedKeyslot: opened.keyslot,
      addedKeyslot: added,
    },
    volumeKey,
  };
}

/** Reads the header back: the new passphrase must open it, the old one must not. */
async function checkRekeyed(
  dev: BlockDevice,
  oldPassphrase: Uint8Array,
  newPassphrase: Uint8Array,
): Promise<{ volume: Awaited<ReturnType<typeof readLuks>>; volumeKey: Uint8Array }> {
  const volume = await readLuks(dev);
  const check = await unlockLuks(dev, volume, newPassphrase, { boundOnly: true });
  try {
    await unlockLuks(dev, volume, oldPassphrase);
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
  return { volume, volumeKey: check.volumeKey };
}

/** Options of {@link reencryptVolume}. */
export interface ReencryptVolumeOptions extends LongOperationOptions {
  /** The journal device (see @lsvm/luks2 `reencryptJournalSize`); the same one resumes a run. */
  journal: BlockDevice;
  /** Bytes per journal record (default 1 MiB). */
  chunkSize?: number;
}

/**
 * Re-keys one volume in `reencrypt` mode: new random volume key, all data re-encrypted, only the
 * new passphrase's keyslot left. Running it again with the same journal after a crash (or an
 * abort) resumes the interrupted run — pass the same passphrases. Returns the new volume key
 * (the caller zeroes it).
 */
export async function reencryptVolume(
  dev: BlockDevice,
  oldPassphrase: Uint8Array,
  newPassphrase: Uint8Array,
  options: ReencryptVolumeOptions,
): Promise<{ result: RekeyResult; volumeKey: Uint8Array }> {
  const r = await reencryptLuks(dev, {
    key: oldPassphrase,
    newPassphrase,
    kdf: REKEY_KDF,
    digestIterations: 1000,
    journal: options.journal,
    ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const { volume, volumeKey } = await checkRekeyed(dev, oldPassphrase, newPassphrase);
  return {
    result: {
      luksVersion: volume.version,
      luksUuid: luksUuid(volume),
      removedKeyslot: -1,
      addedKeyslot: r.keyslot,
      reencrypted: {
        bytes: r.dataSize,
        chunks: r.chunks,
        chunksWritten: r.chunksWritten,
        resumed: r.resumed,
        cipher: r.cipher,
        keySizeBits: r.keySizeBits,
      },
    },
    volumeKey,
  };
}
