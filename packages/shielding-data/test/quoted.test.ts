import { FormatError, UnsupportedError } from '@lsvm/core';
import { encodeCanonical } from '../src/canonical-cbor.js';
import { parseFsk, parseFskAssignment } from '../src/index.js';
import { thrown } from './helpers.js';

/** Strings from a file reach error messages quoted, with no raw control, C1 or bidi character. */
const RAW = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const HOSTILE = 'a\x1b[2J\r\x9b\u202eb\u2066\u2028c';

describe('file strings in FSK messages (quoted, from @lsvm/core)', () => {
  test('FSK errors that name a hostile key or version carry no raw control characters', () => {
    const file = (name: string, v: unknown = 1) =>
      encodeCanonical({ format: 'lsvm-fsk', v, pairs: [[name, 'value']] } as never);
    const e = thrown(() => parseFsk(file(`@${HOSTILE}@`)));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.code).toBe('FSK_NAME');
    expect(e.message).not.toMatch(RAW);
    expect(e.message).toContain('\\u001b[2J');
    const v = thrown(() => parseFsk(file('@A@', HOSTILE)));
    expect(v).toBeInstanceOf(UnsupportedError);
    expect(v.message).not.toMatch(RAW);
    expect(thrown(() => parseFskAssignment(HOSTILE)).message).not.toMatch(RAW);
  });
});
