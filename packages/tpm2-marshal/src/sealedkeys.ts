import { FormatError } from '@lsvm/core';
import { TPM2B_DIGEST, TPM2B_PRIVATE } from './basic.js';
import { TPM_ALG } from './constants.js';
import { tpmReader, tpmWriter, within, bad } from './marshal.js';
import { TPMS_PCR_SELECT } from './pcr-selection.js';
import { PolicyCalculator } from './policy.js';
import { TPM2B_PUBLIC, type TpmtPublic } from './public.js';

/**
 * lsvmload's `sealedkeys` file: TPM2B_PRIVATE, TPM2B_PUBLIC, TPM2B_DIGEST (the creation hash)
 * and TPMS_PCR_SELECT, concatenated with no header. The PCR select is for the SHA-256 bank
 * (`03 80 08 00` = PCRs 7 and 11). The object is KEYEDHASH, nameAlg SHA-256, objectAttributes 0,
 * authPolicy = PolicyPassword then PolicyPCR(sha256: the selected PCRs).
 */
export interface SealedKeys {
  private: Uint8Array;
  public: TpmtPublic;
  creationHash: Uint8Array;
  /** Selected SHA-256 PCRs, ascending. */
  pcrs: number[];
}

/** Parses a sealedkeys file (strict: no trailing bytes, every TPM2B within its bound). */
export function parseSealedKeys(bytes: Uint8Array): SealedKeys {
  const r = tpmReader(bytes, 'sealedkeys');
  return within(r, 'sealedkeys', () => {
    const priv = TPM2B_PRIVATE.read(r);
    const pub = TPM2B_PUBLIC.read(r);
    const creationHash = TPM2B_DIGEST.read(r);
    const pcrs = TPMS_PCR_SELECT.read(r);
    if (r.remaining !== 0)
      bad('TPM2_TRAILING_BYTES', `${r.remaining} bytes follow the PCR selection`, r, r.pos);
    return { private: priv, public: pub, creationHash, pcrs };
  });
}

/** Serialises a sealedkeys file. */
export function serializeSealedKeys(k: SealedKeys): Uint8Array {
  const w = tpmWriter(512);
  TPM2B_PRIVATE.write(w, k.private);
  TPM2B_PUBLIC.write(w, k.public);
  TPM2B_DIGEST.write(w, k.creationHash);
  TPMS_PCR_SELECT.write(w, k.pcrs);
  return w.finish().slice();
}

/** The authPolicy lsvmload expects: PolicyPassword then PolicyPCR over SHA-256 `pcrs` with `values`. */
export function lsvmloadPolicy(pcrs: number[], values: Uint8Array[]): Uint8Array {
  return new PolicyCalculator(TPM_ALG.SHA256)
    .policyPassword()
    .policyPcr([{ hash: TPM_ALG.SHA256, pcrs }], values).digest;
}

/**
 * Checks the sealed object has the shape lsvmload requires (KEYEDHASH, SHA-256, attributes 0)
 * and, when PCR values are given, that its policy is the lsvmload policy for them.
 */
export function checkLsvmloadSealedKeys(k: SealedKeys, values?: Uint8Array[]): void {
  const p = k.public;
  if (p.type !== TPM_ALG.KEYEDHASH || p.nameAlg !== TPM_ALG.SHA256 || p.objectAttributes !== 0)
    throw new FormatError(
      'TPM2_SEALEDKEYS_SHAPE',
      'sealed object must be KEYEDHASH, nameAlg SHA-256, objectAttributes 0',
      {
        structure: 'sealedkeys',
      },
    );
  if (values && Buffer.compare(lsvmloadPolicy(k.pcrs, values), p.authPolicy) !== 0)
    throw new FormatError(
      'TPM2_SEALEDKEYS_POLICY',
      'authPolicy is not PolicyPassword + PolicyPCR for these PCR values',
      {
        structure: 'sealedkeys',
      },
    );
}
