import { TPM_ALG, TPM_ECC } from './constants.js';
import { HASH_ALGS } from './hash.js';
import { type Codec, restricted, tpm2b, u16 } from './marshal.js';

/**
 * The base sized buffers of Part 2 §10.4 with the maxima of a TPM implementing SHA-512 and
 * RSA-4096 / ECC-521 (the largest sizes the library's `Implementation.h` allows); a TPM2B larger
 * than these is refused the way the reference unmarshallers refuse it.
 */
export const MAX_DIGEST_SIZE = 64;
/** sizeof(TPMU_NAME): a TPMT_HA (2 + 64) or a handle. */
export const MAX_NAME_SIZE = 66;
/** MAX_SYM_DATA (Part 2 §10.4.12). */
export const MAX_SYM_DATA = 128;
/** MAX_RSA_KEY_BYTES for RSA-4096. */
export const MAX_RSA_KEY_BYTES = 512;
/** MAX_ECC_KEY_BYTES for P-521. */
export const MAX_ECC_KEY_BYTES = 66;
/** MAX_DIGEST_BUFFER / MAX_NV_BUFFER_SIZE of the reference implementation. */
export const MAX_BUFFER_SIZE = 1024;
/** sizeof(TPMU_SENSITIVE_COMPOSITE) = (MAX_RSA_KEY_BYTES / 2) * 5, the RSA private-prime arm. */
export const MAX_SENSITIVE_COMPOSITE = (MAX_RSA_KEY_BYTES / 2) * 5;
/** Upper bound for TPM2B_PRIVATE and TPM2B_ID_OBJECT payloads (MAX_DIGEST + sizeof(_PRIVATE)). */
export const MAX_PRIVATE_SIZE =
  2 + MAX_DIGEST_SIZE + 2 + MAX_DIGEST_SIZE + 2 + MAX_DIGEST_SIZE + 2 + MAX_SENSITIVE_COMPOSITE + 16;
/** MAX_CONTEXT_SIZE for the contexts a software TPM produces. */
export const MAX_CONTEXT_SIZE = 5120;

export const TPM2B_DIGEST = tpm2b('TPM2B_DIGEST', MAX_DIGEST_SIZE);
export const TPM2B_DATA = tpm2b('TPM2B_DATA', MAX_DIGEST_SIZE + 2);
export const TPM2B_NONCE = tpm2b('TPM2B_NONCE', MAX_DIGEST_SIZE);
export const TPM2B_AUTH = tpm2b('TPM2B_AUTH', MAX_DIGEST_SIZE);
export const TPM2B_NAME = tpm2b('TPM2B_NAME', MAX_NAME_SIZE);
export const TPM2B_MAX_BUFFER = tpm2b('TPM2B_MAX_BUFFER', MAX_BUFFER_SIZE);
export const TPM2B_MAX_NV_BUFFER = tpm2b('TPM2B_MAX_NV_BUFFER', MAX_BUFFER_SIZE);
export const TPM2B_SENSITIVE_DATA = tpm2b('TPM2B_SENSITIVE_DATA', MAX_SYM_DATA);
export const TPM2B_SYM_KEY = tpm2b('TPM2B_SYM_KEY', 32);
export const TPM2B_PRIVATE_KEY_RSA = tpm2b('TPM2B_PRIVATE_KEY_RSA', MAX_RSA_KEY_BYTES / 2);
export const TPM2B_PRIVATE_VENDOR_SPECIFIC = tpm2b('TPM2B_PRIVATE_VENDOR_SPECIFIC', MAX_SENSITIVE_COMPOSITE);
export const TPM2B_PUBLIC_KEY_RSA = tpm2b('TPM2B_PUBLIC_KEY_RSA', MAX_RSA_KEY_BYTES);
export const TPM2B_ECC_PARAMETER = tpm2b('TPM2B_ECC_PARAMETER', MAX_ECC_KEY_BYTES);
/** sizeof(TPMU_ENCRYPTED_SECRET): the RSA arm. */
export const TPM2B_ENCRYPTED_SECRET = tpm2b('TPM2B_ENCRYPTED_SECRET', MAX_RSA_KEY_BYTES);
export const TPM2B_ID_OBJECT = tpm2b('TPM2B_ID_OBJECT', 2 + MAX_DIGEST_SIZE + MAX_DIGEST_SIZE);
export const TPM2B_PRIVATE = tpm2b('TPM2B_PRIVATE', MAX_PRIVATE_SIZE);
export const TPM2B_CONTEXT_DATA = tpm2b('TPM2B_CONTEXT_DATA', MAX_CONTEXT_SIZE);
export const TPM2B_IV = tpm2b('TPM2B_IV', 16);
export const TPM2B_TIMEOUT = tpm2b('TPM2B_TIMEOUT', 8);
export const TPM2B_OPERAND = tpm2b('TPM2B_OPERAND', MAX_DIGEST_SIZE);
export const TPM2B_EVENT = tpm2b('TPM2B_EVENT', 1024);

const plusNull = (s: ReadonlySet<number>): Set<number> => new Set([...s, TPM_ALG.NULL]);

/** TPMI_ALG_HASH without and with the `+` (NULL allowed) flag. */
export const TPMI_ALG_HASH = restricted('TPMI_ALG_HASH', u16, HASH_ALGS);
export const TPMI_ALG_HASH_NULL = restricted('TPMI_ALG_HASH', u16, plusNull(HASH_ALGS));

/** Symmetric block ciphers an object may name (TPMI_ALG_SYM_OBJECT). */
export const SYM_OBJECT_ALGS: ReadonlySet<number> = new Set([
  TPM_ALG.AES,
  TPM_ALG.SM4,
  TPM_ALG.CAMELLIA,
  TPM_ALG.TDES,
]);
/** Block cipher modes (TPMI_ALG_SYM_MODE). */
export const SYM_MODES: ReadonlySet<number> = new Set([
  TPM_ALG.CTR,
  TPM_ALG.OFB,
  TPM_ALG.CBC,
  TPM_ALG.CFB,
  TPM_ALG.ECB,
]);
export const TPMI_ALG_SYM_MODE_NULL = restricted('TPMI_ALG_SYM_MODE', u16, plusNull(SYM_MODES));

/** Curves (TPMI_ECC_CURVE) the TCG ECC profile defines. */
export const ECC_CURVES: ReadonlySet<number> = new Set(
  Object.values(TPM_ECC).filter((c) => c !== TPM_ECC.NONE),
);
export const TPMI_ECC_CURVE = restricted('TPMI_ECC_CURVE', u16, ECC_CURVES);

/** Key-derivation schemes (TPMI_ALG_KDF). */
export const KDF_ALGS: ReadonlySet<number> = new Set([
  TPM_ALG.MGF1,
  TPM_ALG.KDF1_SP800_56A,
  TPM_ALG.KDF2,
  TPM_ALG.KDF1_SP800_108,
]);

/** TPMI_YES_NO. */
export const TPMI_YES_NO: Codec<number> = restricted(
  'TPMI_YES_NO',
  { name: 'BYTE', write: (w, v) => void w.u8(v), read: (r) => r.u8() },
  new Set([0, 1]),
);
