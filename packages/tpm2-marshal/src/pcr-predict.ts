import { UsageError, encodeUtf16le, guidToBytes } from '@lsvm/core';
import { algName } from './constants.js';
import { digestSize, hash } from './hash.js';

/**
 * PCR prediction: replay extends from a known start (all zeros after reset for PCRs 0..15) to the
 * value a TPM will hold. `extend(pcr, digest)` is `PCR := H(PCR || digest)` (Part 1 §17.2).
 */
export class PcrBank {
  readonly hashAlg: number;
  private readonly values = new Map<number, Uint8Array>();

  constructor(hashAlg: number, initial: ReadonlyMap<number, Uint8Array> | Record<number, Uint8Array> = {}) {
    this.hashAlg = hashAlg;
    const entries =
      initial instanceof Map
        ? [...initial]
        : Object.entries(initial).map(([k, v]) => [Number(k), v] as const);
    for (const [k, v] of entries) this.set(k, v);
  }

  /** Current value of a PCR (zeros when never set). */
  get(pcr: number): Uint8Array {
    return (this.values.get(pcr) ?? new Uint8Array(digestSize(this.hashAlg))).slice();
  }

  /** Sets a PCR's starting value. */
  set(pcr: number, value: Uint8Array): this {
    if (value.length !== digestSize(this.hashAlg))
      throw new UsageError(
        'TPM2_PCR_VALUE',
        `a ${algName(this.hashAlg)} PCR value has ${digestSize(this.hashAlg)} bytes`,
      );
    this.values.set(pcr, value.slice());
    return this;
  }

  /** Extends a digest (already of this bank's size) into a PCR. */
  extend(pcr: number, digest: Uint8Array): this {
    if (digest.length !== digestSize(this.hashAlg))
      throw new UsageError('TPM2_PCR_VALUE', `extend digest must have ${digestSize(this.hashAlg)} bytes`);
    this.values.set(pcr, hash(this.hashAlg, this.get(pcr), digest));
    return this;
  }

  /** Measures data: extends H(data). */
  measure(pcr: number, data: Uint8Array): this {
    return this.extend(pcr, hash(this.hashAlg, data));
  }
}

/**
 * UEFI_VARIABLE_DATA (TCG PC Client Platform Firmware Profile §10.4.1 / UEFI spec): the event
 * data firmware hashes into PCR 7 for SecureBoot, PK, KEK, db and dbx (EV_EFI_VARIABLE_DRIVER_CONFIG).
 * Layout: VariableName GUID (16, mixed-endian), UnicodeNameLength (u64 LE, in characters),
 * VariableDataLength (u64 LE), UnicodeName (UTF-16LE, no terminator), VariableData.
 */
export function uefiVariableData(vendorGuid: string, name: string, data: Uint8Array): Uint8Array {
  const n = encodeUtf16le(name);
  const out = new Uint8Array(32 + n.length + data.length);
  out.set(guidToBytes(vendorGuid), 0);
  const v = new DataView(out.buffer);
  v.setBigUint64(16, BigInt(n.length / 2), true);
  v.setBigUint64(24, BigInt(data.length), true);
  out.set(n, 32);
  out.set(data, 32 + n.length);
  return out;
}

/** EFI_GLOBAL_VARIABLE, the vendor GUID of SecureBoot, PK and KEK. */
export const EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
/** EFI_IMAGE_SECURITY_DATABASE_GUID, the vendor GUID of db and dbx. */
export const EFI_IMAGE_SECURITY_DATABASE = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f';

/** The PCR lsvmload measures its boot scenario into. */
export const LSVMLOAD_PCR = 11;
/**
 * The three "Linux scenario" events lsvmload measures into PCR 11, in order: each 4-byte value is
 * hashed and the hash extended.
 */
export const LSVMLOAD_SCENARIO_EVENTS: readonly Uint8Array[] = Object.freeze([
  new Uint8Array([0x10, 0x00, 0x00, 0x00]),
  new Uint8Array([0x02, 0x00, 0xf0, 0x00]),
  new Uint8Array([0x01, 0x00, 0x00, 0x00]),
]);

/** Replays lsvmload's three scenario events into PCR 11 of `bank`. */
export function extendLsvmloadScenario(bank: PcrBank): PcrBank {
  for (const e of LSVMLOAD_SCENARIO_EVENTS) bank.measure(LSVMLOAD_PCR, e);
  return bank;
}

/**
 * lsvmload's cap: after unsealing it extends PCR 11 with the hash of 20 zero bytes, so the
 * sealed keys cannot be unsealed again in the same boot.
 */
export function capLsvmload(bank: PcrBank): PcrBank {
  return bank.measure(LSVMLOAD_PCR, new Uint8Array(20));
}

/** One event to replay: either a digest to extend or data to hash and extend. */
export type PcrEvent = { pcr: number; digest: Uint8Array } | { pcr: number; data: Uint8Array };

/** Replays events into a fresh bank (or the one given). */
export function predictPcrs(hashAlg: number, events: readonly PcrEvent[], start?: PcrBank): PcrBank {
  const bank = start ?? new PcrBank(hashAlg);
  for (const e of events) {
    if ('digest' in e) bank.extend(e.pcr, e.digest);
    else bank.measure(e.pcr, e.data);
  }
  return bank;
}
