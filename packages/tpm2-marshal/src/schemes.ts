import type { ByteReader, ByteWriter } from '@lsvm/core';
import { FormatError } from '@lsvm/core';
import { TPM_ALG } from './constants.js';
import { HASH_ALGS, digestSize } from './hash.js';
import { SYM_MODES, SYM_OBJECT_ALGS, TPMI_ALG_HASH, TPMI_ALG_HASH_NULL } from './basic.js';
import { type Codec, bad, hex, within } from './marshal.js';

/**
 * Algorithm parameter unions of Part 2 §11 (symmetric definitions) and §11.2 (asymmetric,
 * keyed-hash and KDF schemes). Each is a selector followed by the arm it selects; a selector the
 * TPMI type does not allow is `TPM2_BAD_SELECTOR` (the reference code's TPM_RC_SELECTOR/SCHEME).
 */

/**
 * TPMT_SYM_DEF / TPMT_SYM_DEF_OBJECT. `algorithm` NULL carries nothing else; XOR (TPMT_SYM_DEF
 * only, for parameter obfuscation) carries its hash in `keyBits`; a block cipher carries key size
 * and mode.
 */
export interface TpmtSymDef {
  algorithm: number;
  keyBits?: number;
  mode?: number;
}

/** Allowed key sizes per block cipher (TPMI_AES_KEY_BITS and friends of Part 2 §11.1.3). */
const KEY_BITS: ReadonlyMap<number, ReadonlySet<number>> = new Map([
  [TPM_ALG.AES, new Set([128, 192, 256])],
  [TPM_ALG.SM4, new Set([128])],
  [TPM_ALG.CAMELLIA, new Set([128, 192, 256])],
  [TPM_ALG.TDES, new Set([128, 192])],
]);

function symDef(name: string, allowXor: boolean): Codec<TpmtSymDef> {
  return {
    name,
    write(w, v) {
      w.u16(v.algorithm);
      if (v.algorithm === TPM_ALG.NULL) return;
      if (allowXor && v.algorithm === TPM_ALG.XOR) {
        TPMI_ALG_HASH.write(w, v.keyBits ?? 0);
        return;
      }
      const sizes = KEY_BITS.get(v.algorithm);
      if (!sizes)
        throw new FormatError('TPM2_BAD_SELECTOR', `${hex(v.algorithm)} is not a ${name} algorithm`);
      if (!sizes.has(v.keyBits ?? 0)) throw new FormatError('TPM2_BAD_VALUE', `bad key size ${v.keyBits}`);
      if (v.mode === undefined || !(SYM_MODES.has(v.mode) || v.mode === TPM_ALG.NULL))
        throw new FormatError('TPM2_BAD_VALUE', `bad symmetric mode ${v.mode}`);
      w.u16(v.keyBits ?? 0).u16(v.mode);
    },
    read(r) {
      return within(r, name, () => {
        const at = r.pos;
        const algorithm = r.u16();
        if (algorithm === TPM_ALG.NULL) return { algorithm };
        if (allowXor && algorithm === TPM_ALG.XOR) return { algorithm, keyBits: TPMI_ALG_HASH.read(r) };
        const sizes = KEY_BITS.get(algorithm);
        if (!sizes || !SYM_OBJECT_ALGS.has(algorithm))
          bad('TPM2_BAD_SELECTOR', `${hex(algorithm)} is not a valid ${name} algorithm`, r, at);
        const kAt = r.pos;
        const keyBits = r.u16();
        if (!sizes.has(keyBits))
          bad('TPM2_BAD_VALUE', `key size ${keyBits} is not valid for this cipher`, r, kAt);
        const mAt = r.pos;
        const mode = r.u16();
        if (!SYM_MODES.has(mode) && mode !== TPM_ALG.NULL)
          bad('TPM2_BAD_VALUE', `${hex(mode)} is not a valid TPMI_ALG_SYM_MODE`, r, mAt);
        return { algorithm, keyBits, mode };
      });
    },
  };
}

/** TPMT_SYM_DEF (allows XOR), used by StartAuthSession. */
export const TPMT_SYM_DEF = symDef('TPMT_SYM_DEF', true);
/** TPMT_SYM_DEF_OBJECT (block ciphers and NULL), used in public areas. */
export const TPMT_SYM_DEF_OBJECT = symDef('TPMT_SYM_DEF_OBJECT', false);

/** AES-128-CFB, the parameter-encryption and storage-key cipher nearly everyone uses. */
export const AES_128_CFB: Readonly<TpmtSymDef> = Object.freeze({
  algorithm: TPM_ALG.AES,
  keyBits: 128,
  mode: TPM_ALG.CFB,
});
/** TPM_ALG_NULL symmetric definition. */
export const SYM_NULL: Readonly<TpmtSymDef> = Object.freeze({ algorithm: TPM_ALG.NULL });

/**
 * Any of the scheme structures: `scheme` is the selector; `hashAlg` is set for every arm but
 * NULL and RSAES; `count` for ECDAA; `kdf` for the keyed-hash XOR arm.
 */
export interface TpmtScheme {
  scheme: number;
  hashAlg?: number;
  count?: number;
  kdf?: number;
}

/** Arms of a scheme union: the fields each selector carries. */
type Arm = 'none' | 'hash' | 'hashCount' | 'hashKdf';

function scheme(name: string, arms: ReadonlyMap<number, Arm>): Codec<TpmtScheme> {
  return {
    name,
    write(w, v) {
      const arm = arms.get(v.scheme);
      if (arm === undefined)
        throw new FormatError('TPM2_BAD_SELECTOR', `${hex(v.scheme)} is not a ${name} scheme`);
      w.u16(v.scheme);
      if (arm === 'none') return;
      (arm === 'hashKdf' ? TPMI_ALG_HASH_NULL : TPMI_ALG_HASH).write(w, v.hashAlg ?? 0);
      if (arm === 'hashCount') w.u16(v.count ?? 0);
      if (arm === 'hashKdf') w.u16(v.kdf ?? TPM_ALG.NULL);
    },
    read(r) {
      return within(r, name, () => {
        const at = r.pos;
        const s = r.u16();
        const arm = arms.get(s);
        if (arm === undefined) bad('TPM2_BAD_SELECTOR', `${hex(s)} is not a valid ${name} scheme`, r, at);
        if (arm === 'none') return { scheme: s };
        // TPMS_SCHEME_XOR's hashAlg carries the `+` (NULL allowed); the other arms do not.
        const hashAlg = (arm === 'hashKdf' ? TPMI_ALG_HASH_NULL : TPMI_ALG_HASH).read(r);
        if (arm === 'hashCount') return { scheme: s, hashAlg, count: r.u16() };
        if (arm === 'hashKdf') {
          const kAt = r.pos;
          const kdf = r.u16();
          if (!KDF_SELECTORS.has(kdf))
            bad('TPM2_BAD_VALUE', `${hex(kdf)} is not a valid TPMI_ALG_KDF`, r, kAt);
          return { scheme: s, hashAlg, kdf };
        }
        return { scheme: s, hashAlg };
      });
    },
  };
}

const KDF_SELECTORS: ReadonlySet<number> = new Set([
  TPM_ALG.MGF1,
  TPM_ALG.KDF1_SP800_56A,
  TPM_ALG.KDF2,
  TPM_ALG.KDF1_SP800_108,
  TPM_ALG.NULL,
]);

/** TPMT_KEYEDHASH_SCHEME: HMAC(hash), XOR(hash, kdf) or NULL. */
export const TPMT_KEYEDHASH_SCHEME = scheme(
  'TPMT_KEYEDHASH_SCHEME',
  new Map<number, Arm>([
    [TPM_ALG.HMAC, 'hash'],
    [TPM_ALG.XOR, 'hashKdf'],
    [TPM_ALG.NULL, 'none'],
  ]),
);

/** TPMT_RSA_SCHEME (TPMI_ALG_RSA_SCHEME). */
export const TPMT_RSA_SCHEME = scheme(
  'TPMT_RSA_SCHEME',
  new Map<number, Arm>([
    [TPM_ALG.RSASSA, 'hash'],
    [TPM_ALG.RSAPSS, 'hash'],
    [TPM_ALG.RSAES, 'none'],
    [TPM_ALG.OAEP, 'hash'],
    [TPM_ALG.NULL, 'none'],
  ]),
);

/** TPMT_ECC_SCHEME (TPMI_ALG_ECC_SCHEME). */
export const TPMT_ECC_SCHEME = scheme(
  'TPMT_ECC_SCHEME',
  new Map<number, Arm>([
    [TPM_ALG.ECDSA, 'hash'],
    [TPM_ALG.ECDAA, 'hashCount'],
    [TPM_ALG.SM2, 'hash'],
    [TPM_ALG.ECSCHNORR, 'hash'],
    [TPM_ALG.ECDH, 'hash'],
    [TPM_ALG.ECMQV, 'hash'],
    [TPM_ALG.NULL, 'none'],
  ]),
);

/** TPMT_KDF_SCHEME (TPMI_ALG_KDF). */
export const TPMT_KDF_SCHEME = scheme(
  'TPMT_KDF_SCHEME',
  new Map<number, Arm>([
    [TPM_ALG.MGF1, 'hash'],
    [TPM_ALG.KDF1_SP800_56A, 'hash'],
    [TPM_ALG.KDF2, 'hash'],
    [TPM_ALG.KDF1_SP800_108, 'hash'],
    [TPM_ALG.NULL, 'none'],
  ]),
);

/** TPMT_HA: a hash algorithm and a digest of exactly its size (Part 2 §10.3.2). */
export interface TpmtHa {
  hashAlg: number;
  digest: Uint8Array;
}
export const TPMT_HA: Codec<TpmtHa> = {
  name: 'TPMT_HA',
  write(w: ByteWriter, v: TpmtHa) {
    if (v.digest.length !== digestSize(v.hashAlg))
      throw new FormatError('TPM2_SIZE', `digest of ${v.digest.length} bytes does not fit ${hex(v.hashAlg)}`);
    TPMI_ALG_HASH_NULL.write(w, v.hashAlg);
    w.bytes(v.digest);
  },
  read(r: ByteReader) {
    const hashAlg = TPMI_ALG_HASH_NULL.read(r);
    const n = hashAlg === TPM_ALG.NULL ? 0 : HASH_ALGS.has(hashAlg) ? digestSize(hashAlg) : 0;
    return { hashAlg, digest: r.bytesCopy(n, 'TPMT_HA digest') };
  },
};
