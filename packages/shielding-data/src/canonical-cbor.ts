import { FormatError, LimitError } from '@lsvm/core';
import { Encoder } from 'cbor-x';

/**
 * Canonical CBOR for the lsvm containers (key protector, PDK, FSK). The data model is a strict
 * subset of CBOR (RFC 8949): maps with text keys, arrays, unsigned integers below 2^32, text
 * strings, byte strings, `true`/`false`. No floats, tags, negative numbers, indefinite lengths or
 * `null`. Encoding follows the core deterministic rules of RFC 8949 §4.2.1: shortest argument
 * form, definite lengths, map keys sorted by the bytewise order of their encodings (for text keys:
 * shorter first, then byte order).
 *
 * A decoder accepts a byte string only if re-encoding the decoded value gives the same bytes, so
 * every accepted file has exactly one encoding and signatures over encodings are unambiguous.
 */

/** A value of the canonical subset. */
export type CborValue = number | string | boolean | Uint8Array | CborValue[] | { [key: string]: CborValue };

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
  pack: false,
  structuredClone: false,
  bundleStrings: false,
} as ConstructorParameters<typeof Encoder>[0]);

const utf8 = new TextEncoder();

/** Sort order of RFC 8949 §4.2.1 for text keys: encoded length first, then bytewise. */
function compareKeys(a: string, b: string): number {
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  if (ea.length !== eb.length) return ea.length - eb.length;
  for (let i = 0; i < ea.length; i++) if (ea[i] !== eb[i]) return ea[i]! - eb[i]!;
  return 0;
}

/** Rebuilds `v` with sorted keys and checks it stays inside the subset. */
function normalize(v: CborValue, depth: number): unknown {
  if (depth > 32) throw new FormatError('CBOR_TOO_DEEP', 'CBOR value nests deeper than 32 levels');
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new FormatError('CBOR_BAD_INTEGER', `integer ${v} is outside 0..2^32-1`);
    return v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) {
    // cbor-x writes a Buffer/Uint8Array as a plain byte string; normalise the subclass away.
    return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  if (Array.isArray(v)) return v.map((x) => normalize(x, depth + 1));
  if (typeof v === 'object' && v !== null) {
    // A null-prototype object keeps insertion (sorted) order and treats `__proto__` as a plain key.
    // (A Map would make cbor-x add tag 259.)
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v).sort(compareKeys)) {
      const x = v[k];
      if (x === undefined) continue;
      out[k] = normalize(x, depth + 1);
    }
    return out;
  }
  throw new FormatError('CBOR_BAD_TYPE', `value of type ${typeof v} is outside the canonical subset`);
}

/** Encodes `value` canonically. */
export function encodeCanonical(value: CborValue): Uint8Array {
  const b = encoder.encode(normalize(value, 0));
  // cbor-x returns a view of a buffer it reuses for the next encode: copy it out.
  return new Uint8Array(b);
}

/**
 * Decodes canonical CBOR. Throws {@link FormatError} `CBOR_MALFORMED` for bytes that are not CBOR,
 * `CBOR_NOT_CANONICAL` for CBOR that is valid but not in its one canonical form (or outside the
 * subset), and {@link LimitError} `CBOR_TOO_LARGE` above `maxBytes`.
 */
export function decodeCanonical(bytes: Uint8Array, structure: string, maxBytes: number): CborValue {
  if (bytes.length > maxBytes)
    throw new LimitError(
      'CBOR_TOO_LARGE',
      `${structure} of ${bytes.length} bytes exceeds the limit of ${maxBytes}`,
      {
        structure,
      },
    );
  let value: unknown;
  try {
    // A fresh view: cbor-x caches a `dataView` property on the object it decodes from.
    value = encoder.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new FormatError('CBOR_MALFORMED', 'not well-formed CBOR', { structure, cause: e });
  }
  let subset: CborValue;
  let again: Uint8Array;
  try {
    subset = toSubset(value, 0);
    again = encodeCanonical(subset);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(e.code, e.message, { structure, cause: e });
    throw new FormatError('CBOR_NOT_CANONICAL', 'CBOR value is outside the canonical subset', {
      structure,
      cause: e,
    });
  }
  if (again.length !== bytes.length || !again.every((x, i) => x === bytes[i]))
    throw new FormatError('CBOR_NOT_CANONICAL', 'CBOR is not in canonical form', { structure });
  return subset;
}

/** Maps what cbor-x returned onto {@link CborValue}, rejecting anything else. */
function toSubset(v: unknown, depth: number): CborValue {
  if (depth > 32) throw new FormatError('CBOR_TOO_DEEP', 'CBOR value nests deeper than 32 levels');
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map((x) => toSubset(x, depth + 1));
  if (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, CborValue> = Object.create(null) as Record<string, CborValue>;
    for (const k of Object.keys(v)) out[k] = toSubset((v as Record<string, unknown>)[k], depth + 1);
    return out;
  }
  throw new FormatError('CBOR_BAD_TYPE', 'CBOR item type is outside the canonical subset');
}
