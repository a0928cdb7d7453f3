import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPublicKey,
  constants,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { FormatError, UnsupportedError } from '@lsvm/core';
import { TPM_ALG, TPM_ECC, algName } from './constants.js';
import { digestSize } from './hash.js';
import { kdfe } from './kdf.js';
import { TPMS_ECC_POINT, type TpmtPublic } from './public.js';
import { marshal } from './marshal.js';
import type { TpmtSymDef } from './schemes.js';

/**
 * The public-key and symmetric operations a TSS performs on the host side: secret sharing with a
 * TPM key (Part 1 Annex B.10 RSA-OAEP, Annex C.6 ECDH + KDFe) and CFB encryption (Part 1 §11.4.6).
 * All through node:crypto; no key material leaves these functions except as results.
 */

const NODE_HASH: Record<number, string> = {
  [TPM_ALG.SHA1]: 'sha1',
  [TPM_ALG.SHA256]: 'sha256',
  [TPM_ALG.SHA384]: 'sha384',
  [TPM_ALG.SHA512]: 'sha512',
};
const CURVES: Record<number, { node: string; size: number }> = {
  [TPM_ECC.NIST_P256]: { node: 'prime256v1', size: 32 },
  [TPM_ECC.NIST_P384]: { node: 'secp384r1', size: 48 },
  [TPM_ECC.NIST_P521]: { node: 'secp521r1', size: 66 },
};

/** AES-CFB (full-block feedback) encryption or decryption, as TPM parameter and storage encryption uses. */
export function aesCfb(key: Uint8Array, iv: Uint8Array, data: Uint8Array, decrypt: boolean): Uint8Array {
  const mode = `aes-${key.length * 8}-cfb`;
  const c = decrypt ? createDecipheriv(mode, key, iv) : createCipheriv(mode, key, iv);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** Checks a symmetric definition is AES-CFB (the only block mode parameter encryption allows). */
export function checkAesCfb(sym: TpmtSymDef): number {
  if (sym.algorithm !== TPM_ALG.AES || sym.mode !== TPM_ALG.CFB || sym.keyBits === undefined)
    throw new UnsupportedError(
      'TPM2_SYM_UNSUPPORTED',
      `symmetric ${algName(sym.algorithm)}/${algName(sym.mode ?? 0)} is not supported (AES-CFB only)`,
    );
  return sym.keyBits;
}

/** The message of an OpenSSL error (no key material is in these). */
function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Strips leading zeros off a big-endian integer (for JWK). */
function b64u(b: Uint8Array): string {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return Buffer.from(b.subarray(i)).toString('base64url');
}

/**
 * Creates a secret only `key` (a TPM-resident RSA or ECC decrypt key) can recover, for salting a
 * session (label `SECRET`), wrapping a duplication seed (`DUPLICATE`) or a credential
 * (`IDENTITY`). `seedBytes` is the digest size of the key's nameAlg (Part 1 Annex B.10.3, C.6.1).
 * @returns the seed and its encrypted form (the contents of a TPM2B_ENCRYPTED_SECRET)
 */
export function createEncryptedSecret(
  key: TpmtPublic,
  label: string,
): { seed: Uint8Array; encrypted: Uint8Array } {
  const size = digestSize(key.nameAlg);
  if (key.type === TPM_ALG.RSA) {
    const nodeHash = NODE_HASH[key.nameAlg];
    if (!nodeHash) throw new UnsupportedError('TPM2_HASH_UNSUPPORTED', `OAEP with ${algName(key.nameAlg)}`);
    const e = key.parameters.exponent === 0 ? 65537 : key.parameters.exponent;
    const eb = new Uint8Array([e >>> 24, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff]);
    const seed = new Uint8Array(randomBytes(size));
    const label0 = Buffer.concat([Buffer.from(label, 'ascii'), Buffer.from([0])]);
    try {
      const pub = createPublicKey({ key: { kty: 'RSA', n: b64u(key.unique), e: b64u(eb) }, format: 'jwk' });
      const encrypted = publicEncrypt(
        { key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: nodeHash, oaepLabel: label0 },
        seed,
      );
      return { seed, encrypted: new Uint8Array(encrypted) };
    } catch (err) {
      seed.fill(0);
      // The key usually comes from a file (a parent's or an EK's TPM2B_PUBLIC): a modulus of
      // zeros, or one too short for OAEP with this hash, is bad input, not a crash.
      throw new FormatError('TPM2_BAD_PUBLIC_KEY', `the RSA public key cannot encrypt: ${errText(err)}`, {
        structure: 'TPM2B_PUBLIC_KEY_RSA',
        cause: err,
      });
    }
  }
  if (key.type === TPM_ALG.ECC) {
    const curve = CURVES[key.parameters.curveID];
    if (!curve)
      throw new UnsupportedError(
        'TPM2_CURVE_UNSUPPORTED',
        `ECC curve 0x${key.parameters.curveID.toString(16)}`,
      );
    const ecdh = createECDH(curve.node);
    ecdh.generateKeys();
    const pad = (b: Uint8Array): Uint8Array => {
      const o = new Uint8Array(curve.size);
      o.set(b.subarray(Math.max(0, b.length - curve.size)), Math.max(0, curve.size - b.length));
      return o;
    };
    const qx = pad(key.unique.x);
    const qy = pad(key.unique.y);
    const peer = Buffer.concat([Buffer.from([4]), qx, qy]);
    let z: Uint8Array;
    try {
      z = new Uint8Array(ecdh.computeSecret(peer));
    } catch (err) {
      // Part 1 Annex C.6.1: the point must be on the curve; OpenSSL checks that here.
      throw new FormatError('TPM2_BAD_PUBLIC_KEY', `the ECC public point cannot be used: ${errText(err)}`, {
        structure: 'TPMS_ECC_POINT',
        cause: err,
      });
    }
    const ephemeral = new Uint8Array(ecdh.getPublicKey());
    const ex = ephemeral.subarray(1, 1 + curve.size);
    const ey = ephemeral.subarray(1 + curve.size);
    const seed = kdfe(key.nameAlg, z, label, ex, qx, size * 8);
    z.fill(0);
    return { seed, encrypted: marshal(TPMS_ECC_POINT, { x: ex.slice(), y: ey.slice() }) };
  }
  throw new UnsupportedError('TPM2_KEY_UNSUPPORTED', `cannot share a secret with a ${algName(key.type)} key`);
}
