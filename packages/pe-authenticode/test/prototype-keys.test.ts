import { isLsvmError } from '@lsvm/core';
import { authenticodeDigest, buildSignatureList, encodeName } from '../src/index.js';
import { makePe, pattern } from './helpers/make-pe.js';

/**
 * Regression: names given by the user (a digest algorithm, an EFI signature type, a name
 * attribute) were looked up with `in` or `table[name]` on plain objects, so `constructor` or
 * `__proto__` found Object.prototype members and reached node:crypto or the GUID codec, which
 * threw plain Errors. Each must be a typed error naming the bad value.
 */
const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

function kind(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    return e.kind;
  }
  return 'none';
}

describe('names that are Object.prototype members', () => {
  const pe = makePe({ sections: [{ name: '.text', data: pattern(512) }] });

  it.each(NAMES)('digest algorithm %s is a usage error', (n) => {
    expect(kind(() => authenticodeDigest(pe, { algorithm: n as 'sha256' }))).toBe('usage');
  });

  it.each(NAMES)('signature list type %s is refused as a bad GUID', (n) => {
    const k = kind(() =>
      buildSignatureList({
        type: n,
        signatures: [{ owner: '00000000-0000-0000-0000-000000000000', data: new Uint8Array(4) }],
      }),
    );
    expect(k).toBe('format');
  });

  it.each(NAMES)('name attribute %s is a usage error', (n) => {
    expect(kind(() => encodeName([[n, 'x']]))).toBe('usage');
  });
});
