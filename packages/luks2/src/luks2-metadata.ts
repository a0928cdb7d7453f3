import type { JsonObject } from './luks2-json.js';

/**
 * Typed view of the LUKS2 JSON metadata (LUKS2 On-Disk Format Specification §3), produced by
 * {@link validateLuks2Metadata}. The JSON tree itself stays the source of truth for writing, so
 * fields we do not model (vendor extensions, token payloads) survive every update untouched.
 */

/** PBKDF2 parameters of a keyslot or digest. */
export interface Pbkdf2Params {
  type: 'pbkdf2';
  /** `sha1`, `sha256`, `sha512`… */
  hash: string;
  iterations: number;
  salt: Uint8Array;
}

/** Argon2 parameters of a keyslot (`argon2` is the draft name some early headers carry). */
export interface Argon2Params {
  type: 'argon2i' | 'argon2id' | 'argon2';
  /** Passes. */
  time: number;
  /** KiB. */
  memory: number;
  /** Lanes (cryptsetup calls them cpus). */
  cpus: number;
  salt: Uint8Array;
}

/** Key derivation of a keyslot. */
export type KdfParams = Pbkdf2Params | Argon2Params;

/** Keyslot priority: 0 ignore (only tried when named), 1 normal, 2 high (tried first). */
export type KeyslotPriority = 0 | 1 | 2;

/** A `luks2` keyslot (spec §3.2). Other keyslot types (`reencrypt`) are listed with `type` only. */
export interface Luks2Keyslot {
  id: number;
  type: string;
  /** Volume key size in bytes. */
  keySize: number;
  priority: KeyslotPriority;
  af: { type: 'luks1'; stripes: number; hash: string };
  area: { type: 'raw'; offset: number; size: number; encryption: string; keySize: number };
  kdf: KdfParams;
}

/** A data segment (spec §3.3). */
export interface Luks2Segment {
  id: number;
  type: string;
  /** Byte offset on the device. */
  offset: number;
  /** Bytes, or `dynamic` (up to the device end). */
  size: number | 'dynamic';
  /** IV offset added to the sector number, in 512-byte units. */
  ivTweak: bigint;
  encryption: string;
  sectorSize: number;
  flags: string[];
  /** True when the segment carries an `integrity` object (dm-integrity, not supported for data). */
  integrity: boolean;
}

/** A volume-key digest (spec §3.4); only `pbkdf2` exists. */
export interface Luks2Digest {
  id: number;
  type: 'pbkdf2';
  keyslots: number[];
  segments: number[];
  hash: string;
  iterations: number;
  salt: Uint8Array;
  digest: Uint8Array;
}

/** A token (spec §3.5): a type, the keyslots it opens, and any other JSON its handler needs. */
export interface Luks2Token {
  id: number;
  type: string;
  keyslots: number[];
  /** The whole token object as stored. */
  json: JsonObject;
}

/** The `config` object (spec §3.6). */
export interface Luks2Config {
  jsonSize: number;
  keyslotsSize: number;
  flags: string[];
  /** `requirements.mandatory`: features a reader must implement to unlock or write. */
  requirements: string[];
}

/** The whole validated metadata. */
export interface Luks2Metadata {
  keyslots: Luks2Keyslot[];
  segments: Luks2Segment[];
  digests: Luks2Digest[];
  tokens: Luks2Token[];
  config: Luks2Config;
}

/** Requirement flags this library implements (none yet: reencryption is out of scope). */
export const KNOWN_REQUIREMENTS: readonly string[] = Object.freeze([]);
