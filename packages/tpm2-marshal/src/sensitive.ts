import { FormatError } from '@lsvm/core';
import { TPM_ALG } from './constants.js';
import {
  TPM2B_AUTH,
  TPM2B_DIGEST,
  TPM2B_ECC_PARAMETER,
  TPM2B_PRIVATE_KEY_RSA,
  TPM2B_SENSITIVE_DATA,
  TPM2B_SYM_KEY,
} from './basic.js';
import { type Codec, bad, hex, sized, struct, within } from './marshal.js';

/** TPMS_SENSITIVE_CREATE (Part 2 §11.1.15): the authValue and data given to Create/CreatePrimary. */
export interface TpmsSensitiveCreate {
  userAuth: Uint8Array;
  data: Uint8Array;
}
export const TPMS_SENSITIVE_CREATE: Codec<TpmsSensitiveCreate> = struct<TpmsSensitiveCreate>(
  'TPMS_SENSITIVE_CREATE',
  [
    ['userAuth', TPM2B_AUTH],
    ['data', TPM2B_SENSITIVE_DATA],
  ],
);
/** TPM2B_SENSITIVE_CREATE: sized, size zero refused (Part 2 §11.1.16). */
export const TPM2B_SENSITIVE_CREATE = sized(
  'TPM2B_SENSITIVE_CREATE',
  TPMS_SENSITIVE_CREATE,
) as Codec<TpmsSensitiveCreate>;

/**
 * TPMT_SENSITIVE (Part 2 §11.3.2.4): the private part of an object as it sits inside a
 * TPM2B_PRIVATE or a duplication blob. `sensitive` is the TPMU_SENSITIVE_COMPOSITE arm chosen by
 * `sensitiveType` (an RSA prime, an ECC scalar, keyed-hash data or a symmetric key).
 */
export interface TpmtSensitive {
  sensitiveType: number;
  authValue: Uint8Array;
  seedValue: Uint8Array;
  sensitive: Uint8Array;
}

const ARMS: ReadonlyMap<number, Codec<Uint8Array>> = new Map([
  [TPM_ALG.RSA, TPM2B_PRIVATE_KEY_RSA],
  [TPM_ALG.ECC, TPM2B_ECC_PARAMETER],
  [TPM_ALG.KEYEDHASH, TPM2B_SENSITIVE_DATA],
  [TPM_ALG.SYMCIPHER, TPM2B_SYM_KEY],
]);

export const TPMT_SENSITIVE: Codec<TpmtSensitive> = {
  name: 'TPMT_SENSITIVE',
  write(w, v) {
    const arm = ARMS.get(v.sensitiveType);
    if (!arm) throw new FormatError('TPM2_BAD_SELECTOR', `bad sensitiveType ${hex(v.sensitiveType)}`);
    w.u16(v.sensitiveType);
    TPM2B_AUTH.write(w, v.authValue);
    TPM2B_DIGEST.write(w, v.seedValue);
    arm.write(w, v.sensitive);
  },
  read(r) {
    return within(r, 'TPMT_SENSITIVE', () => {
      const at = r.pos;
      const sensitiveType = r.u16();
      const arm = ARMS.get(sensitiveType);
      if (!arm) bad('TPM2_BAD_SELECTOR', `${hex(sensitiveType)} is not a valid TPMI_ALG_PUBLIC`, r, at);
      return {
        sensitiveType,
        authValue: TPM2B_AUTH.read(r),
        seedValue: TPM2B_DIGEST.read(r),
        sensitive: arm.read(r),
      };
    });
  },
};
/** TPM2B_SENSITIVE: sized TPMT_SENSITIVE (used by LoadExternal; size zero means "public only"). */
export const TPM2B_SENSITIVE = sized('TPM2B_SENSITIVE', TPMT_SENSITIVE, true);
