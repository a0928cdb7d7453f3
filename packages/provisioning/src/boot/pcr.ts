import { constantTimeEqual } from '@lsvm/core';
import {
  hash,
  LSVMLOAD_PCR,
  LSVMLOAD_SCENARIO_EVENTS,
  type PcrEvent,
  type SealedKeys,
  TPM_ALG,
  type Tpm,
} from '@lsvm/tpm2-marshal';

/**
 * PCR extends done on a live TPM, as the firmware and lsvmload do them. Each event is extended
 * into every allocated bank among SHA-1 and SHA-256, with that bank's hash of the event data
 * (what TPM2_PCR_Event would do; Part 3 §22.3).
 */

const BANKS = [TPM_ALG.SHA1, TPM_ALG.SHA256];

/** The allocated banks lsvmload extends (SHA-1 and SHA-256 when present). */
export async function lsvmloadBanks(tpm: Tpm): Promise<number[]> {
  const allocated = (await tpm.getPcrBanks()).filter((b) => b.pcrs.length > 0).map((b) => b.hash);
  return BANKS.filter((b) => allocated.includes(b));
}

/** Extends one event into the given banks. */
export async function extendEvent(tpm: Tpm, event: PcrEvent, banks: number[]): Promise<void> {
  await tpm.pcrExtend(
    event.pcr,
    banks.map((hashAlg) => ({
      hashAlg,
      digest: 'data' in event ? hash(hashAlg, event.data) : event.digest,
    })),
  );
}

/** Firmware simulation: extends the PCR 7 events (see `pcr7Events`) into the TPM. */
export async function measureFirmware(tpm: Tpm, events: PcrEvent[]): Promise<void> {
  const banks = await lsvmloadBanks(tpm);
  for (const e of events) {
    // A digest event fits one bank only; extend it into SHA-256, the bank lsvmload's policy reads.
    await extendEvent(tpm, e, 'data' in e ? banks : [TPM_ALG.SHA256]);
  }
}

/** lsvmload's three "Linux scenario" measurements into PCR 11. */
export async function measureScenario(tpm: Tpm): Promise<void> {
  const banks = await lsvmloadBanks(tpm);
  for (const data of LSVMLOAD_SCENARIO_EVENTS) await extendEvent(tpm, { pcr: LSVMLOAD_PCR, data }, banks);
}

/**
 * lsvmload's cap after the unseal: PCR 11 extended with the hash of 20 zero bytes (SHA-256 of
 * them into the SHA-256 bank, SHA-1 into the SHA-1 bank), so the policy can no longer be met in
 * this boot.
 */
export async function capPcr11(tpm: Tpm): Promise<{ banks: string[] }> {
  const banks = await lsvmloadBanks(tpm);
  await extendEvent(tpm, { pcr: LSVMLOAD_PCR, data: new Uint8Array(20) }, banks);
  return { banks: banks.map((b) => (b === TPM_ALG.SHA1 ? 'sha1' : 'sha256')) };
}

/**
 * Whether the sealed keys' policy can still be met, computed by the TPM itself without an unseal:
 * a policy session runs PolicyPassword and PolicyPCR over the current PCR values, and its digest
 * (TPM2_PolicyGetDigest) is compared with the object's authPolicy. Unlike a real unseal attempt,
 * this never counts as an authorization failure against the TPM's dictionary-attack protection
 * (the sealed object is DA-protected: lsvmload makes it with objectAttributes 0).
 */
export async function policySatisfiable(tpm: Tpm, keys: SealedKeys): Promise<boolean> {
  const session = await tpm.startAuthSession({ type: 'policy' });
  try {
    await tpm.policyPassword(session);
    await tpm.policyPCR(session, [{ hash: TPM_ALG.SHA256, pcrs: keys.pcrs }]);
    const digest = await tpm.policyGetDigest(session);
    return (
      digest.length === keys.public.authPolicy.length && constantTimeEqual(digest, keys.public.authPolicy)
    );
  } finally {
    if (session.active) await tpm.flushContext(session).catch(() => undefined);
  }
}
