import { pbkdf2 as pbkdf2Cb, pbkdf2Sync } from 'node:crypto';
import { LimitError, UnsupportedError, UsageError } from '@lsvm/core';
import argon2 from 'argon2';
import { hashLength } from './af.js';
import type { LuksLimits } from './limits.js';
import type { KdfParams } from './luks2-metadata.js';

/**
 * Password-based key derivation for keyslots and digests: PBKDF2 (RFC 8018 §5.2) through
 * node:crypto, Argon2i/Argon2id (RFC 9106) through the native `argon2` binding.
 *
 * Why the native binding: on this project's reference machine an Argon2id derivation of 256 MiB,
 * 4 passes, 2 lanes takes about 0.6 s native against 1.9 s with hash-wasm's WebAssembly build
 * (see benchmarks/luks and the README), and cryptsetup itself runs the reference C code.
 */

/**
 * Checks a KDF's cost against the limits before any work starts.
 * @throws LimitError `LUKS_KDF_COST`
 */
export function checkKdfCost(kdf: KdfParams, limits: LuksLimits, what: string): void {
  const over = (field: string, value: number, max: number): never => {
    throw new LimitError(
      'LUKS_KDF_COST',
      `${what}: ${kdf.type} ${field} ${value} exceeds the limit of ${max}`,
    );
  };
  if (kdf.type === 'pbkdf2') {
    if (kdf.iterations > limits.maxPbkdf2Iterations)
      over('iterations', kdf.iterations, limits.maxPbkdf2Iterations);
  } else {
    if (kdf.memory > limits.maxArgon2MemoryKiB) over('memory', kdf.memory, limits.maxArgon2MemoryKiB);
    if (kdf.time > limits.maxArgon2Time) over('time', kdf.time, limits.maxArgon2Time);
    if (kdf.cpus > limits.maxArgon2Lanes) over('cpus', kdf.cpus, limits.maxArgon2Lanes);
  }
}

/** PBKDF2 with an OpenSSL hash name (`sha1`, `sha256`, `sha512`, `ripemd160`…). */
export function pbkdf2(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  hash: string,
  length: number,
): Promise<Uint8Array> {
  hashLength(hash);
  return new Promise((resolve, reject) => {
    pbkdf2Cb(password, salt, iterations, length, hash, (err, key) => {
      if (err) reject(new UnsupportedError('LUKS_KDF_FAILED', `PBKDF2-${hash} failed: ${err.message}`));
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.length));
    });
  });
}

/** Synchronous PBKDF2, for calibration loops. */
export function pbkdf2SyncBytes(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  hash: string,
  length: number,
): Uint8Array {
  hashLength(hash);
  const k = pbkdf2Sync(password, salt, iterations, length, hash);
  return new Uint8Array(k.buffer, k.byteOffset, k.length);
}

/** Argon2i / Argon2id raw output (version 0x13, no secret, no associated data). */
export async function argon2Raw(
  type: 'argon2i' | 'argon2id',
  password: Uint8Array,
  salt: Uint8Array,
  time: number,
  memoryKiB: number,
  lanes: number,
  length: number,
): Promise<Uint8Array> {
  // RFC 9106 §3.1: salt ≥ 8 bytes, memory ≥ 8 × lanes KiB, 1 ≤ lanes, 1 ≤ passes.
  if (salt.length < 8) throw new UnsupportedError('LUKS_KDF_PARAMS', 'Argon2 salt shorter than 8 bytes');
  if (memoryKiB < 8 * lanes)
    throw new UnsupportedError('LUKS_KDF_PARAMS', 'Argon2 memory below 8 KiB per lane');
  if (length < 4) throw new UsageError('LUKS_KDF_PARAMS', 'Argon2 output shorter than 4 bytes');
  const pw = Buffer.from(password.buffer, password.byteOffset, password.length);
  try {
    const out = await argon2.hash(pw, {
      raw: true,
      type: type === 'argon2i' ? argon2.argon2i : argon2.argon2id,
      salt: Buffer.from(salt),
      timeCost: time,
      memoryCost: memoryKiB,
      parallelism: lanes,
      hashLength: length,
      version: 0x13,
    });
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (e) {
    throw new UnsupportedError('LUKS_KDF_FAILED', `${type} failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Derives `length` bytes from `password` with a keyslot's KDF. The draft type `argon2` (written by
 * pre-release cryptsetup) is refused: its variant is ambiguous.
 */
export async function deriveKey(
  kdf: KdfParams,
  password: Uint8Array,
  length: number,
  limits: LuksLimits,
  what: string,
): Promise<Uint8Array> {
  checkKdfCost(kdf, limits, what);
  if (kdf.type === 'pbkdf2') return pbkdf2(password, kdf.salt, kdf.iterations, kdf.hash, length);
  if (kdf.type === 'argon2')
    throw new UnsupportedError('LUKS_UNSUPPORTED_KDF', `${what}: draft kdf type "argon2" cannot be unlocked`);
  return argon2Raw(kdf.type, password, kdf.salt, kdf.time, kdf.memory, kdf.cpus, length);
}
