import fc from 'fast-check';
import { isZero, isZeroWords } from '../src/convert.js';

describe('isZero', () => {
  test('agrees with a byte loop on any view (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(40), fc.nat(300), (bytes, start, pos) => {
        const b = new Uint8Array(bytes.length);
        if (bytes.length > 0 && pos % 3 === 0) b[pos % bytes.length] = bytes[pos % bytes.length]!;
        const view = b.subarray(Math.min(start, b.length));
        const expected = view.every((x) => x === 0);
        return isZero(view) === expected && isZeroWords(view) === expected;
      }),
    );
  });
});
