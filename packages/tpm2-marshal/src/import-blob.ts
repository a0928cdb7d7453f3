import { randomBytes } from 'node:crypto';
import { UnsupportedError, UsageError } from '@lsvm/core';
import { TPMA_OBJECT, TPM_ALG } from './constants.js';
import { aesCfb, createEncryptedSecret } from './crypto.js';
import { digestSize, hash, hmac } from './hash.js';
import { kdfa } from './kdf.js';
import { marshal, sized } from './marshal.js';
import { objectName } from './names.js';
import type { TpmtPublic, TpmtPublicKeyedHash } from './public.js';
import type { ImportInputs } from './commands.js';
import { SYM_NULL } from './schemes.js';
import { TPMT_SENSITIVE } from './sensitive.js';
import { sealedDataTemplate, isStorageKey } from './templates.js';

/** Options of {@link createImportBlob}. */
export interface ImportBlobOptions {
  /** The sealed object's authValue (used with PolicyAuthValue / PolicyPassword). */
  authValue?: Uint8Array;
  /** TPMA_OBJECT bits; fixedTPM and fixedParent must stay clear for an imported object. Default: userWithAuth when there is no policy, else 0. */
  objectAttributes?: number;
  /** The sealed object's nameAlg (SHA-256 by default). */
  nameAlg?: number;
}

/** What {@link createImportBlob} produces: the three inputs of TPM2_Import besides the parent. */
export interface ImportBlob {
  public: TpmtPublicKeyedHash;
  /** TPM2B_PRIVATE contents: the outer-wrapped sensitive area. */
  duplicate: Uint8Array;
  /** TPM2B_ENCRYPTED_SECRET contents: the seed, encrypted to the parent. */
  inSymSeed: Uint8Array;
  /** The object's name. */
  name: Uint8Array;
}

/**
 * Creates, offline, a duplication blob that seals `data` to a TPM knowing only the public part of
 * one of its storage keys (Part 1 §23.3.2, "outer wrapper"; the approach of go-tpm-tools'
 * `server.CreateImportBlob`). The host never needs the target TPM: `Import` + `Load` on the target
 * yields a KEYEDHASH object that `Unseal` returns `data` from, under `policy`.
 *
 * The seed is shared with the parent as for a salt (label "DUPLICATE": RSA-OAEP or ECDH + KDFe);
 * `symKey = KDFa(parentNameAlg, seed, "STORAGE", name, "", parentSymBits)` encrypts the
 * TPM2B-wrapped TPMT_SENSITIVE with AES-CFB and a zero IV, and
 * `HMAC(KDFa(parentNameAlg, seed, "INTEGRITY", "", "", digestBits), encSensitive || name)` is the
 * outer integrity.
 */
export function createImportBlob(
  parentPublic: TpmtPublic,
  data: Uint8Array,
  policy: Uint8Array,
  o: ImportBlobOptions = {},
): ImportBlob {
  if (!isStorageKey(parentPublic))
    throw new UsageError('TPM2_NOT_A_PARENT', 'the parent must be a restricted decrypt key');
  if (data.length > 128)
    throw new UsageError('TPM2_SEAL_TOO_LARGE', `sealed data is limited to 128 bytes, got ${data.length}`);
  const sym = (
    parentPublic.parameters as { symmetric: { algorithm: number; keyBits?: number; mode?: number } }
  ).symmetric;
  if (sym.algorithm !== TPM_ALG.AES || sym.mode !== TPM_ALG.CFB || !sym.keyBits)
    throw new UnsupportedError('TPM2_SYM_UNSUPPORTED', 'parent symmetric algorithm must be AES-CFB');
  const nameAlg = o.nameAlg ?? TPM_ALG.SHA256;
  const attrs = o.objectAttributes ?? (policy.length === 0 ? TPMA_OBJECT.userWithAuth : 0);
  if (attrs & (TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent))
    throw new UsageError('TPM2_BAD_ATTRIBUTES', 'an imported object cannot have fixedTPM or fixedParent');
  // First, so that a parent key unfit for it fails before any secret exists to be zeroed.
  const { seed, encrypted } = createEncryptedSecret(parentPublic, 'DUPLICATE');
  const seedValue = new Uint8Array(randomBytes(digestSize(nameAlg)));
  const pub = sealedDataTemplate(policy, attrs, nameAlg);
  pub.unique = hash(nameAlg, seedValue, data);
  const name = objectName(pub);
  const sensitive = marshal(sized('TPM2B_SENSITIVE', TPMT_SENSITIVE), {
    sensitiveType: TPM_ALG.KEYEDHASH,
    authValue: o.authValue ?? new Uint8Array(0),
    seedValue,
    sensitive: data,
  });
  const pAlg = parentPublic.nameAlg;
  const symKey = kdfa(pAlg, seed, 'STORAGE', name, new Uint8Array(0), sym.keyBits);
  const encSensitive = aesCfb(symKey, new Uint8Array(16), sensitive, false);
  const hmacKey = kdfa(pAlg, seed, 'INTEGRITY', new Uint8Array(0), new Uint8Array(0), digestSize(pAlg) * 8);
  const outer = hmac(pAlg, hmacKey, encSensitive, name);
  const duplicate = new Uint8Array(2 + outer.length + encSensitive.length);
  duplicate[0] = outer.length >> 8;
  duplicate[1] = outer.length & 0xff;
  duplicate.set(outer, 2);
  duplicate.set(encSensitive, 2 + outer.length);
  for (const b of [seed, symKey, hmacKey, sensitive, seedValue]) b.fill(0);
  return { public: pub, duplicate, inSymSeed: encrypted, name };
}

/** The TPM2_Import inputs for a blob (no inner wrapper, so encryptionKey empty and symmetricAlg NULL). */
export function importInputs(blob: ImportBlob): ImportInputs {
  return {
    encryptionKey: new Uint8Array(0),
    objectPublic: blob.public,
    duplicate: blob.duplicate,
    inSymSeed: blob.inSymSeed,
    symmetricAlg: { ...SYM_NULL },
  };
}
