import { resolveLimits } from '@lsvm/core';

/**
 * Resource bounds of the LUKS readers and unlockers. A hostile header can ask for 4 GiB of Argon2
 * memory repeated 2^32 times, or for a PBKDF2 count that runs for days; these caps are checked
 * before any work starts (issue "Unlock": costs capped before any work).
 */
export interface LuksLimits {
  /** Largest Argon2 memory cost, in KiB (default 4 GiB, cryptsetup's own ceiling). */
  maxArgon2MemoryKiB: number;
  /** Largest Argon2 time cost (default 1000). */
  maxArgon2Time: number;
  /** Largest Argon2 lane count (default 16; cryptsetup caps at 16 too). */
  maxArgon2Lanes: number;
  /** Largest PBKDF2 iteration count for keyslots and digests (default 2^26 ≈ 67 M). */
  maxPbkdf2Iterations: number;
  /** Largest LUKS2 header size accepted (binary + JSON), default 4 MiB (the spec's maximum). */
  maxHeaderSize: number;
  /** Largest keyslot area read into memory, default 128 MiB (cryptsetup's keyslots area limit). */
  maxKeyslotAreaBytes: number;
  /** Largest AF stripe count (default 4000, the only value cryptsetup accepts). */
  maxStripes: number;
}

/** Defaults: every header cryptsetup writes fits with room to spare. */
export const DEFAULT_LUKS_LIMITS: Readonly<LuksLimits> = Object.freeze({
  maxArgon2MemoryKiB: 4 * 1024 * 1024,
  maxArgon2Time: 1000,
  maxArgon2Lanes: 16,
  maxPbkdf2Iterations: 1 << 26,
  maxHeaderSize: 4 * 1024 * 1024,
  maxKeyslotAreaBytes: 128 * 1024 * 1024,
  maxStripes: 4000,
});

/** Defaults merged with caller overrides. */
export function luksLimits(overrides?: Partial<LuksLimits>): LuksLimits {
  return resolveLimits(DEFAULT_LUKS_LIMITS, overrides);
}

/** Structural maxima of LUKS2 (cryptsetup's LUKS2_KEYSLOTS_MAX, LUKS2_TOKENS_MAX, …). */
export const LUKS2_MAX_KEYSLOTS = 32;
export const LUKS2_MAX_TOKENS = 32;
export const LUKS2_MAX_SEGMENTS = 32;
export const LUKS2_MAX_DIGESTS = 8;
/** Largest keyslots area, 128 MiB (cryptsetup's LUKS2_MAX_KEYSLOTS_SIZE). */
export const LUKS2_MAX_KEYSLOTS_SIZE = 128 * 1024 * 1024;
/** The only anti-forensic stripe count cryptsetup accepts. */
export const LUKS_STRIPES = 4000;
