import {
  ChecksumError,
  FormatError,
  LsvmError,
  isLsvmError,
  checkLimit,
  LimitError,
  throwIfAborted,
  AbortedError,
} from '../src/index.js';

describe('errors and limits', () => {
  test('errors carry kind, stable code, structure and offset', () => {
    const e = new ChecksumError('GPT_HEADER_CRC', 'header CRC mismatch', {
      structure: 'GPT header',
      offset: 512,
    });
    expect(e).toBeInstanceOf(LsvmError);
    expect(isLsvmError(e)).toBe(true);
    expect(e.kind).toBe('checksum');
    expect(e.name).toBe('ChecksumError');
    expect(e.message).toBe('header CRC mismatch (GPT header at offset 512)');
    expect(e.toJSON()).toEqual({
      code: 'GPT_HEADER_CRC',
      kind: 'checksum',
      message: e.message,
      structure: 'GPT header',
      offset: 512,
    });
    expect(new FormatError('X', 'y', { offset: 5n }).toJSON().offset).toBe('5');
  });

  test('checkLimit', () => {
    expect(() => checkLimit(10, 5, 'TOO_MANY', 'entry count')).toThrow(LimitError);
    expect(() => checkLimit(5, 5, 'TOO_MANY', 'entry count')).not.toThrow();
  });

  test('throwIfAborted', () => {
    const c = new AbortController();
    expect(() => throwIfAborted(c.signal)).not.toThrow();
    c.abort();
    expect(() => throwIfAborted(c.signal)).toThrow(AbortedError);
  });
});
