import { isLsvmError } from '@lsvm/core';
import { parseViqSpec } from '../src/index.js';

const signer = 'ab'.repeat(32);

describe('VolumeIdQualifier specs', () => {
  it('reads the rule aliases', () => {
    expect(parseViqSpec(`name=Ubuntu*,version=1.0,rule=ge,signer=${signer}`).rule).toBe(
      'GreaterThanOrEquals',
    );
    expect(parseViqSpec(`name=Ubuntu*,version=1.0,rule=Equals,signer=${signer}`).rule).toBe('Equals');
  });

  // Regression: the rule was looked up on a plain object, so `constructor` became
  // Object.prototype.constructor instead of an unknown rule.
  it.each(['constructor', '__proto__', 'toString', 'bogus'])('rule=%s is a typed error', (r) => {
    let err: unknown;
    try {
      parseViqSpec(`name=Ubuntu*,version=1.0,rule=${r},signer=${signer}`);
    } catch (e) {
      err = e;
    }
    expect(isLsvmError(err)).toBe(true);
  });
});
