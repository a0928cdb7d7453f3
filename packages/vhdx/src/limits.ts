import { DEFAULT_LIMITS, type Limits, resolveLimits } from '@lsvm/core';

/** Resource bounds of the VHDX reader. Defaults fit every legitimate file with room to spare. */
export interface VhdxLimits extends Limits {
  /** Largest BAT held in memory, in entries (2^25 entries = 256 MiB, a 32 TiB disk of 1 MiB blocks). */
  maxBatEntries: number;
  /** Largest log read for replay, in bytes (Hyper-V and qemu write 1 MiB logs). */
  maxLogBytes: number;
  /** Largest metadata region read, in bytes. */
  maxMetadataBytes: number;
  /** Deepest chain of differencing disks followed. */
  maxChainDepth: number;
}

/** Default {@link VhdxLimits}. */
export const DEFAULT_VHDX_LIMITS: Readonly<VhdxLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  maxBatEntries: 2 ** 25,
  maxLogBytes: 64 * 1024 * 1024,
  maxMetadataBytes: 16 * 1024 * 1024,
  maxChainDepth: 64,
});

/** Merges caller overrides onto {@link DEFAULT_VHDX_LIMITS}. */
export function resolveVhdxLimits(overrides?: Partial<VhdxLimits>): VhdxLimits {
  return resolveLimits(DEFAULT_VHDX_LIMITS, overrides);
}
