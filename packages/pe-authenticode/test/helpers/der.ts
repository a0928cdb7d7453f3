import { FormatError, UsageError } from '@lsvm/core';

/**
 * A minimal DER/BER TLV reader and writer for the tests only: an encoder independent of asn1js and
 * pkijs, so tests can build what those libraries would never write (hand-made countersignatures,
 * re-encoded mutated trees for structure-aware fuzzing, non-calendar times) and check the
 * package's decoding against a second implementation. The package itself uses asn1js/pkijs.
 */
/** ASN.1 tag classes (X.690 §8.1.2.2). */
export const TagClass = { universal: 0, application: 1, context: 2, private: 3 } as const;

/** Universal tag numbers used here. */
export const Tag = {
  boolean: 1,
  integer: 2,
  bitString: 3,
  octetString: 4,
  null: 5,
  oid: 6,
  utf8String: 12,
  sequence: 16,
  set: 17,
  printableString: 19,
  t61String: 20,
  ia5String: 22,
  utcTime: 23,
  generalizedTime: 24,
  bmpString: 30,
} as const;

/** Bound on nesting, so a hostile blob of nested constructed tags cannot exhaust the stack. */
const MAX_DEPTH = 64;

/** One decoded TLV element. */
export interface DerElement {
  /** Tag class (0 universal, 1 application, 2 context, 3 private). */
  cls: number;
  /** True for a constructed encoding. */
  constructed: boolean;
  /** Tag number. */
  tag: number;
  /** The whole element: identifier, length and contents (for an indefinite length, through the end-of-contents). */
  raw: Uint8Array;
  /** The contents octets only. */
  value: Uint8Array;
  /** Offset of the element within the buffer that was parsed. */
  offset: number;
  /** Length of identifier + length octets. */
  headerLength: number;
}

/**
 * Decodes the element at `offset` of `buf`. `structure` names the thing being read for errors.
 * Lengths are checked against the buffer before any view is taken.
 */
export function readElement(buf: Uint8Array, offset = 0, structure = 'DER', depth = 0): DerElement {
  const fail = (msg: string, at: number): never => {
    throw new FormatError('DER_MALFORMED', msg, { structure, offset: at });
  };
  if (depth > MAX_DEPTH) fail('ASN.1 nesting too deep', offset);
  let p = offset;
  if (p >= buf.length) fail('ASN.1 element expected, input ended', p);
  const id = buf[p++]!;
  const cls = id >> 6;
  const constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let n = 0; ; n++) {
      if (p >= buf.length) fail('truncated high tag number', p);
      if (n >= 4) fail('tag number too large', p);
      const b = buf[p++]!;
      tag = tag * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= buf.length) fail('truncated length', p);
  const l0 = buf[p++]!;
  let len: number;
  if (l0 < 0x80) {
    len = l0;
  } else if (l0 === 0x80) {
    // Indefinite length: contents run to the matching end-of-contents (00 00), constructed only.
    if (!constructed) fail('indefinite length on a primitive element', p - 1);
    const headerLength = p - offset;
    let q = p;
    for (;;) {
      if (q + 2 > buf.length) fail('indefinite-length element not terminated', q);
      if (buf[q] === 0 && buf[q + 1] === 0) break;
      const child = readElement(buf, q, structure, depth + 1);
      q += child.raw.length;
    }
    return {
      cls,
      constructed,
      tag,
      raw: buf.subarray(offset, q + 2),
      value: buf.subarray(p, q),
      offset,
      headerLength,
    };
  } else {
    const n = l0 & 0x7f;
    if (n > 4) fail('length field too large', p - 1);
    if (p + n > buf.length) fail('truncated length', p);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > buf.length) fail(`element of ${len} bytes runs past the end of its container`, offset);
  return {
    cls,
    constructed,
    tag,
    raw: buf.subarray(offset, p + len),
    value: buf.subarray(p, p + len),
    offset,
    headerLength: p - offset,
  };
}

/** Decodes the children of a constructed element. */
export function children(el: DerElement, structure = 'DER', maxChildren = 1 << 16): DerElement[] {
  if (!el.constructed) {
    throw new FormatError('DER_MALFORMED', 'expected a constructed element', {
      structure,
      offset: el.offset,
    });
  }
  const out: DerElement[] = [];
  let p = 0;
  while (p < el.value.length) {
    if (out.length >= maxChildren) {
      throw new FormatError('DER_TOO_MANY', `more than ${maxChildren} elements`, {
        structure,
        offset: el.offset,
      });
    }
    const c = readElement(el.value, p, structure);
    out.push(c);
    p += c.raw.length;
  }
  return out;
}

/** Parses a whole buffer as exactly one element (trailing bytes are an error unless allowed). */
export function parseDer(buf: Uint8Array, structure = 'DER', allowTrailing = false): DerElement {
  const el = readElement(buf, 0, structure);
  if (!allowTrailing && el.raw.length !== buf.length) {
    // Trailing zeros are common (padding inside WIN_CERTIFICATE); anything else is malformed.
    for (let i = el.raw.length; i < buf.length; i++) {
      if (buf[i] !== 0)
        throw new FormatError('DER_TRAILING', 'unexpected bytes after the ASN.1 element', {
          structure,
          offset: i,
        });
    }
  }
  return el;
}

/** Throws unless `el` is the expected universal (or given-class) tag. */
export function expectTag(
  el: DerElement | undefined,
  tag: number,
  structure: string,
  cls: number = TagClass.universal,
): DerElement {
  if (el === undefined || el.tag !== tag || el.cls !== cls) {
    throw new FormatError(
      'DER_UNEXPECTED',
      el === undefined
        ? `missing element (expected tag ${cls}:${tag})`
        : `unexpected tag ${el.cls}:${el.tag} (expected ${cls}:${tag})`,
      { structure, ...(el ? { offset: el.offset } : {}) },
    );
  }
  return el;
}

/** Children of a SEQUENCE, checking the tag. */
export function sequence(el: DerElement | undefined, structure: string): DerElement[] {
  return children(expectTag(el, Tag.sequence, structure), structure);
}

/** Decodes an OBJECT IDENTIFIER element to dotted form. */
export function decodeOid(el: DerElement | undefined, structure = 'OID'): string {
  const v = expectTag(el, Tag.oid, structure).value;
  if (v.length === 0 || v.length > 64)
    throw new FormatError('DER_MALFORMED', 'bad OBJECT IDENTIFIER length', { structure });
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128)
      throw new FormatError('DER_MALFORMED', 'OID arc too large', { structure });
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = acc < 40 ? 0 : acc < 80 ? 1 : 2;
        parts.push(first, acc - first * 40);
      } else parts.push(acc);
      acc = 0;
    } else if (i === v.length - 1) {
      throw new FormatError('DER_MALFORMED', 'truncated OID arc', { structure });
    }
  }
  return parts.join('.');
}

/** The unsigned big-endian magnitude of an INTEGER, leading sign zero removed. */
export function integerBytes(el: DerElement | undefined, structure = 'INTEGER'): Uint8Array {
  const v = expectTag(el, Tag.integer, structure).value;
  if (v.length === 0) throw new FormatError('DER_MALFORMED', 'empty INTEGER', { structure });
  return v.length > 1 && v[0] === 0 ? v.subarray(1) : v;
}

/** A small non-negative INTEGER as a number. */
export function integerSmall(el: DerElement | undefined, structure = 'INTEGER'): number {
  const v = expectTag(el, Tag.integer, structure).value;
  if (v.length === 0 || v.length > 6 || (v[0]! & 0x80) !== 0)
    throw new FormatError('DER_MALFORMED', 'INTEGER out of range', { structure });
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** Decodes the string types used in names and Authenticode (UTF-8, printable, IA5, BMP). */
export function decodeString(el: DerElement): string {
  if (el.tag === Tag.bmpString) {
    let s = '';
    for (let i = 0; i + 1 < el.value.length; i += 2)
      s += String.fromCharCode((el.value[i]! << 8) | el.value[i + 1]!);
    return s;
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(el.value);
}

/** Decodes UTCTime / GeneralizedTime to a Date (Z form, as DER requires). */
export function decodeTime(el: DerElement | undefined, structure = 'Time'): Date {
  if (el === undefined) throw new FormatError('DER_UNEXPECTED', 'missing time value', { structure });
  const s = new TextDecoder('latin1').decode(el.value);
  const m =
    el.tag === Tag.utcTime
      ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?Z$/.exec(s)
      : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(?:\.(\d+))?Z$/.exec(s);
  if (!m || (el.tag !== Tag.utcTime && el.tag !== Tag.generalizedTime))
    throw new FormatError('DER_MALFORMED', `bad time value ${JSON.stringify(s.slice(0, 32))}`, { structure });
  let year = Number(m[1]);
  if (el.tag === Tag.utcTime) year += year < 50 ? 2000 : 1900;
  // Milliseconds by truncation (integer digits, no float rounding that could reach 1000).
  const ms = m[7] !== undefined ? Number(`${m[7]}00`.slice(0, 3)) : 0;
  const [mo, d, h, mi, sec] = [Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  const t = new Date(Date.UTC(year, mo, d, h, mi, sec, ms));
  // Date.UTC rolls month 13 or day 32 over into the next year or month; X.680 §46/§47 (and
  // OpenSSL) refuse such a time, so a certificate cannot be valid "until 2051-01" by saying 2050-13.
  if (
    t.getUTCFullYear() !== year ||
    t.getUTCMonth() !== mo ||
    t.getUTCDate() !== d ||
    t.getUTCHours() !== h ||
    t.getUTCMinutes() !== mi ||
    t.getUTCSeconds() !== sec
  )
    throw new FormatError(
      'DER_MALFORMED',
      `time value ${JSON.stringify(s.slice(0, 32))} is not a calendar time`,
      {
        structure,
      },
    );
  return t;
}

// ---------------------------------------------------------------------------------------------
// Writer: every function returns the complete DER encoding of one element.

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Concatenates byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A TLV with an explicit identifier octet (tag numbers < 31). */
export function tlv(identifier: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  return concat(Uint8Array.of(identifier), encodeLength(body.length), body);
}

/** SEQUENCE of the given encoded elements. */
export const derSequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, ...items);

/** SET OF, sorted as DER requires (X.690 §11.6). */
export function derSet(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort(compareBytes);
  return tlv(0x31, ...sorted);
}

/** `[n] EXPLICIT` wrapper (constructed context tag). */
export const derExplicit = (n: number, ...items: Uint8Array[]): Uint8Array => {
  if (n > 30) throw new UsageError('DER_TAG', 'context tag too large');
  return tlv(0xa0 | n, ...items);
};

/** Re-tags an encoded element as `[n] IMPLICIT`, keeping its constructed bit. */
export function derImplicit(n: number, encoded: Uint8Array): Uint8Array {
  const out = encoded.slice();
  out[0] = (encoded[0]! & 0x20) | 0x80 | n;
  return out;
}

export const derNull = (): Uint8Array => Uint8Array.of(0x05, 0x00);
export const derOctetString = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const derBitString = (b: Uint8Array, unused = 0): Uint8Array => tlv(0x03, Uint8Array.of(unused), b);
export const derUtf8 = (s: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(s));
export const derIa5 = (s: string): Uint8Array => tlv(0x16, new TextEncoder().encode(s));

/** INTEGER from a non-negative number or unsigned big-endian bytes. */
export function derInteger(v: number | Uint8Array): Uint8Array {
  let b: Uint8Array;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new UsageError('DER_INTEGER', 'bad INTEGER value');
    const bytes: number[] = [];
    do {
      bytes.unshift(v & 0xff);
      v = Math.floor(v / 256);
    } while (v > 0);
    b = Uint8Array.from(bytes);
  } else {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    b = v.subarray(i);
  }
  if (b.length === 0) b = Uint8Array.of(0);
  if ((b[0]! & 0x80) !== 0) b = concat(Uint8Array.of(0), b);
  return tlv(0x02, b);
}

/** OBJECT IDENTIFIER from dotted form. */
export function derOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0))
    throw new UsageError('DER_OID', `bad OID ${oid}`);
  const out: number[] = [];
  const push = (v: number): void => {
    const tmp: number[] = [v & 0x7f];
    v = Math.floor(v / 128);
    while (v > 0) {
      tmp.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...tmp);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(0x06, Uint8Array.from(out));
}

/** UTCTime (years 1950–2049) or GeneralizedTime, as RFC 5280 §4.1.2.5 chooses. */
export function derTime(d: Date): Uint8Array {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const y = d.getUTCFullYear();
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(0x17, new TextEncoder().encode(`${p(y % 100)}${rest}`));
  return tlv(0x18, new TextEncoder().encode(`${p(y, 4)}${rest}`));
}

/** Lexicographic byte comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Byte equality (not constant-time; for public data such as names and certificates). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}
