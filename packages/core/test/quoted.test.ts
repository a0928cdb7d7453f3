import { quoted } from '../src/index.js';

describe('quoted', () => {
  test('JSON quoting, and \\u escapes for what JSON leaves raw', () => {
    expect(quoted('a\x1b[2J\r\x9b\u202eb\u2066\u2028c')).toBe(
      '"a\\u001b[2J\\r\\u009b\\u202eb\\u2066\\u2028c"',
    );
    expect(quoted('x'.repeat(100))).toBe(`"${'x'.repeat(70)}"`);
    expect(quoted(2)).toBe('2');
    expect(quoted(undefined)).toBe('undefined');
  });

  test('a format character beyond U+FFFF is escaped as its surrogate pair and reads back exactly', () => {
    const flag = 'w\u{1f3f4}\u{e0067}\u{e0062}\u{e007f}';
    const q = quoted(flag);
    expect(q).toBe('"w\u{1f3f4}\\udb40\\udc67\\udb40\\udc62\\udb40\\udc7f"');
    expect(JSON.parse(q)).toBe(flag);
  });
});
