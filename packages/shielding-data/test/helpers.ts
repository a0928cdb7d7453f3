import { type GuardianKeys, generateGuardian } from '../src/index.js';
import { vectorGuardians } from './vectors.js';

/** Guardians shared by the tests: the committed vector ones plus freshly generated EC ones (fast). */
export function testGuardians(): {
  owner: GuardianKeys;
  fabric: GuardianKeys;
  p384: GuardianKeys;
  intruder: GuardianKeys;
} {
  const { owner, fabric } = vectorGuardians();
  return {
    owner,
    fabric,
    p384: generateGuardian('fabric-384', { algorithm: 'p384' }),
    intruder: generateGuardian('intruder', { algorithm: 'p256' }),
  };
}

/** Runs `f` and returns the error it throws (fails the test if it returns). */
export function thrown(f: () => unknown): Error & { code?: string; kind?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string; kind?: string };
  }
  throw new Error('expected an exception');
}

/**
 * Byte positions for the single-flip tests: every byte outside the embedded certificates, and
 * every 16th byte inside them (a flipped certificate byte costs a full OpenSSL parse, and the
 * certificate signatures catch each one the same way). Keeps the suite inside its time budget.
 */
export function flipPositions(bytes: Uint8Array, certificates: Uint8Array[]): number[] {
  const inCert = new Uint8Array(bytes.length);
  const hay = Buffer.from(bytes);
  for (const c of certificates) {
    for (let at = hay.indexOf(Buffer.from(c)); at >= 0; at = hay.indexOf(Buffer.from(c), at + 1))
      inCert.fill(1, at, at + c.length);
  }
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (!inCert[i] || i % 16 === 0) out.push(i);
  return out;
}
