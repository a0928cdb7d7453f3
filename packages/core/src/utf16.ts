import { FormatError } from './errors.js';

/**
 * UTF-16LE as the Microsoft and UEFI formats store names. Decoding stops at the first NUL code unit
 * (names are NUL-padded) and keeps unpaired surrogates as U+FFFD, like the platform decoder.
 */
const decoder = new TextDecoder('utf-16le');

/** Decodes UTF-16LE bytes up to the first NUL code unit. An odd length is a format error. */
export function decodeUtf16le(b: Uint8Array, options: { stopAtNul?: boolean } = {}): string {
  if (b.length % 2 !== 0) throw new FormatError('BAD_UTF16', `UTF-16LE data has odd length ${b.length}`);
  let end = b.length;
  if (options.stopAtNul ?? true) {
    for (let i = 0; i + 1 < b.length; i += 2) {
      if (b[i] === 0 && b[i + 1] === 0) {
        end = i;
        break;
      }
    }
  }
  return decoder.decode(b.subarray(0, end));
}

/** Encodes a string as UTF-16LE (no terminator). */
export function encodeUtf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >>> 8;
  }
  return out;
}

/** Length of a string in UTF-16 code units (what fixed-size name fields count). */
export function utf16Length(s: string): number {
  return s.length;
}
