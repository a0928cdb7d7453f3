import { FormatError } from '@lsvm/core';
import { TPMA_OBJECT_RESERVED, TPM_ALG } from './constants.js';
import {
  TPM2B_DIGEST,
  TPM2B_ECC_PARAMETER,
  TPM2B_PUBLIC_KEY_RSA,
  TPMI_ALG_HASH_NULL,
  TPMI_ECC_CURVE,
} from './basic.js';
import { type Codec, bad, hex, restricted, sized, struct, u16, u32, within } from './marshal.js';
import {
  TPMT_ECC_SCHEME,
  TPMT_KDF_SCHEME,
  TPMT_KEYEDHASH_SCHEME,
  TPMT_RSA_SCHEME,
  TPMT_SYM_DEF_OBJECT,
  type TpmtScheme,
  type TpmtSymDef,
} from './schemes.js';

/** TPMS_ECC_POINT (Part 2 §11.2.5.2). */
export interface TpmsEccPoint {
  x: Uint8Array;
  y: Uint8Array;
}
export const TPMS_ECC_POINT: Codec<TpmsEccPoint> = struct<TpmsEccPoint>('TPMS_ECC_POINT', [
  ['x', TPM2B_ECC_PARAMETER],
  ['y', TPM2B_ECC_PARAMETER],
]);
/** TPM2B_ECC_POINT: a sized TPMS_ECC_POINT (size zero refused). */
export const TPM2B_ECC_POINT = sized('TPM2B_ECC_POINT', TPMS_ECC_POINT);

/** TPMS_RSA_PARMS (Part 2 §12.2.3.5). `exponent` 0 means the default 65537. */
export interface TpmsRsaParms {
  symmetric: TpmtSymDef;
  scheme: TpmtScheme;
  keyBits: number;
  exponent: number;
}
/** TPMS_ECC_PARMS (Part 2 §12.2.3.6). */
export interface TpmsEccParms {
  symmetric: TpmtSymDef;
  scheme: TpmtScheme;
  curveID: number;
  kdf: TpmtScheme;
}
/** TPMS_KEYEDHASH_PARMS (Part 2 §12.2.3.3). */
export interface TpmsKeyedHashParms {
  scheme: TpmtScheme;
}
/** TPMS_SYMCIPHER_PARMS (Part 2 §12.2.3.2). */
export interface TpmsSymCipherParms {
  sym: TpmtSymDef;
}

const TPMI_RSA_KEY_BITS = restricted('TPMI_RSA_KEY_BITS', u16, new Set([1024, 2048, 3072, 4096]));

export const TPMS_RSA_PARMS: Codec<TpmsRsaParms> = struct<TpmsRsaParms>('TPMS_RSA_PARMS', [
  ['symmetric', TPMT_SYM_DEF_OBJECT],
  ['scheme', TPMT_RSA_SCHEME],
  ['keyBits', TPMI_RSA_KEY_BITS],
  ['exponent', u32],
]);
export const TPMS_ECC_PARMS: Codec<TpmsEccParms> = struct<TpmsEccParms>('TPMS_ECC_PARMS', [
  ['symmetric', TPMT_SYM_DEF_OBJECT],
  ['scheme', TPMT_ECC_SCHEME],
  ['curveID', TPMI_ECC_CURVE],
  ['kdf', TPMT_KDF_SCHEME],
]);
export const TPMS_KEYEDHASH_PARMS: Codec<TpmsKeyedHashParms> = struct<TpmsKeyedHashParms>(
  'TPMS_KEYEDHASH_PARMS',
  [['scheme', TPMT_KEYEDHASH_SCHEME]],
);
export const TPMS_SYMCIPHER_PARMS: Codec<TpmsSymCipherParms> = struct<TpmsSymCipherParms>(
  'TPMS_SYMCIPHER_PARMS',
  [['sym', TPMT_SYM_DEF_OBJECT]],
);

interface PublicBase {
  /** TPMI_ALG_HASH+ name algorithm. */
  nameAlg: number;
  /** TPMA_OBJECT bits, see {@link TPMA_OBJECT}. */
  objectAttributes: number;
  /** TPM2B_DIGEST authPolicy (empty for none). */
  authPolicy: Uint8Array;
}
/** TPMT_PUBLIC for an RSA key. */
export interface TpmtPublicRsa extends PublicBase {
  type: typeof TPM_ALG.RSA;
  parameters: TpmsRsaParms;
  /** The modulus (TPM2B_PUBLIC_KEY_RSA). */
  unique: Uint8Array;
}
/** TPMT_PUBLIC for an ECC key. */
export interface TpmtPublicEcc extends PublicBase {
  type: typeof TPM_ALG.ECC;
  parameters: TpmsEccParms;
  unique: TpmsEccPoint;
}
/** TPMT_PUBLIC for a keyed-hash object (HMAC key or sealed data). */
export interface TpmtPublicKeyedHash extends PublicBase {
  type: typeof TPM_ALG.KEYEDHASH;
  parameters: TpmsKeyedHashParms;
  /** TPM2B_DIGEST: H(seedValue || data) for a loaded object, empty in a template. */
  unique: Uint8Array;
}
/** TPMT_PUBLIC for a symmetric cipher key. */
export interface TpmtPublicSymCipher extends PublicBase {
  type: typeof TPM_ALG.SYMCIPHER;
  parameters: TpmsSymCipherParms;
  unique: Uint8Array;
}
/** TPMT_PUBLIC (Part 2 §12.2.4): a discriminated union on `type` (TPMI_ALG_PUBLIC). */
export type TpmtPublic = TpmtPublicRsa | TpmtPublicEcc | TpmtPublicKeyedHash | TpmtPublicSymCipher;

/** TPMA_OBJECT with the reserved-bit check the reference code applies (TPM_RC_RESERVED_BITS). */
const TPMA_OBJECT_CODEC: Codec<number> = {
  name: 'TPMA_OBJECT',
  write(w, v) {
    if ((v & TPMA_OBJECT_RESERVED) !== 0)
      throw new FormatError('TPM2_RESERVED_BITS', `TPMA_OBJECT ${hex(v, 8)} sets reserved bits`);
    w.u32(v >>> 0);
  },
  read(r) {
    const at = r.pos;
    const v = r.u32();
    if ((v & TPMA_OBJECT_RESERVED) !== 0)
      bad('TPM2_RESERVED_BITS', `TPMA_OBJECT ${hex(v, 8)} sets reserved bits`, r, at, 'TPMA_OBJECT');
    return v;
  },
};

/** TPMT_PUBLIC codec. */
export const TPMT_PUBLIC: Codec<TpmtPublic> = {
  name: 'TPMT_PUBLIC',
  write(w, v) {
    w.u16(v.type);
    TPMI_ALG_HASH_NULL.write(w, v.nameAlg);
    TPMA_OBJECT_CODEC.write(w, v.objectAttributes);
    TPM2B_DIGEST.write(w, v.authPolicy);
    switch (v.type) {
      case TPM_ALG.RSA:
        TPMS_RSA_PARMS.write(w, v.parameters);
        TPM2B_PUBLIC_KEY_RSA.write(w, v.unique);
        return;
      case TPM_ALG.ECC:
        TPMS_ECC_PARMS.write(w, v.parameters);
        TPMS_ECC_POINT.write(w, v.unique);
        return;
      case TPM_ALG.KEYEDHASH:
        TPMS_KEYEDHASH_PARMS.write(w, v.parameters);
        TPM2B_DIGEST.write(w, v.unique);
        return;
      case TPM_ALG.SYMCIPHER:
        TPMS_SYMCIPHER_PARMS.write(w, v.parameters);
        TPM2B_DIGEST.write(w, v.unique);
        return;
      default:
        throw new FormatError(
          'TPM2_BAD_SELECTOR',
          `${hex((v as { type: number }).type)} is not a TPMI_ALG_PUBLIC`,
        );
    }
  },
  read(r) {
    return within(r, 'TPMT_PUBLIC', () => {
      const at = r.pos;
      const type = r.u16();
      if (
        type !== TPM_ALG.RSA &&
        type !== TPM_ALG.ECC &&
        type !== TPM_ALG.KEYEDHASH &&
        type !== TPM_ALG.SYMCIPHER
      )
        bad('TPM2_BAD_SELECTOR', `${hex(type)} is not a valid TPMI_ALG_PUBLIC`, r, at);
      const nameAlg = TPMI_ALG_HASH_NULL.read(r);
      const objectAttributes = TPMA_OBJECT_CODEC.read(r);
      const authPolicy = TPM2B_DIGEST.read(r);
      const base = { nameAlg, objectAttributes, authPolicy };
      switch (type) {
        case TPM_ALG.RSA:
          return { type, ...base, parameters: TPMS_RSA_PARMS.read(r), unique: TPM2B_PUBLIC_KEY_RSA.read(r) };
        case TPM_ALG.ECC:
          return { type, ...base, parameters: TPMS_ECC_PARMS.read(r), unique: TPMS_ECC_POINT.read(r) };
        case TPM_ALG.KEYEDHASH:
          return { type, ...base, parameters: TPMS_KEYEDHASH_PARMS.read(r), unique: TPM2B_DIGEST.read(r) };
        default:
          return {
            type: TPM_ALG.SYMCIPHER,
            ...base,
            parameters: TPMS_SYMCIPHER_PARMS.read(r),
            unique: TPM2B_DIGEST.read(r),
          };
      }
    });
  },
};

/** TPM2B_PUBLIC: a sized TPMT_PUBLIC; the size must match its contents exactly and may not be zero. */
export const TPM2B_PUBLIC: Codec<TpmtPublic> = sized('TPM2B_PUBLIC', TPMT_PUBLIC) as Codec<TpmtPublic>;
