import fc from 'fast-check';
import {
  FormatError,
  guidFromBytes,
  guidToBytes,
  isGuid,
  normalizeGuid,
  uuidFromBytes,
} from '../src/index.js';

describe('GUID codec', () => {
  test('mixed-endian layout of the EFI System Partition type GUID (UEFI §5.3.3)', () => {
    // C12A7328-F81F-11D2-BA4B-00A0C93EC93B as it appears on disk.
    const onDisk = Uint8Array.from([
      0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b,
    ]);
    expect(guidFromBytes(onDisk)).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
    expect(guidToBytes('C12A7328-F81F-11D2-BA4B-00A0C93EC93B')).toEqual(onDisk);
    expect(uuidFromBytes(onDisk)).toBe('28732ac1-1ff8-d211-ba4b-00a0c93ec93b');
  });

  test('round trip (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const s = guidFromBytes(b);
        expect(isGuid(s)).toBe(true);
        expect(guidToBytes(s)).toEqual(b);
      }),
    );
  });

  test('normalises braces and case, rejects junk with a FormatError', () => {
    expect(normalizeGuid('{C12A7328-F81F-11D2-BA4B-00A0C93EC93B}')).toBe(
      'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
    );
    expect(() => normalizeGuid('not-a-guid')).toThrow(FormatError);
    expect(() => guidFromBytes(new Uint8Array(15))).toThrow(FormatError);
  });
});
