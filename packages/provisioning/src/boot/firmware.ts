import { fromHex } from '@lsvm/core';
import type { PcrEvent } from '@lsvm/tpm2-marshal';
import { type SecureBootVars, predictPcr11, predictPcr7 } from '../secure-boot.js';

/**
 * The firmware side of a boot, for a TPM that starts fresh (swtpm in tests and the demo): the
 * PCR 7 events UEFI firmware extends before it starts the loader. They come from the same
 * prediction provisioning seals against (`predictPcr7`), so a simulated boot and the prediction
 * cannot drift apart. Only the SHA-256 bank is simulated: it is the bank lsvmload's policy reads.
 */

/** The SHA-256 PCR 7 events firmware extends for `vars` when it starts `loader`. */
export function firmwareEvents(vars: SecureBootVars, loader: Uint8Array | undefined): PcrEvent[] {
  return predictPcr7(vars, loader).events.map((e) => ({ pcr: 7, digest: fromHex(e.digest) }));
}

/** The SHA-256 values of PCRs 7 and 11 at lsvmload's unseal (the values the keys are sealed to). */
export function predictUnsealPcrs(
  vars: SecureBootVars,
  loader: Uint8Array | undefined,
): { pcr7: Uint8Array; pcr11: Uint8Array } {
  return { pcr7: predictPcr7(vars, loader).value, pcr11: predictPcr11() };
}
