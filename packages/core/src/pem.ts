import { FormatError } from './errors.js';

/**
 * PEM textual encoding (RFC 7468 §2): `-----BEGIN label-----`, base64 lines, `-----END label-----`.
 *
 * Blocks are found in ONE left-to-right pass. A lazy regular expression such as
 * `/-----BEGIN X-----([\s\S]*?)-----END X-----/g` rescans the rest of the text from every BEGIN
 * that has no END, so a file of repeated BEGIN lines costs time quadratic in its size (0.4 MB took
 * 40 s when two packages did that). Here every position is looked at a bounded number of times:
 * the next END marker found is remembered, and a BEGIN seen before that END abandons the
 * unterminated block before it (blocks do not nest, §2).
 */

/** One PEM block: its label and the text between the encapsulation boundaries. */
export interface PemBlock {
  label: string;
  /** The base64 body with its line breaks, not yet decoded. */
  body: string;
}

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
/** RFC 7468 §3 `label`: printable ASCII but '-', with single '-' or ' ' between characters. */
const LABEL_RE = /^(?:[\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Every well-formed PEM block of `text`, in order (blocks of any label; text around them is ignored). */
export function scanPem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  let pos = 0;
  let nextEnd = -2; // cached result of indexOf(END, …); -2: not searched yet
  for (;;) {
    const b = text.indexOf(BEGIN, pos);
    if (b < 0) break;
    const labelAt = b + BEGIN.length;
    // The label's closing dashes come at the latest with the next BEGIN, which starts with dashes.
    const labelEnd = text.indexOf(DASHES, labelAt);
    if (labelEnd < 0) break;
    const label = text.slice(labelAt, labelEnd);
    if (labelEnd - labelAt > 64 || !LABEL_RE.test(label)) {
      pos = labelAt;
      continue;
    }
    const bodyAt = labelEnd + DASHES.length;
    if (nextEnd !== -1 && nextEnd < bodyAt) nextEnd = text.indexOf(END, bodyAt);
    if (nextEnd < 0) break; // no END anywhere after: no further block can be complete
    const nextBegin = text.indexOf(BEGIN, bodyAt);
    if (nextBegin >= 0 && nextBegin < nextEnd) {
      pos = nextBegin; // unterminated block: start again at the next BEGIN
      continue;
    }
    const trailer = `${END}${label}${DASHES}`;
    if (!text.startsWith(trailer, nextEnd)) {
      pos = nextEnd + END.length; // END of another label: not this block's, skip past it
      continue;
    }
    out.push({ label, body: text.slice(bodyAt, nextEnd) });
    pos = nextEnd + trailer.length;
  }
  return out;
}

/**
 * Decodes a PEM body (whitespace ignored). Anything but canonical base64 is a FormatError
 * (`PEM_MALFORMED`), never a silently shortened result.
 */
export function decodePemBody(block: PemBlock): Uint8Array {
  const b64 = block.body.replace(/\s+/g, '');
  if (!BASE64_RE.test(b64) || b64.length % 4 !== 0) {
    throw new FormatError('PEM_MALFORMED', `PEM block ${block.label} is not base64`, { structure: 'PEM' });
  }
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Every PEM block of `text` decoded, in order, as `{label, der}`. */
export function pemDecodeAll(text: string): { label: string; der: Uint8Array }[] {
  return scanPem(text).map((b) => ({ label: b.label, der: decodePemBody(b) }));
}

/** PEM (RFC 7468) encoding of `der` under `label`: 64-column base64, LF line ends. */
export function pemEncode(label: string, der: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < der.length; i += 0x8000) bin += String.fromCharCode(...der.subarray(i, i + 0x8000));
  const lines = btoa(bin).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
