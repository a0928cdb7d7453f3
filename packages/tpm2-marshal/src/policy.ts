import { UsageError } from '@lsvm/core';
import { TPM_CC } from './constants.js';
import { digestSize, hash } from './hash.js';
import { marshal } from './marshal.js';
import { TPML_PCR_SELECTION, type TpmsPcrSelection } from './pcr-selection.js';

/**
 * An offline policy calculator (Part 3 §23, the "policyDigest update" of each policy command):
 * the digest a policy session accumulates, computed without a TPM, so a host can seal to a policy
 * and check it against what a TPM computes. Start from the all-zero digest of `hashAlg`.
 */
export class PolicyCalculator {
  readonly hashAlg: number;
  private d: Uint8Array;

  constructor(hashAlg: number, initial?: Uint8Array) {
    this.hashAlg = hashAlg;
    this.d = initial ? initial.slice() : new Uint8Array(digestSize(hashAlg));
    if (this.d.length !== digestSize(hashAlg))
      throw new UsageError('TPM2_POLICY_DIGEST', 'initial digest has the wrong size');
  }

  /** The current policy digest (a copy). */
  get digest(): Uint8Array {
    return this.d.slice();
  }

  private update(cc: number, ...parts: Uint8Array[]): this {
    this.d = hash(this.hashAlg, this.d, u32(cc), ...parts);
    return this;
  }

  /** PolicyRestart: back to the zero digest. */
  reset(): this {
    this.d = new Uint8Array(digestSize(this.hashAlg));
    return this;
  }

  /**
   * PolicyPCR (Part 3 §23.7): `H(old || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || pcrDigest)`
   * where pcrDigest is the session hash of the selected PCR values concatenated in selection
   * order (banks as listed, PCRs ascending).
   * @param values the selected PCR values in that order
   */
  policyPcr(selection: TpmsPcrSelection[], values: Uint8Array[]): this {
    return this.policyPcrDigest(selection, pcrDigest(this.hashAlg, values));
  }

  /** PolicyPCR with an already computed pcrDigest. */
  policyPcrDigest(selection: TpmsPcrSelection[], digest: Uint8Array): this {
    return this.update(TPM_CC.PolicyPCR, marshal(TPML_PCR_SELECTION, selection), digest);
  }

  /** PolicyAuthValue (Part 3 §23.17). */
  policyAuthValue(): this {
    return this.update(TPM_CC.PolicyAuthValue);
  }

  /** PolicyPassword (Part 3 §23.18): the same digest update as PolicyAuthValue, by design. */
  policyPassword(): this {
    return this.update(TPM_CC.PolicyAuthValue);
  }

  /** PolicyCommandCode (Part 3 §23.11). */
  policyCommandCode(code: number): this {
    return this.update(TPM_CC.PolicyCommandCode, u32(code));
  }

  /**
   * PolicyOR (Part 3 §23.6): resets to zero then `H(0… || TPM_CC_PolicyOR || digests…)`. The
   * current digest must be one of the branches for a TPM to accept it; this calculator only
   * computes the result.
   */
  policyOr(branches: Uint8Array[]): this {
    if (branches.length < 2 || branches.length > 8)
      throw new UsageError('TPM2_POLICY_OR', `PolicyOR takes 2 to 8 branches, not ${branches.length}`);
    this.reset();
    return this.update(TPM_CC.PolicyOR, ...branches);
  }

  /**
   * PolicyAuthorize (Part 3 §23.16): resets, then `H(0… || TPM_CC_PolicyAuthorize || keySign)`,
   * then `H(that || policyRef)`.
   * @param keySignName the name of the key that signs approved policies
   */
  policyAuthorize(keySignName: Uint8Array, policyRef: Uint8Array = new Uint8Array(0)): this {
    this.reset();
    this.update(TPM_CC.PolicyAuthorize, keySignName);
    this.d = hash(this.hashAlg, this.d, policyRef);
    return this;
  }
}

/** pcrDigest of PolicyPCR: the hash of the selected values concatenated. */
export function pcrDigest(hashAlg: number, values: Uint8Array[]): Uint8Array {
  return hash(hashAlg, ...values);
}

function u32(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
