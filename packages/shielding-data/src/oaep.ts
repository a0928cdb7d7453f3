import { type KeyObject, constants, createHash, publicEncrypt } from 'node:crypto';
import { UsageError } from '@lsvm/core';

/**
 * RSAES-OAEP encryption with SHA-256 and MGF1-SHA256, empty label (RFC 8017 §7.1.1), with the
 * seed supplied by the caller. node:crypto's OAEP draws its own seed, which would make published
 * vectors impossible to reproduce; so the EME-OAEP encoding is done here and the RSA primitive by
 * OpenSSL (`RSA_NO_PADDING`). Decryption uses OpenSSL's own OAEP, an independent check of this
 * encoder.
 */
const H_LEN = 32;

function mgf1(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let counter = 0, o = 0; o < length; counter++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    const block = createHash('sha256').update(seed).update(c).digest();
    out.set(block.subarray(0, Math.min(block.length, length - o)), o);
    o += block.length;
  }
  return out;
}

/** EME-OAEP-encode `message` for a modulus of `k` bytes with `seed` (32 bytes). */
export function oaepEncode(message: Uint8Array, k: number, seed: Uint8Array): Uint8Array {
  if (seed.length !== H_LEN) throw new UsageError('OAEP_SEED', 'OAEP seed must be 32 bytes');
  if (message.length > k - 2 * H_LEN - 2) throw new UsageError('OAEP_MESSAGE', 'message too long for OAEP');
  const lHash = createHash('sha256').digest();
  const db = new Uint8Array(k - H_LEN - 1);
  db.set(lHash, 0);
  db[db.length - message.length - 1] = 0x01;
  db.set(message, db.length - message.length);
  const dbMask = mgf1(seed, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= dbMask[i]!;
  const seedMask = mgf1(db, H_LEN);
  const em = new Uint8Array(k);
  for (let i = 0; i < H_LEN; i++) em[1 + i] = seed[i]! ^ seedMask[i]!;
  em.set(db, 1 + H_LEN);
  dbMask.fill(0);
  return em;
}

/** RSA-OAEP-256 encryption of `message` to `publicKey` with a given seed. */
export function rsaOaepEncrypt(publicKey: KeyObject, message: Uint8Array, seed: Uint8Array): Uint8Array {
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const em = oaepEncode(message, Math.ceil(bits / 8), seed);
  try {
    return new Uint8Array(publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, em));
  } finally {
    em.fill(0);
  }
}
