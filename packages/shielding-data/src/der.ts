/**
 * A minimal DER writer (ITU-T X.690 §10), enough to build the X.509 v3 certificates of a generated
 * guardian (RFC 5280 §4.1). Reading certificates is left to OpenSSL through node:crypto's
 * X509Certificate; this file only writes.
 */

function concat(parts: Uint8Array[]): Uint8Array {
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

/** Tag-length-value with a definite, minimal length (X.690 §10.1). */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(content);
  const n = body.length;
  let len: number[];
  if (n < 0x80) len = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = [0x80 | bytes.length, ...bytes];
  }
  return concat([new Uint8Array([tag, ...len]), body]);
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, ...items);
export const set = (...items: Uint8Array[]): Uint8Array => tlv(0x31, ...items);
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
export const nullValue = (): Uint8Array => new Uint8Array([0x05, 0x00]);
export const boolean = (v: boolean): Uint8Array => new Uint8Array([0x01, 0x01, v ? 0xff : 0x00]);
export const octetString = (b: Uint8Array): Uint8Array => tlv(0x04, b);
export const utf8String = (s: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(s));

/** INTEGER from unsigned big-endian magnitude bytes (leading zeros stripped, sign byte added). */
export function integer(magnitude: Uint8Array | number): Uint8Array {
  let b: number[];
  if (typeof magnitude === 'number') {
    b = [];
    for (let v = magnitude; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  } else b = Array.from(magnitude);
  while (b.length > 1 && b[0] === 0) b.shift();
  if (b.length === 0) b = [0];
  if (b[0]! & 0x80) b.unshift(0);
  return tlv(0x02, new Uint8Array(b));
}

/** BIT STRING with no unused bits. */
export const bitString = (b: Uint8Array): Uint8Array => tlv(0x03, new Uint8Array([0]), b);

/** A named-bit BIT STRING (KeyUsage), minimal encoding per X.690 §11.2.2. */
export function namedBits(bits: number[]): Uint8Array {
  const max = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(max / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  const unused = 7 - (max & 7);
  return tlv(0x03, new Uint8Array([unused]), bytes);
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always in UTC with seconds. */
export function time(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = d.getUTCFullYear();
  if (year < 2050 && year >= 1950) return tlv(0x17, new TextEncoder().encode(`${digits.slice(2)}Z`));
  return tlv(0x18, new TextEncoder().encode(`${digits}Z`));
}
