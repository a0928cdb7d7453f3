import { UsageError } from '@lsvm/core';
import { TPMA_OBJECT, TPMA_SESSION, TPM_ALG, TPM_HT, TPM_RH, SRK_PERSISTENT_HANDLE } from './constants.js';
import { PolicyCalculator } from './policy.js';
import type { TpmsPcrSelection } from './pcr-selection.js';
import type { TpmtPublic } from './public.js';
import { sealedDataTemplate, srkTemplateEcc, srkTemplateRsa } from './templates.js';
import { createImportBlob } from './import-blob.js';
import { type SealedKeys, lsvmloadPolicy } from './sealedkeys.js';
import type { Tpm } from './tpm.js';

/**
 * Sealing a small secret to PCR values under the storage root key, and unsealing it over a
 * salted, response-encrypted policy session so the secret never crosses the wire in clear.
 */

/** Which parent to use: a handle, or `'srk'` for 0x81000001 when present else a transient primary. */
export type ParentSpec = number | 'srk' | { template: 'rsa2048' | 'eccp256' };

/** A parent resolved for one operation. */
interface Parent {
  handle: number;
  public: TpmtPublic;
  transient: boolean;
}

/**
 * Resolves the parent: the persistent SRK at 0x81000001 when it exists (as Windows and systemd
 * provision it), else a transient primary in the owner hierarchy from {@link srkTemplateRsa}
 * (or {@link srkTemplateEcc} when asked), which the caller must flush.
 */
async function resolveParent(tpm: Tpm, spec: ParentSpec = 'srk'): Promise<Parent> {
  if (typeof spec === 'number')
    return { handle: spec, public: (await tpm.readPublic(spec)).outPublic, transient: false };
  if (spec === 'srk') {
    const persistent = await tpm.getHandles(TPM_HT.PERSISTENT * 0x1000000);
    if (persistent.includes(SRK_PERSISTENT_HANDLE))
      return {
        handle: SRK_PERSISTENT_HANDLE,
        public: (await tpm.readPublic(SRK_PERSISTENT_HANDLE)).outPublic,
        transient: false,
      };
  }
  const template =
    typeof spec === 'object' && spec.template === 'eccp256' ? srkTemplateEcc() : srkTemplateRsa();
  const r = await tpm.createPrimary(TPM_RH.OWNER, {
    inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
    inPublic: template,
  });
  return { handle: r.handle, public: r.outPublic, transient: true };
}

/** Options of {@link seal}. */
export interface SealOptions {
  /** PCRs the secret is bound to (one bank). */
  pcrs: TpmsPcrSelection[];
  /** PCR values to seal to, in selection order; read from the TPM when omitted. */
  pcrValues?: Uint8Array[];
  /** Optional authValue: the policy then also requires PolicyPassword / PolicyAuthValue. */
  authValue?: Uint8Array;
  /** Parent key; default 'srk'. */
  parent?: ParentSpec;
}

/** A sealed object as stored: the same TPM2B contents tpm2_create -u/-r writes. */
export interface SealedObject {
  public: TpmtPublic;
  private: Uint8Array;
  policyDigest: Uint8Array;
  pcrs: TpmsPcrSelection[];
  creationHash?: Uint8Array;
}

/** The policy a sealed object carries: [PolicyPassword] then PolicyPCR (lsvmload's order). */
export function sealPolicy(
  pcrs: TpmsPcrSelection[],
  values: Uint8Array[],
  withAuth: boolean,
  hashAlg: number = TPM_ALG.SHA256,
): Uint8Array {
  const p = new PolicyCalculator(hashAlg);
  if (withAuth) p.policyPassword();
  return p.policyPcr(pcrs, values).digest;
}

/**
 * Seals `data` (at most 128 bytes) to PCR values with TPM2_Create under the SRK. The sensitive
 * data is sent encrypted (a session salted to the parent with the `decrypt` attribute).
 */
export async function seal(tpm: Tpm, data: Uint8Array, o: SealOptions): Promise<SealedObject> {
  if (data.length === 0 || data.length > 128)
    throw new UsageError('TPM2_SEAL_SIZE', `sealed data must be 1..128 bytes, got ${data.length}`);
  const values = o.pcrValues ?? (await tpm.pcrRead(o.pcrs)).map((v) => v.value);
  const withAuth = (o.authValue?.length ?? 0) > 0;
  const policyDigest = sealPolicy(o.pcrs, values, withAuth);
  const parent = await resolveParent(tpm, o.parent);
  try {
    const session = await tpm.startAuthSession({
      type: 'hmac',
      salt: { handle: parent.handle, public: parent.public },
      attributes: TPMA_SESSION.decrypt,
    });
    const attrs = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | (withAuth ? 0 : TPMA_OBJECT.noDA);
    const r = await tpm.create(
      parent.handle,
      {
        inSensitive: { userAuth: o.authValue ?? new Uint8Array(0), data },
        inPublic: sealedDataTemplate(policyDigest, attrs),
      },
      { auth: [{ session, authValue: new Uint8Array(0) }] },
    );
    return {
      public: r.outPublic,
      private: r.outPrivate,
      policyDigest,
      pcrs: o.pcrs,
      creationHash: r.creationHash,
    };
  } finally {
    if (parent.transient) await tpm.flushContext(parent.handle);
  }
}

/** Options of {@link unseal}. */
export interface UnsealOptions {
  pcrs: TpmsPcrSelection[];
  authValue?: Uint8Array;
  parent?: ParentSpec;
  /**
   * How the policy's password part is satisfied: `authValue` (PolicyAuthValue, the authValue in
   * an HMAC — the default when an authValue is given), `password` (PolicyPassword, the authValue
   * in clear inside the encrypted session's command) or `none` (the default without authValue).
   * PolicyAuthValue and PolicyPassword give the same policy digest.
   */
  policyAuth?: 'authValue' | 'password' | 'none';
}

/**
 * Loads a sealed object and unseals it with a policy session salted to the parent, carrying the
 * `encrypt` attribute: the TPM returns the secret AES-CFB encrypted under the session key.
 */
export async function unseal(
  tpm: Tpm,
  sealed: Pick<SealedObject, 'public' | 'private'>,
  o: UnsealOptions,
): Promise<Uint8Array> {
  const parent = await resolveParent(tpm, o.parent);
  let item: number | undefined;
  try {
    item = (await tpm.load(parent.handle, sealed.private, sealed.public)).handle;
    const session = await tpm.startAuthSession({
      type: 'policy',
      salt: { handle: parent.handle, public: parent.public },
      attributes: TPMA_SESSION.encrypt,
    });
    try {
      const mode = o.policyAuth ?? ((o.authValue?.length ?? 0) > 0 ? 'authValue' : 'none');
      if (mode === 'password') await tpm.policyPassword(session);
      else if (mode === 'authValue') await tpm.policyAuthValue(session);
      await tpm.policyPCR(session, o.pcrs);
      return await tpm.unseal(item, { auth: [{ session, authValue: o.authValue ?? new Uint8Array(0) }] });
    } finally {
      if (session.active) await tpm.flushContext(session).catch(() => undefined);
    }
  } finally {
    if (item !== undefined) await tpm.flushContext(item).catch(() => undefined);
    if (parent.transient) await tpm.flushContext(parent.handle).catch(() => undefined);
  }
}

/** Imports a {@link createImportBlob} result under the parent; returns the object's private part. */
export async function importSealed(
  tpm: Tpm,
  blob: { public: TpmtPublic; duplicate: Uint8Array; inSymSeed: Uint8Array },
  parentSpec: ParentSpec = 'srk',
): Promise<SealedObject & { parentHandle?: number }> {
  const parent = await resolveParent(tpm, parentSpec);
  try {
    const priv = await tpm.import(parent.handle, {
      encryptionKey: new Uint8Array(0),
      objectPublic: blob.public,
      duplicate: blob.duplicate,
      inSymSeed: blob.inSymSeed,
      symmetricAlg: { algorithm: TPM_ALG.NULL },
    });
    return { public: blob.public, private: priv, policyDigest: blob.public.authPolicy, pcrs: [] };
  } finally {
    if (parent.transient) await tpm.flushContext(parent.handle);
  }
}

/** Reads the parent's public area as a host needs it for {@link createImportBlob}. */
export async function readParentPublic(tpm: Tpm, parentSpec: ParentSpec = 'srk'): Promise<TpmtPublic> {
  const parent = await resolveParent(tpm, parentSpec);
  try {
    return parent.public;
  } finally {
    if (parent.transient) await tpm.flushContext(parent.handle);
  }
}

/**
 * PolicyPCR digest for the TPM's current PCR values (the values are read, the digest computed
 * offline), optionally preceded by PolicyAuthValue / PolicyPassword.
 */
export async function policyPcrFromTpm(
  tpm: Tpm,
  pcrs: TpmsPcrSelection[],
  o: { withAuth?: boolean; hashAlg?: number } = {},
): Promise<Uint8Array> {
  const values = (await tpm.pcrRead(pcrs)).map((v) => v.value);
  return sealPolicy(pcrs, values, o.withAuth ?? false, o.hashAlg ?? TPM_ALG.SHA256);
}

/** Options of {@link sealLsvmload}. */
export interface LsvmloadSealOptions {
  /** SHA-256 PCRs to bind (default 7 and 11, as lsvmload uses). */
  pcrs?: number[];
  /** Expected values of those PCRs at unseal time (e.g. from a PCR prediction); read from the TPM when omitted. */
  pcrValues?: Uint8Array[];
  /** The object's authValue, given to PolicyPassword by lsvmload. */
  authValue?: Uint8Array;
  parent?: ParentSpec;
}

/**
 * Seals `data` in the lsvmload layout: a KEYEDHASH object, nameAlg SHA-256, objectAttributes 0,
 * authPolicy = PolicyPassword then PolicyPCR(sha256: pcrs), made with an offline import blob and
 * TPM2_Import under the SRK (so the object carries no fixedTPM/fixedParent, as lsvmload expects).
 * The result serialises with {@link serializeSealedKeys}; its creation hash is empty (an
 * imported object has none).
 */
export async function sealLsvmload(
  tpm: Tpm,
  data: Uint8Array,
  o: LsvmloadSealOptions = {},
): Promise<SealedKeys> {
  const pcrs = [...(o.pcrs ?? [7, 11])].sort((a, b) => a - b);
  const sel = [{ hash: TPM_ALG.SHA256, pcrs }];
  const values = o.pcrValues ?? (await tpm.pcrRead(sel)).map((v) => v.value);
  const parentPublic = await readParentPublic(tpm, o.parent);
  const blob = createImportBlob(parentPublic, data, lsvmloadPolicy(pcrs, values), {
    objectAttributes: 0,
    ...(o.authValue ? { authValue: o.authValue } : {}),
  });
  const imported = await importSealed(tpm, blob, o.parent);
  return { private: imported.private, public: blob.public, creationHash: new Uint8Array(0), pcrs };
}

/** Unseals a sealedkeys object as lsvmload does (PolicyPassword + PolicyPCR), over an encrypted session. */
export function unsealLsvmload(
  tpm: Tpm,
  keys: SealedKeys,
  o: { authValue?: Uint8Array; parent?: ParentSpec } = {},
): Promise<Uint8Array> {
  return unseal(tpm, keys, {
    pcrs: [{ hash: TPM_ALG.SHA256, pcrs: keys.pcrs }],
    policyAuth: 'password',
    authValue: o.authValue ?? new Uint8Array(0),
    ...(o.parent !== undefined ? { parent: o.parent } : {}),
  });
}
