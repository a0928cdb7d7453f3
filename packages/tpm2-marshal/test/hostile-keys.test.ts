import { LsvmError } from '@lsvm/core';
import fc from 'fast-check';
import {
  type TpmtPublic,
  createEncryptedSecret,
  createImportBlob,
  parseHashAlg,
  parsePcrSelection,
  srkTemplateEcc,
  srkTemplateRsa,
} from '../src/index.js';

/**
 * Secret sharing with a public key read from a file (a parent's or an EK's TPM2B_PUBLIC) must
 * turn an unusable key into a typed error: OpenSSL throws plain Errors for a zero modulus, a
 * modulus too short for OAEP, or an ECC point off the curve.
 */
function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!(e instanceof LsvmError)) throw e;
    return e.code;
  }
  return 'ok';
}

describe('secret sharing with hostile public keys', () => {
  const rsa = srkTemplateRsa();
  const ecc = srkTemplateEcc();
  const data = new Uint8Array(4);
  const none = new Uint8Array(0);

  it.each([
    ['an empty modulus', new Uint8Array(0)],
    ['a modulus of zeros', new Uint8Array(256)],
    ['a modulus too short for OAEP-SHA256', new Uint8Array(8).fill(0xff)],
  ])('RSA: %s is TPM2_BAD_PUBLIC_KEY', (_what, unique) => {
    const key = { ...rsa, unique } as TpmtPublic;
    expect(code(() => createEncryptedSecret(key, 'SECRET'))).toBe('TPM2_BAD_PUBLIC_KEY');
    expect(code(() => createImportBlob(key, data, none))).toBe('TPM2_BAD_PUBLIC_KEY');
  });

  it('ECC: an empty point and points off the curve are TPM2_BAD_PUBLIC_KEY', () => {
    expect(code(() => createImportBlob(ecc, data, none))).toBe('TPM2_BAD_PUBLIC_KEY');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        (x, y) => {
          const key = { ...ecc, unique: { x, y } } as TpmtPublic;
          // A random pair is on P-256 with negligible probability; either way no plain Error.
          expect(['TPM2_BAD_PUBLIC_KEY', 'ok']).toContain(
            code(() => createEncryptedSecret(key, 'DUPLICATE')),
          );
        },
      ),
      { numRuns: 100, seed: 0x7a7 },
    );
  });

  it('a real-shaped RSA modulus still works', () => {
    const n = new Uint8Array(256).fill(0xfd);
    const { seed, encrypted } = createEncryptedSecret({ ...rsa, unique: n } as TpmtPublic, 'SECRET');
    expect(seed.length).toBe(32);
    expect(encrypted.length).toBe(256);
  });
});

describe('names that are Object.prototype members', () => {
  // Regression: parseHashAlg looked names up on a plain object, so `constructor` returned
  // Object.prototype.constructor as if it were an algorithm id.
  it.each(['constructor', '__proto__', 'toString', 'valueOf'])('%s is not a hash algorithm', (n) => {
    expect(() => parseHashAlg(n)).toThrow(expect.objectContaining({ code: 'TPM2_HASH_UNSUPPORTED' }));
    expect(() => parsePcrSelection(`${n}:7`)).toThrow(LsvmError);
  });
});
