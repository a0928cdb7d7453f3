import { randomBytes } from 'node:crypto';
import { totalmem } from 'node:os';
import { UsageError } from '@lsvm/core';
import type { KdfParams } from './luks2-metadata.js';
import { argon2Raw, pbkdf2SyncBytes } from './pbkdf.js';

/**
 * Choosing KDF parameters for new keyslots, like cryptsetup's `--pbkdf`, `--iter-time`,
 * `--pbkdf-force-iterations`, `--pbkdf-memory`, `--pbkdf-parallel`: either explicit costs, or a
 * target time the costs are calibrated to on this machine.
 */
export interface KdfOptions {
  /** Default `argon2id` (LUKS2) or `pbkdf2` (LUKS1, the only KDF it has). */
  type?: 'pbkdf2' | 'argon2i' | 'argon2id';
  /** PBKDF2 hash (default sha256). */
  hash?: string;
  /** Explicit PBKDF2 iterations or Argon2 passes; skips calibration. */
  iterations?: number;
  /** Argon2 memory in KiB (default 1 GiB capped at half the RAM, like cryptsetup). */
  memoryKiB?: number;
  /** Argon2 lanes (default min(4, CPUs)). */
  parallel?: number;
  /** Target unlock time in milliseconds when calibrating (default 2000, cryptsetup's). */
  iterTimeMs?: number;
}

/** cryptsetup's minimums: PBKDF2 1000 iterations, Argon2 4 passes and 32 MiB. */
const MIN_PBKDF2 = 1000;
const MIN_ARGON_TIME = 4;
const MIN_ARGON_MEMORY = 32 * 1024;

/** PBKDF2 iterations per second for `hash` on this machine (about 50 ms of measurement). */
export function pbkdf2Rate(hash: string, keyLength: number): number {
  const pw = randomBytes(16);
  const salt = randomBytes(32);
  let n = 1000;
  for (;;) {
    const t = performance.now();
    pbkdf2SyncBytes(pw, salt, n, hash, keyLength);
    const ms = performance.now() - t;
    if (ms > 40 || n > 1 << 24) return Math.floor((n * 1000) / Math.max(ms, 0.001));
    n *= 4;
  }
}

/** PBKDF2 iterations for about `ms` milliseconds (at least 1000). */
export function calibratePbkdf2(hash: string, keyLength: number, ms: number): number {
  return Math.max(MIN_PBKDF2, Math.floor((pbkdf2Rate(hash, keyLength) * ms) / 1000));
}

/**
 * Resolves options into KDF parameters with a fresh 32-byte salt. Calibrated Argon2 keeps the
 * memory and raises the passes until the estimate reaches the target, or lowers the memory when
 * even 4 passes are too slow — the same strategy as cryptsetup's benchmark.
 */
export async function resolveKdf(
  options: KdfOptions,
  keyLength: number,
  defaultType: KdfOptions['type'],
): Promise<KdfParams> {
  const type = options.type ?? defaultType ?? 'argon2id';
  const salt = new Uint8Array(randomBytes(32));
  const target = options.iterTimeMs ?? 2000;
  if (!(target > 0)) throw new UsageError('LUKS_KDF_OPTIONS', 'iteration time must be positive');
  if (type === 'pbkdf2') {
    const hash = options.hash ?? 'sha256';
    const iterations = options.iterations ?? calibratePbkdf2(hash, keyLength, target);
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 0xffffffff)
      throw new UsageError('LUKS_KDF_OPTIONS', `invalid PBKDF2 iteration count ${iterations}`);
    return { type, hash, iterations, salt };
  }
  const parallel = options.parallel ?? Math.min(4, (await import('node:os')).availableParallelism());
  let memory = options.memoryKiB ?? Math.min(1024 * 1024, Math.floor(totalmem() / 2048));
  if (!Number.isSafeInteger(parallel) || parallel < 1 || parallel > 16)
    throw new UsageError('LUKS_KDF_OPTIONS', `Argon2 parallelism must be 1…16`);
  if (!Number.isSafeInteger(memory) || memory < 8 * parallel || memory > 4 * 1024 * 1024)
    throw new UsageError('LUKS_KDF_OPTIONS', `Argon2 memory must be ${8 * parallel} KiB … 4 GiB`);
  let time = options.iterations;
  if (time === undefined) {
    // One measured run at a small size; Argon2's cost is close to linear in memory × passes.
    const probeMem = Math.min(memory, 64 * 1024);
    const t = performance.now();
    await argon2Raw(type, randomBytes(16), salt, MIN_ARGON_TIME, probeMem, parallel, keyLength);
    const msPerKiBPass = (performance.now() - t) / (probeMem * MIN_ARGON_TIME);
    time = Math.floor(target / (msPerKiBPass * memory));
    if (time < MIN_ARGON_TIME) {
      time = MIN_ARGON_TIME;
      if (options.memoryKiB === undefined)
        memory = Math.max(MIN_ARGON_MEMORY, Math.floor(target / (msPerKiBPass * MIN_ARGON_TIME)));
    }
  }
  if (!Number.isSafeInteger(time) || time < 1 || time > 0xffffffff)
    throw new UsageError('LUKS_KDF_OPTIONS', `invalid Argon2 pass count ${time}`);
  return { type, time, memory, cpus: parallel, salt };
}
