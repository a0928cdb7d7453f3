import { TPMA_OBJECT, TPM_ALG, TPM_ECC } from './constants.js';
import type { TpmtPublic, TpmtPublicEcc, TpmtPublicKeyedHash, TpmtPublicRsa } from './public.js';
import { AES_128_CFB } from './schemes.js';

/** Attributes of a storage root key: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA, restricted, decrypt (0x00030472). */
export const SRK_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM |
  TPMA_OBJECT.fixedParent |
  TPMA_OBJECT.sensitiveDataOrigin |
  TPMA_OBJECT.userWithAuth |
  TPMA_OBJECT.noDA |
  TPMA_OBJECT.restricted |
  TPMA_OBJECT.decrypt;

/**
 * The RSA-2048 storage-root-key template of the TCG "TPM v2.0 Provisioning Guidance" (§7.5.1):
 * nameAlg SHA-256, attributes 0x00030472, AES-128-CFB, no scheme, 2048-bit modulus, default
 * exponent, empty authPolicy and an empty unique field — the same key `tpm2_createprimary -C o`
 * (default `-G rsa2048`) and go-tpm-tools derive, so a transient SRK is the same key every time.
 */
export function srkTemplateRsa(): TpmtPublicRsa {
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: SRK_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    parameters: {
      symmetric: { ...AES_128_CFB },
      scheme: { scheme: TPM_ALG.NULL },
      keyBits: 2048,
      exponent: 0,
    },
    unique: new Uint8Array(0),
  };
}

/** The ECC NIST P-256 storage-key variant of the same guidance (what systemd prefers). */
export function srkTemplateEcc(): TpmtPublicEcc {
  return {
    type: TPM_ALG.ECC,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: SRK_ATTRIBUTES,
    authPolicy: new Uint8Array(0),
    parameters: {
      symmetric: { ...AES_128_CFB },
      scheme: { scheme: TPM_ALG.NULL },
      curveID: TPM_ECC.NIST_P256,
      kdf: { scheme: TPM_ALG.NULL },
    },
    unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
  };
}

/** A sealed-data object template: KEYEDHASH with a NULL scheme, the given policy and attributes. */
export function sealedDataTemplate(
  authPolicy: Uint8Array,
  objectAttributes: number,
  nameAlg: number = TPM_ALG.SHA256,
): TpmtPublicKeyedHash {
  return {
    type: TPM_ALG.KEYEDHASH,
    nameAlg,
    objectAttributes,
    authPolicy,
    parameters: { scheme: { scheme: TPM_ALG.NULL } },
    unique: new Uint8Array(0),
  };
}

/** True when `pub` can be a parent for Create/Load/Import: a restricted decrypt storage key. */
export function isStorageKey(pub: TpmtPublic): boolean {
  const a = pub.objectAttributes;
  return (
    (a & TPMA_OBJECT.restricted) !== 0 &&
    (a & TPMA_OBJECT.decrypt) !== 0 &&
    (pub.type === TPM_ALG.RSA || pub.type === TPM_ALG.ECC)
  );
}
