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

  test('chunks longer than its 4 KiB zero page: one non-zero byte anywhere is seen (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4097, max: 40000 }),
        fc.nat(50),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
        (length, start, mark) => {
          const b = new Uint8Array(length);
          const view = b.subarray(Math.min(start, length));
          if (mark && view.length > 0) view[mark[0] % view.length] = mark[1];
          const expected = mark === null || view.length === 0;
          return isZero(view) === expected && isZeroWords(view) === expected;
        },
      ),
    );
  });
});
