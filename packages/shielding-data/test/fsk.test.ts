import { LsvmError } from '@lsvm/core';
import fc from 'fast-check';
import { createFsk, parseFsk, parseFskAssignment, verifyFsk } from '../src/index.js';
import { testGuardians, thrown } from './helpers.js';

describe('specialization data (FSK)', () => {
  const { owner, intruder } = testGuardians();
  const pairs = [
    { name: '@ComputerName@', value: 'vm1' },
    { name: '@TimeZone@', value: 'Pacific Standard Time' },
    { name: '@IP4Addr-1@', value: '192.0.2.10/24' },
  ];

  test('order is kept; unsigned and signed round trips', () => {
    const u = createFsk(pairs);
    expect(parseFsk(u).pairs).toEqual(pairs);
    expect(verifyFsk(parseFsk(u))).toBeUndefined();
    expect(thrown(() => verifyFsk(parseFsk(u), { requireSigned: true })).code).toBe('FSK_UNSIGNED');
    const s = createFsk(pairs, { signer: owner });
    const cert = verifyFsk(parseFsk(s), { expectedSigner: verifyFsk(parseFsk(s))!.thumbprint });
    expect(cert!.subject).toBe(`CN=${owner.name} signing`);
    expect(createFsk(parseFsk(s).pairs, { signer: owner })).toEqual(s);
  });

  test('round trip (property)', () => {
    const name = fc.stringMatching(/^@[A-Za-z0-9_.:-]{1,20}@$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ name, value: fc.string({ maxLength: 40 }) }), {
          selector: (p) => p.name,
          maxLength: 10,
        }),
        (ps) => {
          const b = createFsk(ps);
          expect(parseFsk(b).pairs).toEqual(ps);
          expect(createFsk(parseFsk(b).pairs)).toEqual(b);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('--set parsing and bad names', () => {
    expect(parseFskAssignment('@ComputerName@=vm=1')).toEqual({ name: '@ComputerName@', value: 'vm=1' });
    for (const bad of ['ComputerName=x', '@@=x', '@a b@=x', '@x@'])
      expect(thrown(() => parseFskAssignment(bad))).toBeInstanceOf(LsvmError);
    expect(thrown(() => createFsk([pairs[0]!, pairs[0]!])).code).toBe('FSK_DUPLICATE');
  });

  test('any single flipped byte of a signed FSK is a typed failure; a foreign signer is caught', () => {
    const s = createFsk(pairs, { signer: owner });
    const id = verifyFsk(parseFsk(s))!.thumbprint;
    for (let i = 0; i < s.length; i += i < 200 || i > s.length - 300 ? 1 : 8) {
      const c = s.slice();
      c[i]! ^= 0x02;
      expect(thrown(() => verifyFsk(parseFsk(c), { expectedSigner: id }))).toBeInstanceOf(LsvmError);
    }
    const other = createFsk(pairs, { signer: intruder });
    expect(thrown(() => verifyFsk(parseFsk(other), { expectedSigner: id })).code).toBe('FSK_SIGNER_MISMATCH');
  });
});

describe('applyFsk', () => {
  test('substitutes each @Name@ literally, once, and reports unused names', () => {
    const { applyFsk } = require('../src/index.js') as typeof import('../src/index.js');
    const r = applyFsk('<ComputerName>@ComputerName@</ComputerName><x>@ComputerName@ @Other@</x>', [
      { name: '@ComputerName@', value: 'vm-$1-@TimeZone@' },
      { name: '@TimeZone@', value: 'UTC' },
    ]);
    expect(r.text).toBe('<ComputerName>vm-$1-@TimeZone@</ComputerName><x>vm-$1-@TimeZone@ @Other@</x>');
    expect(r.unused).toEqual(['@TimeZone@']);
  });
});
