import { type BlockDevice, UsageError, toHex, zeroize } from '@lsvm/core';
import {
  type KdfOptions,
  type LuksVolume,
  type SystemdTpm2Token,
  addKeyslot,
  addToken,
  parseSystemdTpm2Token,
  readLuks,
  removeKeyslot,
  systemdTpm2TokenJson,
} from '@lsvm/luks2';
import {
  type SystemdPcrBank,
  type SystemdPrimaryAlg,
  type Tpm,
  sealSystemdTpm2,
  unsealSystemdTpm2,
} from '@lsvm/tpm2-marshal';

/**
 * The optional `systemd-token` step of provisioning: what `systemd-cryptenroll --tpm2-device=…
 * --tpm2-pcrs=7+11` does to the root volume (systemd 252, src/cryptenroll/cryptenroll-tpm2.c),
 * so a guest that unlocks its root with systemd-cryptsetup / the cryptsetup token plugin can do so
 * from the VM's TPM without lsvmload's sealedkeys:
 *
 * 1. 32 random bytes sealed to the TPM under systemd's primary key with PolicyPCR(sha256: pcrs)
 *    (@lsvm/tpm2-marshal `sealSystemdTpm2`, here with the PCR values predicted offline);
 * 2. a new keyslot whose passphrase is the base64 of those bytes (systemd base64-encodes the secret
 *    "for compat with homed" and so it can be typed), with systemd's minimal PBKDF: PBKDF2-SHA512,
 *    1000 iterations — the secret is high-entropy, stretching adds nothing;
 * 3. a `systemd-tpm2` token naming that keyslot (@lsvm/luks2 `systemdTpm2TokenJson`, systemd's
 *    field names and order), at the first free token id, as `crypt_token_json_set(CRYPT_ANY_TOKEN)`.
 */

/** KDF of the token's keyslot: systemd's `cryptsetup_set_minimal_pbkdf` (PBKDF2-SHA512, 1000). */
export const SYSTEMD_TOKEN_KDF: KdfOptions = { type: 'pbkdf2', hash: 'sha512', iterations: 1000 };

/** What was enrolled (no secret). */
export interface SystemdTokenResult {
  tokenId: number;
  keyslot: number;
  pcrs: number[];
  pcrBank: SystemdPcrBank;
  primaryAlg: SystemdPrimaryAlg;
  /** `tpm2-policy-hash`, hex. */
  policyHash: string;
}

/** Options of {@link enrollSystemdTpm2Token}. */
export interface EnrollSystemdTokenOptions {
  /** PCRs to bind (default 7 and 11). */
  pcrs?: number[];
  /** Their values at unlock, ascending PCR order (default: what the TPM holds now, as systemd does). */
  pcrValues?: Uint8Array[];
}

/**
 * The LUKS passphrase systemd derives from a sealed secret: its base64, padded (`base64mem`).
 * Encoded from a view of `secret` (no pooled Buffer copy of it is left behind); the base64 string
 * itself is a JS string, which cannot be wiped — only the returned bytes can (the caller zeroes them).
 */
export function systemdTokenPassphrase(secret: Uint8Array): Uint8Array {
  return new TextEncoder().encode(
    Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength).toString('base64'),
  );
}

/**
 * Refuses a volume that cannot carry a token: LUKS1 has no token area. A UsageError (the request
 * does not fit the input, as @lsvm/luks2's `addToken` says for LUKS1), so flows can check before
 * they write anything.
 */
export function assertTokenCapable(volume: LuksVolume, what = 'the volume'): void {
  if (volume.version !== 2)
    throw new UsageError(
      'PROVISION_SYSTEMD_TOKEN_LUKS1',
      `${what} is LUKS1, which has no tokens: a systemd-tpm2 token needs LUKS2`,
    );
}

/**
 * Enrolls a `systemd-tpm2` token on a LUKS2 volume, authorised by an existing passphrase. The
 * keyslot is written first, then the token (two header updates, each keeping one valid copy);
 * if the token cannot be added the keyslot is removed again.
 */
export async function enrollSystemdTpm2Token(
  device: BlockDevice,
  passphrase: Uint8Array,
  tpm: Tpm,
  options: EnrollSystemdTokenOptions = {},
): Promise<SystemdTokenResult> {
  assertTokenCapable(await readLuks(device));
  const sealed = await sealSystemdTpm2(tpm, {
    pcrs: options.pcrs ?? [7, 11],
    ...(options.pcrValues ? { pcrValues: options.pcrValues } : {}),
  });
  const tokenPass = systemdTokenPassphrase(sealed.secret);
  zeroize(sealed.secret);
  try {
    const keyslot = await addKeyslot(device, { passphrase }, tokenPass, { kdf: SYSTEMD_TOKEN_KDF });
    const token: SystemdTpm2Token = {
      type: 'systemd-tpm2',
      keyslots: [keyslot],
      blob: sealed.blob,
      pcrs: sealed.pcrs,
      pcrBank: sealed.pcrBank,
      primaryAlg: sealed.primaryAlg,
      policyHash: sealed.policyHash,
      pin: false,
    };
    let tokenId: number;
    try {
      tokenId = await addToken(device, systemdTpm2TokenJson(token));
    } catch (e) {
      await removeKeyslot(device, keyslot).catch(() => undefined);
      throw e;
    }
    return {
      tokenId,
      keyslot,
      pcrs: sealed.pcrs,
      pcrBank: sealed.pcrBank,
      primaryAlg: sealed.primaryAlg,
      policyHash: toHex(sealed.policyHash),
    };
  } finally {
    zeroize(tokenPass);
  }
}

/** The `systemd-tpm2` tokens of a LUKS2 volume, parsed (none on LUKS1). */
export function systemdTpm2Tokens(volume: LuksVolume): { id: number; token: SystemdTpm2Token }[] {
  if (volume.version !== 2) return [];
  return volume.active.metadata.tokens
    .filter((t) => t.type === 'systemd-tpm2')
    .map((t) => ({ id: t.id, token: parseSystemdTpm2Token(t.json) }));
}

/**
 * What systemd-cryptsetup does with a token at unlock, on the host: unseals it on `tpm` (the PCRs
 * must hold the bound values) and returns the LUKS passphrase (the caller zeroes it) and the
 * keyslot it opens.
 */
export async function unsealSystemdTpm2Token(
  tpm: Tpm,
  token: SystemdTpm2Token,
): Promise<{ passphrase: Uint8Array; keyslots: number[] }> {
  const secret = await unsealSystemdTpm2(tpm, token);
  try {
    return { passphrase: systemdTokenPassphrase(secret), keyslots: [...token.keyslots] };
  } finally {
    zeroize(secret);
  }
}
