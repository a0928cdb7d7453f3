import { randomBytes } from 'node:crypto';
import { AuthError, FormatError, UnsupportedError, UsageError, zeroize } from '@lsvm/core';
import { TPM2B_PRIVATE } from './basic.js';
import { TPMA_OBJECT, TPMA_SESSION, TPM_ALG, TPM_RH } from './constants.js';
import { marshal, tpmReader } from './marshal.js';
import type { TpmsPcrSelection } from './pcr-selection.js';
import type { AuthSession } from './sessions.js';
import { TPM2B_PUBLIC, type TpmtPublic } from './public.js';
import { TpmError } from './rc.js';
import { sealPolicy, unseal } from './seal.js';
import { SRK_ATTRIBUTES, sealedDataTemplate, srkTemplateEcc, srkTemplateRsa } from './templates.js';
import type { Tpm } from './tpm.js';

/**
 * The TPM side of systemd's `systemd-tpm2` LUKS2 token, as systemd 252 (Debian 12) writes and
 * reads it (src/shared/tpm2-util.c: `tpm2_make_primary`, `tpm2_seal`, `tpm2_unseal`):
 *
 * - a transient primary key in the owner hierarchy, ECC NIST P-256 (RSA-2048 when the TPM has no
 *   ECC), from the TCG storage-key template *without* `noDA` (attributes 0x00030072) — systemd ≥ 254
 *   calls this its "legacy" template and still uses it for tokens without a `tpm2_srk` field;
 * - 32 random bytes generated on the host, sealed by TPM2_Create as a KEYEDHASH object with
 *   attributes fixedTPM | fixedParent (0x12), nameAlg SHA-256, a NULL scheme and the policy
 *   PolicyPCR(bank: pcrs) [then PolicyAuthValue with a PIN, not produced here];
 * - `tpm2-blob` = marshalled TPM2B_PRIVATE ‖ TPM2B_PUBLIC of that object; `tpm2-policy-hash` = the
 *   SHA-256 policy digest.
 *
 * The LUKS passphrase is the base64 of the secret (systemd's cryptenroll-tpm2.c); that and the
 * token JSON live with LUKS (@lsvm/luks2 `systemdTpm2TokenJson`) and the flows.
 */

/** `tpm2-primary-alg` values. */
export type SystemdPrimaryAlg = 'ecc' | 'rsa';

/** `tpm2-pcr-bank` values systemd supports. */
export type SystemdPcrBank = 'sha256' | 'sha1';

/** Attributes of systemd's primary: the TCG storage-key set minus `noDA` (0x00030072). */
export const SYSTEMD_PRIMARY_ATTRIBUTES = SRK_ATTRIBUTES & ~TPMA_OBJECT.noDA;

/** Attributes of the sealed object systemd creates: fixedTPM | fixedParent (0x00000012). */
export const SYSTEMD_SEALED_ATTRIBUTES = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent;

/** Size of the secret systemd seals (`hmac_sensitive.sensitive.data.size = 32`). */
export const SYSTEMD_SECRET_SIZE = 32;

/** systemd's primary-key template for `alg` (AES-128-CFB, NULL scheme, empty unique). */
export function systemdPrimaryTemplate(alg: SystemdPrimaryAlg): TpmtPublic {
  const t = alg === 'ecc' ? srkTemplateEcc() : srkTemplateRsa();
  return { ...t, objectAttributes: SYSTEMD_PRIMARY_ATTRIBUTES };
}

/** The TPM algorithm id of a `tpm2-pcr-bank`. */
export function systemdPcrBankAlg(bank: string): number {
  if (bank === 'sha256') return TPM_ALG.SHA256;
  if (bank === 'sha1') return TPM_ALG.SHA1;
  throw new UnsupportedError('SYSTEMD_TPM2_BANK', `PCR bank ${bank} is not one systemd uses (sha256, sha1)`);
}

/** A transient primary created by {@link createSystemdPrimary}; the caller flushes `handle`. */
export interface SystemdPrimary {
  handle: number;
  public: TpmtPublic;
  alg: SystemdPrimaryAlg;
}

/**
 * Creates systemd's primary key: `alg` when given, else ECC first and RSA when the TPM refuses
 * ECC (as `tpm2_make_primary` with alg 0). The same template on the same TPM yields the same key,
 * which is how the token's blob can be loaded again at unlock time.
 */
export async function createSystemdPrimary(tpm: Tpm, alg?: SystemdPrimaryAlg): Promise<SystemdPrimary> {
  const make = async (a: SystemdPrimaryAlg): Promise<SystemdPrimary> => {
    const r = await tpm.createPrimary(TPM_RH.OWNER, {
      inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
      inPublic: systemdPrimaryTemplate(a),
    });
    return { handle: r.handle, public: r.outPublic, alg: a };
  };
  if (alg) return make(alg);
  try {
    return await make('ecc');
  } catch (e) {
    if (!(e instanceof TpmError)) throw e;
    return make('rsa');
  }
}

/** `tpm2-blob`: TPM2B_PRIVATE ‖ TPM2B_PUBLIC (Tss2_MU marshalling, as tpm2_seal writes it). */
export function systemdTpm2Blob(privateArea: Uint8Array, publicArea: TpmtPublic): Uint8Array {
  const a = marshal(TPM2B_PRIVATE, privateArea);
  const b = marshal(TPM2B_PUBLIC, publicArea);
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Splits a `tpm2-blob` into its private and public parts (strict: nothing may follow). */
export function parseSystemdTpm2Blob(blob: Uint8Array): { private: Uint8Array; public: TpmtPublic } {
  const r = tpmReader(blob, 'systemd-tpm2 blob');
  const priv = TPM2B_PRIVATE.read(r);
  const pub = TPM2B_PUBLIC.read(r);
  if (r.remaining !== 0)
    throw new FormatError('SYSTEMD_TPM2_BLOB', `${r.remaining} bytes follow the TPM2B_PUBLIC`, {
      structure: 'systemd-tpm2 blob',
      offset: blob.length - r.remaining,
    });
  return { private: priv, public: pub };
}

/** Options of {@link sealSystemdTpm2}. */
export interface SystemdSealOptions {
  /** PCR indexes of the policy (`tpm2-pcrs`), e.g. [7, 11]. */
  pcrs: number[];
  /** Values those PCRs must hold at unlock, ascending PCR order (e.g. predicted); read from the TPM when omitted. */
  pcrValues?: Uint8Array[];
  /** Default sha256. */
  bank?: SystemdPcrBank;
  /** Default: ECC, RSA when the TPM has no ECC. */
  primaryAlg?: SystemdPrimaryAlg;
}

/** What {@link sealSystemdTpm2} made: the token's TPM fields and the secret (the caller zeroes it). */
export interface SystemdTpm2Sealed {
  /** The 32 random bytes; their base64 is the LUKS passphrase. */
  secret: Uint8Array;
  blob: Uint8Array;
  policyHash: Uint8Array;
  pcrs: number[];
  pcrBank: SystemdPcrBank;
  primaryAlg: SystemdPrimaryAlg;
}

/**
 * `tpm2_seal` for a hash-PCR policy without PIN: a fresh 32-byte secret sealed under systemd's
 * primary with PolicyPCR over `pcrs` of `bank`. Unlike systemd 252 (which binds the PCR values
 * the TPM holds now), the values may be given, e.g. predicted for a VM's next boot; the token
 * format does not record them, systemd only checks the policy hash at unlock.
 */
export async function sealSystemdTpm2(tpm: Tpm, o: SystemdSealOptions): Promise<SystemdTpm2Sealed> {
  const pcrs = [...new Set(o.pcrs)].sort((a, b) => a - b);
  if (pcrs.length === 0 || pcrs.some((p) => !Number.isInteger(p) || p < 0 || p > 23))
    throw new UsageError('SYSTEMD_TPM2_PCRS', 'tpm2-pcrs must be 1 to 24 PCR indexes 0…23');
  const bank = o.bank ?? 'sha256';
  const sel: TpmsPcrSelection[] = [{ hash: systemdPcrBankAlg(bank), pcrs }];
  const values = o.pcrValues ?? (await tpm.pcrRead(sel)).map((v) => v.value);
  if (values.length !== pcrs.length)
    throw new UsageError('SYSTEMD_TPM2_PCRS', `${pcrs.length} PCRs but ${values.length} values`);
  const policyHash = sealPolicy(sel, values, false);
  const primary = await createSystemdPrimary(tpm, o.primaryAlg);
  const secret = new Uint8Array(randomBytes(SYSTEMD_SECRET_SIZE));
  let session: AuthSession | undefined;
  try {
    // The secret goes to the TPM encrypted: an HMAC session salted to the primary, `decrypt` set.
    session = await tpm.startAuthSession({
      type: 'hmac',
      salt: { handle: primary.handle, public: primary.public },
      attributes: TPMA_SESSION.decrypt,
    });
    const created = await tpm.create(
      primary.handle,
      {
        inSensitive: { userAuth: new Uint8Array(0), data: secret },
        // systemd asks for a 32-byte unique; the TPM replaces it by H(seed ‖ data) anyway.
        inPublic: {
          ...sealedDataTemplate(policyHash, SYSTEMD_SEALED_ATTRIBUTES),
          unique: new Uint8Array(32),
        },
      },
      { auth: [{ session, authValue: new Uint8Array(0) }] },
    );
    return {
      secret,
      blob: systemdTpm2Blob(created.outPrivate, created.outPublic),
      policyHash,
      pcrs,
      pcrBank: bank,
      primaryAlg: primary.alg,
    };
  } catch (e) {
    zeroize(secret);
    throw e;
  } finally {
    // Without continueSession the TPM closes the session only when Create succeeds.
    if (session?.active) await tpm.flushContext(session).catch(() => undefined);
    await tpm.flushContext(primary.handle).catch(() => undefined);
  }
}

/** The token fields {@link unsealSystemdTpm2} needs (a parsed `SystemdTpm2Token` fits). */
export interface SystemdTpm2TokenFields {
  blob: Uint8Array;
  pcrs: number[];
  pcrBank?: string;
  primaryAlg?: string;
  policyHash?: Uint8Array;
  pin?: boolean;
  pubkeyPcrs?: number[];
  /** `tpm2_pcrlock`, `tpm2_srk`, `tpm2_salt`: read so that such tokens are refused by name. */
  pcrlock?: boolean;
  srk?: Uint8Array;
  salt?: Uint8Array;
}

/**
 * `tpm2_unseal` for a hash-PCR token: recreates systemd's primary (`tpm2-primary-alg`, default
 * ecc), loads the blob, satisfies PolicyPCR with the PCRs as they are now over a session salted to
 * the primary with response encryption, and returns the secret (the caller zeroes it). Like
 * systemd, refuses early when the policy the current PCRs give differs from `tpm2-policy-hash`.
 */
export async function unsealSystemdTpm2(tpm: Tpm, t: SystemdTpm2TokenFields): Promise<Uint8Array> {
  if (t.pin) throw new UnsupportedError('SYSTEMD_TPM2_PIN', 'tokens with a TPM2 PIN are not supported');
  if (t.pubkeyPcrs && t.pubkeyPcrs.length > 0)
    throw new UnsupportedError('SYSTEMD_TPM2_SIGNED_POLICY', 'signed PCR policies are not supported');
  // Later systemd fields that change how the object is loaded or authorised: refused by name
  // rather than failing later with a TPM error (or, for pcrlock, an empty PolicyPCR).
  if (t.pcrlock)
    throw new UnsupportedError(
      'SYSTEMD_TPM2_PCRLOCK',
      'tpm2_pcrlock (systemd-pcrlock) policies are not supported',
    );
  if (t.srk && t.srk.length > 0)
    throw new UnsupportedError(
      'SYSTEMD_TPM2_SRK',
      'tokens sealed under a persistent SRK (tpm2_srk) are not supported',
    );
  if (t.salt && t.salt.length > 0)
    throw new UnsupportedError('SYSTEMD_TPM2_SALT', 'tpm2_salt (salted PIN) tokens are not supported');
  const alg = t.primaryAlg ?? 'ecc';
  if (alg !== 'ecc' && alg !== 'rsa')
    throw new UnsupportedError('SYSTEMD_TPM2_PRIMARY_ALG', `tpm2-primary-alg ${alg} is not ecc or rsa`);
  const sel: TpmsPcrSelection[] = [{ hash: systemdPcrBankAlg(t.pcrBank ?? 'sha256'), pcrs: [...t.pcrs] }];
  const sealed = parseSystemdTpm2Blob(t.blob);
  if (t.policyHash && t.pcrs.length > 0) {
    const now = sealPolicy(
      sel,
      (await tpm.pcrRead(sel)).map((v) => v.value),
      false,
    );
    if (Buffer.compare(now, t.policyHash) !== 0)
      throw new AuthError(
        'SYSTEMD_TPM2_POLICY_MISMATCH',
        `PCRs ${t.pcrs.join(', ')} do not hold the values the token is bound to (policy ${Buffer.from(now).toString('hex')}, token ${Buffer.from(t.policyHash).toString('hex')})`,
      );
  }
  const primary = await createSystemdPrimary(tpm, alg);
  try {
    return await unseal(tpm, sealed, { pcrs: sel, parent: primary.handle });
  } finally {
    await tpm.flushContext(primary.handle).catch(() => undefined);
  }
}
