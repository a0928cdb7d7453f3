import { FormatError, isLsvmError, quoted } from '@lsvm/core';
import * as asn1js from 'asn1js';

/**
 * The glue between asn1js/pkijs and this package's contract. asn1js decodes BER and pkijs maps
 * the CMS and X.509 structures; what stays here is only what those libraries do not offer:
 *
 * - **Exact stored bytes.** Authenticode hashes the content octets of SpcIndirectDataContent
 *   without its tag and length, signatures cover the signed attributes and TBSCertificate as
 *   stored, dbx lists TBS hashes. Re-encoding (`toBER`) would change BER input (indefinite lengths,
 *   unsorted SETs) and so the hash: {@link storedBytes} and {@link contentOctets} return views of
 *   the input through asn1js' `valueBeforeDecodeView`.
 * - **Typed errors.** asn1js reports most problems in `.error` and throws plain `Error`s for a few
 *   (bad time strings); pkijs throws plain `Error`s on schema mismatches. {@link decodeBer} and
 *   {@link fromLibrary} turn all of them into {@link FormatError}s, so only `LsvmError` escapes.
 * - **Strict times.** asn1js rolls `2050-13-01` over into 2051 like `Date.UTC`; X.680 §46/§47 and
 *   OpenSSL refuse it, and so does {@link asnTime}.
 * - **DER SET OF order.** asn1js writes SET members in the order given; DER (X.690 §11.6) sorts
 *   them, and OpenSSL re-encodes signed attributes sorted before checking a signature, so
 *   {@link derSetOf} sorts.
 */

/** Bound on nesting: a hostile blob of nested constructed tags cannot exhaust the stack. */
export const MAX_ASN1_DEPTH = 64;
/** Bound on decoded elements per blob (a SignedData with 64 certificates has a few thousand). */
export const MAX_ASN1_NODES = 200_000;

/** asn1js tag classes (1-based, unlike X.690's 0-based numbering). */
export const AsnClass = { universal: 1, application: 2, context: 3, private: 4 } as const;

/** A decoded ASN.1 element (any asn1js block). */
export type Asn1Value = asn1js.AsnType;

/**
 * Runs a library call, turning any non-LsvmError it throws (pkijs schema errors, asn1js
 * conversion errors, TypeErrors on structures of the wrong shape) into a {@link FormatError}.
 */
export function fromLibrary<T>(structure: string, code: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isLsvmError(e)) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new FormatError(code, `${structure}: ${message.slice(0, 200)}`, { structure, cause: e });
  }
}

/** Throws the element's decoding error, if asn1js recorded one. */
function checkBlock(el: Asn1Value, structure: string): void {
  if (el.error) throw new FormatError('DER_MALFORMED', `${structure}: ${el.error}`, { structure });
}

/**
 * Decodes exactly one BER element from `bytes`. Trailing zero bytes are tolerated (WIN_CERTIFICATE
 * pads its PKCS#7 to 8 bytes); other trailing bytes are an error unless `allowTrailing`.
 */
export function decodeBer(bytes: Uint8Array, structure = 'DER', allowTrailing = false): Asn1Value {
  const r = fromLibrary(structure, 'DER_MALFORMED', () =>
    asn1js.fromBER(bytes, {
      maxDepth: MAX_ASN1_DEPTH,
      maxNodes: MAX_ASN1_NODES,
      maxContentLength: bytes.length,
      // OCTET STRINGs and BIT STRINGs stay opaque: what they hold is decoded where it is meant.
      parseEmbedded: false,
      // Elements stay views into the caller's bytes: nothing is copied, and an element's offset
      // in the file is its view's byteOffset.
      copyInput: false,
    }),
  );
  if (r.offset === -1) {
    const msg = r.result.error || 'malformed ASN.1';
    // Hostile shapes (nesting past 64, more elements than any real signature has) are malformed
    // input like any other, as the DER reader this replaces reported them: FormatError, so callers
    // that skip one undecodable certificate or signature keep doing so.
    const code = /node count/i.test(msg) ? 'DER_TOO_MANY' : 'DER_MALFORMED';
    throw new FormatError(code, `${structure}: ${msg}`, { structure });
  }
  checkBlock(r.result, structure);
  if (!allowTrailing) {
    for (let i = r.offset; i < bytes.length; i++) {
      if (bytes[i] !== 0)
        throw new FormatError('DER_TRAILING', 'unexpected bytes after the ASN.1 element', {
          structure,
          offset: i,
        });
    }
  }
  return r.result;
}

/** The element exactly as stored: identifier, length and contents (through an end-of-contents). */
export function storedBytes(el: Asn1Value): Uint8Array {
  return el.valueBeforeDecodeView;
}

/**
 * The contents octets of a stored element, without identifier and length (and without the
 * end-of-contents of an indefinite length): what Authenticode's messageDigest covers.
 */
export function contentOctets(el: Asn1Value): Uint8Array {
  const raw = el.valueBeforeDecodeView;
  const header = el.idBlock.blockLength + el.lenBlock.blockLength;
  const end = el.lenBlock.isIndefiniteForm ? raw.length - 2 : raw.length;
  return raw.subarray(Math.min(header, end), end);
}

/** True when `el` is a universal element with tag number `tag`. */
export function isUniversal(el: Asn1Value | undefined, tag: number): boolean {
  return el !== undefined && el.idBlock.tagClass === AsnClass.universal && el.idBlock.tagNumber === tag;
}

/** True when `el` is a context-specific `[n]` element. */
export function isContext(el: Asn1Value | undefined, n: number): boolean {
  return el !== undefined && el.idBlock.tagClass === AsnClass.context && el.idBlock.tagNumber === n;
}

/** Throws unless `el` is an instance of `type` decoded without error. */
export function expectType<T extends Asn1Value>(
  el: Asn1Value | undefined,
  type: abstract new (...args: never[]) => T,
  structure: string,
): T {
  if (el === undefined)
    throw new FormatError('DER_UNEXPECTED', `missing element (expected ${type.name})`, { structure });
  if (!(el instanceof type))
    throw new FormatError('DER_UNEXPECTED', `unexpected ${el.constructor.name} (expected ${type.name})`, {
      structure,
    });
  checkBlock(el, structure);
  return el;
}

/** The members of a constructed element (SEQUENCE, SET or `[n]` constructed). */
export function childrenOf(el: Asn1Value | undefined, structure: string, max = 1 << 16): Asn1Value[] {
  if (el === undefined) throw new FormatError('DER_UNEXPECTED', 'missing constructed element', { structure });
  checkBlock(el, structure);
  if (!el.idBlock.isConstructed || !Array.isArray((el.valueBlock as { value?: unknown }).value))
    throw new FormatError('DER_MALFORMED', 'expected a constructed element', { structure });
  const kids = (el.valueBlock as { value: Asn1Value[] }).value;
  if (kids.length > max) throw new FormatError('DER_TOO_MANY', `more than ${max} elements`, { structure });
  return kids;
}

/** Members of a SEQUENCE, checking the tag. */
export function sequenceOf(el: Asn1Value | undefined, structure: string, max?: number): Asn1Value[] {
  return childrenOf(expectType(el, asn1js.Sequence, structure), structure, max);
}

/** Dotted form of an OBJECT IDENTIFIER. */
export function oidOf(el: Asn1Value | undefined, structure = 'OID'): string {
  const o = expectType(el, asn1js.ObjectIdentifier, structure);
  const s = o.valueBlock.toString();
  if (s === '' || s.length > 200)
    throw new FormatError('DER_MALFORMED', 'bad OBJECT IDENTIFIER', { structure });
  return s;
}

/** The contents of an OCTET STRING (primitive; constructed BER strings are joined by asn1js). */
export function octetsOf(el: Asn1Value | undefined, structure: string): Uint8Array {
  const o = expectType(el, asn1js.OctetString, structure);
  return o.idBlock.isConstructed ? new Uint8Array(o.getValue()) : o.valueBlock.valueHexView;
}

/** A small non-negative INTEGER as a number. */
export function smallInteger(el: Asn1Value | undefined, structure = 'INTEGER'): number {
  const v = expectType(el, asn1js.Integer, structure).valueBlock.valueHexView;
  if (v.length === 0 || v.length > 6 || (v[0]! & 0x80) !== 0)
    throw new FormatError('DER_MALFORMED', 'INTEGER out of range', { structure });
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

/** Decodes the string types used in names and Authenticode (BMP as UTF-16BE, others as UTF-8). */
export function stringValue(el: Asn1Value): string {
  const v = (el.valueBlock as { valueHexView?: Uint8Array }).valueHexView ?? new Uint8Array(0);
  if (isUniversal(el, 30)) return utf16be(v);
  return new TextDecoder('utf-8', { fatal: false }).decode(v);
}

/** UTF-16BE bytes as a string (odd trailing byte ignored). */
export function utf16be(v: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < v.length; i += 2) s += String.fromCharCode((v[i]! << 8) | v[i + 1]!);
  return s;
}

/**
 * A UTCTime or GeneralizedTime as a Date, refusing values that are not calendar times (month 13,
 * day 32, hour 24…) instead of letting them roll over. Fractions are truncated to milliseconds.
 */
export function asnTime(el: Asn1Value | undefined, structure = 'Time'): Date {
  if (!(el instanceof asn1js.UTCTime))
    throw new FormatError('DER_UNEXPECTED', 'expected UTCTime or GeneralizedTime', { structure });
  const raw = new TextDecoder('latin1').decode(el.valueBlock.valueHexView);
  const shown = quoted(raw, 32);
  if (el.error) throw new FormatError('DER_MALFORMED', `bad time value ${shown}`, { structure });
  // RFC 5280 §4.1.2.5 and RFC 3161 §2.4.2: times are UTC, written with "Z". asn1js reads a
  // "local" time (no Z, or an offset) through the machine's time zone and gets its fields wrong,
  // so such a value would come out as a different instant on every machine: refused, as OpenSSL
  // and node's X509Certificate refuse it.
  if (!raw.endsWith('Z'))
    throw new FormatError('DER_MALFORMED', `time value ${shown} is not UTC ("Z")`, { structure });
  const ms = el instanceof asn1js.GeneralizedTime ? el.millisecond : 0;
  const { year, month, day, hour, minute, second } = el;
  const t = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  if (
    !Number.isFinite(t.getTime()) ||
    t.getUTCFullYear() !== year ||
    t.getUTCMonth() !== month - 1 ||
    t.getUTCDate() !== day ||
    t.getUTCHours() !== hour ||
    t.getUTCMinutes() !== minute ||
    t.getUTCSeconds() !== second ||
    !(ms >= 0 && ms < 1000)
  )
    throw new FormatError('DER_MALFORMED', `time value ${shown} is not a calendar time`, { structure });
  return t;
}

/** UTCTime for years 1950–2049, GeneralizedTime otherwise, as RFC 5280 §4.1.2.5 chooses. */
export function timeValue(d: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const s = new Date(Math.floor(d.getTime() / 1000) * 1000);
  const y = s.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? new asn1js.UTCTime({ valueDate: s })
    : new asn1js.GeneralizedTime({ valueDate: s });
}

/** DER of an asn1js tree. */
export function toDer(el: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(el.toBER(false));
}

/** An asn1js element for bytes that are already DER (a certificate, a Name), to embed in a tree. */
export function embed(der: Uint8Array, structure = 'DER'): Asn1Value {
  return decodeBer(der, structure);
}

/** Lexicographic byte comparison. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** SET OF with its members in DER order (X.690 §11.6: sorted by their encodings). */
export function derSetOf(items: Asn1Value[]): asn1js.Set {
  const sorted = items
    .map((v) => ({ v, der: toDer(v) }))
    .sort((a, b) => compareBytes(a.der, b.der))
    .map((x) => embed(x.der));
  return new asn1js.Set({ value: sorted });
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

/** Byte equality (not constant-time; for public data such as names and certificates). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}
