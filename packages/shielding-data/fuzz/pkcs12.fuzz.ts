/**
 * Fuzz target: the PKCS#12 reader behind `importGuardianPfx`. Any bytes must import or throw an
 * LsvmError. A mutation almost always breaks the password MAC, which would leave everything
 * behind it unexercised, so each input that still decodes as a PFX is also re-sealed with a fresh
 * MAC under the corpus password ("fuzz") and read again: that run reaches the decryption, bag and
 * certificate code with hostile content.
 */
import { webcrypto } from 'node:crypto';
import { isLsvmError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { readPfxKeyPair } from '../src/index.js';

const PASSWORD = 'fuzz';
// Iterations bounded low: a mutated count must not turn a fuzz run into a KDF benchmark.
const LIMITS = { maxPfxIterations: 64, maxPfxBytes: 1 << 16 };
const engine = new pkijs.CryptoEngine({
  name: 'fuzz',
  crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'],
});

/** The input with its MAC recomputed (HMAC-SHA256, one iteration), or undefined. */
async function resealed(bytes: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    const pfx = pkijs.PFX.fromBER(bytes);
    const content = (pfx.authSafe.content as asn1js.OctetString).getValue();
    const salt = new Uint8Array(8).fill(1);
    const mac = await engine.stampDataWithPassword({
      password: new TextEncoder().encode(PASSWORD).buffer,
      hashAlgorithm: 'SHA-256',
      salt: salt.buffer,
      iterationCount: 1,
      contentToStamp: content,
    });
    pfx.macData = new pkijs.MacData({
      mac: new pkijs.DigestInfo({
        digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.1' }),
        digest: new asn1js.OctetString({ valueHex: mac }),
      }),
      macSalt: new asn1js.OctetString({ valueHex: salt }),
      iterations: 1,
    });
    return new Uint8Array(pfx.toSchema().toBER(false));
  } catch {
    return undefined; // not PFX-shaped enough to re-seal: the plain run covered it
  }
}

async function typedOnly(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}

export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data);
  await typedOnly(readPfxKeyPair(bytes, PASSWORD, LIMITS));
  const sealed = await resealed(bytes);
  if (sealed !== undefined) await typedOnly(readPfxKeyPair(sealed, PASSWORD, LIMITS));
}
