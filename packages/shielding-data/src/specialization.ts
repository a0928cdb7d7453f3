import { createCipheriv, createDecipheriv } from 'node:crypto';
import {
  AuthError,
  ByteReader,
  ByteWriter,
  FormatError,
  LimitError,
  UnsupportedError,
  UsageError,
  VerificationError,
  zeroize,
} from '@lsvm/core';
import { KDF_LABELS, hkdfSha256, hmacSha256 } from './kdf.js';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';
import { macEqual } from './mac-equal.js';
import { type RandomSource, systemRandom } from './random.js';
import { type SpecializationFile, decodeClearData, encodeClearData } from './specialization-clear-data.js';
import { cipherAll } from './cipher-all.js';

/**
 * specialization.aes, the file lsvmload reads from \EFI\boot\ on first boot, byte-exact with
 * lsvmtools' SECURE_SPECIALIZATION_HEADER_V1 (lsvmload/specialize.h): nine little-endian u32
 *
 *     Length Version Mode IVLength IVOffset HMACLength HMACOffset CipherLength CipherOffset
 *
 * followed (at the offsets given, from the file start) by the IV, the HMAC and the ciphertext:
 * AES-CBC with PKCS#7 padding of SPECIALIZATION_CLEAR_DATA under the boot partition's LUKS volume
 * key (16, 24 or 32 bytes → AES-128/192/256). Mode 1 is AES-CBC; mode 2 adds an HMAC-SHA256 that
 * lsvmload never checks. Our definition of it (docs/formats/shielding-data.md): key =
 * HKDF-SHA256(volume key, info "lsvm specialization.aes hmac v1"), input = the 36 header bytes ‖
 * IV ‖ ciphertext. We write mode 2 and verify the HMAC whenever we read mode 2.
 */

/** The header. */
export interface SpecializationHeader {
  /** Length field (we write 36, the header size; lsvmload ignores it). */
  length: number;
  version: number;
  /** 1 = AES-CBC, 2 = AES-CBC + HMAC-SHA256. */
  mode: 1 | 2;
  ivLength: number;
  ivOffset: number;
  hmacLength: number;
  hmacOffset: number;
  cipherLength: number;
  cipherOffset: number;
}

/** Size of SECURE_SPECIALIZATION_HEADER_V1. */
export const SPECIALIZATION_HEADER_SIZE = 36;
const S = 'SECURE_SPECIALIZATION_HEADER_V1';

/** Parses and bounds-checks the header (the checks of lsvmload's _IsValidHeader, plus sizes). */
export function parseSpecializationHeader(
  bytes: Uint8Array,
  limits: Partial<ShieldingLimits> = {},
): SpecializationHeader {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  if (bytes.length > l.maxSpecializationBytes)
    throw new LimitError('SPEC_TOO_LARGE', `specialization file of ${bytes.length} bytes exceeds the limit`, {
      structure: S,
    });
  const r = new ByteReader(bytes, { structure: S });
  const h = {
    length: r.u32(),
    version: r.u32(),
    mode: r.u32(),
    ivLength: r.u32(),
    ivOffset: r.u32(),
    hmacLength: r.u32(),
    hmacOffset: r.u32(),
    cipherLength: r.u32(),
    cipherOffset: r.u32(),
  };
  if (h.version !== 1)
    throw new UnsupportedError('SPEC_VERSION', `header version ${h.version} is not 1`, {
      structure: S,
      offset: 4,
    });
  if (h.mode !== 1 && h.mode !== 2)
    throw new UnsupportedError(
      'SPEC_MODE',
      `mode ${h.mode} is not 1 (AES-CBC) or 2 (AES-CBC + HMAC-SHA256)`,
      { structure: S, offset: 8 },
    );
  const inBounds = (off: number, len: number) =>
    off >= SPECIALIZATION_HEADER_SIZE && off + len <= bytes.length;
  if (h.length < SPECIALIZATION_HEADER_SIZE || h.length > bytes.length)
    throw new FormatError(
      'SPEC_LENGTH',
      `Length ${h.length} is not between the header size and the file size`,
      { structure: S, offset: 0 },
    );
  if (h.ivLength !== 16 || !inBounds(h.ivOffset, h.ivLength))
    throw new FormatError('SPEC_IV', 'IV must be 16 bytes inside the file', { structure: S, offset: 12 });
  if (h.cipherLength === 0 || h.cipherLength % 16 !== 0 || !inBounds(h.cipherOffset, h.cipherLength))
    throw new FormatError(
      'SPEC_CIPHER',
      'ciphertext must be a non-empty multiple of 16 bytes inside the file',
      { structure: S, offset: 28 },
    );
  if (h.mode === 2 && (h.hmacLength !== 32 || !inBounds(h.hmacOffset, h.hmacLength)))
    throw new FormatError('SPEC_HMAC_FIELD', 'mode 2 needs a 32-byte HMAC inside the file', {
      structure: S,
      offset: 20,
    });
  return h as SpecializationHeader;
}

function cbcName(key: Uint8Array): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32)
    throw new UnsupportedError(
      'SPEC_KEY_SIZE',
      `volume key of ${key.length * 8} bits: lsvmload needs 128, 192 or 256`,
      { structure: S },
    );
  return `aes-${key.length * 8}-cbc`;
}

function hmacOver(key: Uint8Array, bytes: Uint8Array, h: SpecializationHeader): Uint8Array {
  const k = hkdfSha256(key, KDF_LABELS.specializationHmac);
  try {
    return hmacSha256(
      k,
      bytes.subarray(0, SPECIALIZATION_HEADER_SIZE),
      bytes.subarray(h.ivOffset, h.ivOffset + h.ivLength),
      bytes.subarray(h.cipherOffset, h.cipherOffset + h.cipherLength),
    );
  } finally {
    zeroize(k);
  }
}

/**
 * Encrypts clear data into a specialization.aes file. Mode 2 (default) lays out header ‖ IV ‖ HMAC
 * ‖ ciphertext; mode 1 header ‖ IV ‖ ciphertext.
 */
export function encryptSpecialization(
  clear: Uint8Array,
  volumeKey: Uint8Array,
  options: { mode?: 1 | 2; random?: RandomSource } = {},
): Uint8Array {
  const mode = options.mode ?? 2;
  if (mode !== 1 && mode !== 2) throw new UsageError('SPEC_MODE', 'mode must be 1 or 2');
  const cipher = cbcName(volumeKey);
  const iv = (options.random ?? systemRandom)(16);
  const c = createCipheriv(cipher, volumeKey, iv);
  const ct = cipherAll(c, clear);
  const ivOffset = SPECIALIZATION_HEADER_SIZE;
  const hmacOffset = mode === 2 ? ivOffset + 16 : 0;
  const cipherOffset = ivOffset + 16 + (mode === 2 ? 32 : 0);
  const w = new ByteWriter(cipherOffset + ct.length);
  w.u32(SPECIALIZATION_HEADER_SIZE)
    .u32(1)
    .u32(mode)
    .u32(16)
    .u32(ivOffset)
    .u32(mode === 2 ? 32 : 0)
    .u32(hmacOffset)
    .u32(ct.length)
    .u32(cipherOffset);
  w.bytes(iv);
  if (mode === 2) w.zeros(32);
  w.bytes(ct);
  const out = w.finish().slice();
  if (mode === 2) out.set(hmacOver(volumeKey, out, parseSpecializationHeader(out)), hmacOffset);
  return out;
}

/**
 * Decrypts a specialization.aes file to its clear data. Mode 2's HMAC is verified (constant time)
 * before decrypting: {@link VerificationError} `SPEC_HMAC` on mismatch (wrong key or modified
 * file). Mode 1 has no integrity: a wrong key shows as {@link AuthError} `SPEC_DECRYPT` (bad
 * padding) or as malformed clear data.
 */
export function decryptSpecialization(
  bytes: Uint8Array,
  volumeKey: Uint8Array,
  limits: Partial<ShieldingLimits> = {},
): { header: SpecializationHeader; clear: Uint8Array; authenticated: boolean } {
  const h = parseSpecializationHeader(bytes, limits);
  const cipher = cbcName(volumeKey);
  if (h.mode === 2) {
    const mac = hmacOver(volumeKey, bytes, h);
    if (!macEqual(mac, bytes.subarray(h.hmacOffset, h.hmacOffset + 32)))
      throw new VerificationError('SPEC_HMAC', 'HMAC does not verify (wrong volume key or modified file)', {
        structure: S,
        offset: h.hmacOffset,
      });
  }
  try {
    const d = createDecipheriv(cipher, volumeKey, bytes.subarray(h.ivOffset, h.ivOffset + 16));
    const clear = cipherAll(d, bytes.subarray(h.cipherOffset, h.cipherOffset + h.cipherLength));
    return { header: h, clear, authenticated: h.mode === 2 };
  } catch (e) {
    throw new AuthError('SPEC_DECRYPT', 'ciphertext does not decrypt (bad padding: wrong volume key?)', {
      structure: S,
      cause: e,
    });
  }
}

/** Packs files into a specialization.aes file (mode 2 by default). */
export function packSpecialization(
  files: SpecializationFile[],
  volumeKey: Uint8Array,
  options: { mode?: 1 | 2; random?: RandomSource } = {},
): Uint8Array {
  const clear = encodeClearData(files);
  try {
    return encryptSpecialization(clear, volumeKey, options);
  } finally {
    zeroize(clear);
  }
}

/** Unpacks a specialization.aes file: verifies (mode 2), decrypts and parses the files. */
export function unpackSpecialization(
  bytes: Uint8Array,
  volumeKey: Uint8Array,
  limits: Partial<ShieldingLimits> = {},
): { mode: 1 | 2; authenticated: boolean; files: SpecializationFile[] } {
  const { header, clear, authenticated } = decryptSpecialization(bytes, volumeKey, limits);
  try {
    return { mode: header.mode, authenticated, files: decodeClearData(clear, limits).files };
  } finally {
    zeroize(clear);
  }
}
