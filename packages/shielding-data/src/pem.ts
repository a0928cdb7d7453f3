import { FormatError } from '@lsvm/core';

/** PEM (RFC 7468) encoding of `der` under `label`, 64-column base64, LF line ends. */
export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
/** RFC 7468 §3 `label`: printable ASCII but '-', with single '-' or ' ' between characters. */
const LABEL_RE = /^(?:[\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block of `text`, in order, as {label, der}.
 *
 * One left-to-right pass: a lazy regular expression (`BEGIN (…)-----([\s\S]*?)-----END \1`)
 * rescans the rest of the text from every BEGIN that has no END, which made a guardian PEM file
 * of repeated BEGIN lines cost time quadratic in its size. Here the next END marker found is
 * remembered, and a BEGIN met before it abandons the unterminated block in front (blocks do not
 * nest, RFC 7468 §2).
 */
export function pemDecodeAll(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  let pos = 0;
  let nextEnd = -2; // cached indexOf(END, …); -2: not searched yet
  for (;;) {
    const b = text.indexOf(BEGIN, pos);
    if (b < 0) break;
    const labelAt = b + BEGIN.length;
    const labelEnd = text.indexOf(DASHES, labelAt);
    if (labelEnd < 0) break;
    const label = text.slice(labelAt, labelEnd);
    if (labelEnd - labelAt > 64 || !LABEL_RE.test(label)) {
      pos = labelAt;
      continue;
    }
    const bodyAt = labelEnd + DASHES.length;
    if (nextEnd !== -1 && nextEnd < bodyAt) nextEnd = text.indexOf(END, bodyAt);
    if (nextEnd < 0) break;
    const nextBegin = text.indexOf(BEGIN, bodyAt);
    if (nextBegin >= 0 && nextBegin < nextEnd) {
      pos = nextBegin;
      continue;
    }
    const trailer = `${END}${label}${DASHES}`;
    if (!text.startsWith(trailer, nextEnd)) {
      pos = nextEnd + END.length;
      continue;
    }
    const body = text.slice(bodyAt, nextEnd).replace(/\s+/g, '');
    if (!BASE64_RE.test(body))
      throw new FormatError('PEM_MALFORMED', `PEM block ${label} is not base64`, { structure: 'PEM' });
    out.push({ label, der: new Uint8Array(Buffer.from(body, 'base64')) });
    pos = nextEnd + trailer.length;
  }
  return out;
}
