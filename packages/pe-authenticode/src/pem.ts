/**
 * PEM textual encoding (RFC 7468 §2): `-----BEGIN label-----`, base64 lines, `-----END label-----`.
 *
 * Found in ONE left-to-right pass. A lazy regular expression such as
 * `/-----BEGIN X-----([\s\S]*?)-----END X-----/g` rescans the rest of the text from every BEGIN
 * that has no END, so a trust file of repeated BEGIN lines costs time quadratic in its size
 * (0.4 MB took 40 s). Here every position is looked at a bounded number of times: the next END
 * marker found is remembered, and a BEGIN seen before that END abandons the unterminated block
 * before it (blocks do not nest, §2).
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

/** The bodies of the `label` blocks of `text`, decoded from base64 (whitespace ignored). */
export function pemBodies(text: string, label: string): Uint8Array[] {
  return scanPem(text)
    .filter((b) => b.label === label)
    .map((b) => new Uint8Array(Buffer.from(b.body.replace(/\s+/g, ''), 'base64')));
}
