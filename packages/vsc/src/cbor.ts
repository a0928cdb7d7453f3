import { FormatError, LimitError } from '@lsvm/core';
import { Encoder } from 'cbor-x';

/**
 * The CBOR subset a catalog is written in, and its deterministic encoding.
 *
 * Writing goes through cbor-x. Its output is deterministic in the sense of RFC 8949 §4.2.1 ("core
 * deterministic encoding") only for the values we hand it, so {@link encodeCanonical} first puts
 * every value in the shape cbor-x encodes canonically: map keys sorted by their encoded bytes,
 * unsigned integers below 2^32 as numbers and at or above it as bigints (cbor-x writes bigints
 * always with an 8-byte head and numbers above 2^32 as float64, neither of which is the shortest
 * form for the other range).
 *
 * Reading does NOT go through a general CBOR decoder: {@link decodeCanonical} accepts exactly the
 * subset a catalog uses — unsigned integers, byte strings, UTF-8 text strings, definite arrays,
 * definite maps with text keys, and the self-describe tag 55799 at the top — and only in its
 * deterministic form. Any other byte string (floats, negative integers, indefinite lengths,
 * non-shortest heads, unsorted or duplicate keys, invalid UTF-8, trailing bytes) is a
 * {@link FormatError}. Lengths are checked against the bytes left before anything is allocated,
 * and nesting depth is bounded, so hostile input costs at most O(input) time and memory.
 */

/** A decoded value of the catalog subset. Maps are null-prototype records. */
export type CborValue = number | bigint | string | Uint8Array | CborValue[] | CborMap;
/** A decoded CBOR map with text keys. */
export interface CborMap {
  [key: string]: CborValue;
}

/** The self-describe tag (RFC 8949 §3.4.6) that starts a signed catalog file: bytes d9 d9 f7. */
export const SELF_DESCRIBE_TAG = 55799;

const STRUCTURE = 'catalog CBOR';
const MAX_DEPTH = 16;
const TWO_32 = 2 ** 32;

// One encoder, configured for plain RFC 8949 output: no records/structures extension, no tag for
// typed arrays, no float32 narrowing, objects written as maps of their own (insertion-ordered) keys.
// `useTag259ForMaps: false` writes a JS Map as a plain CBOR map (not tag 259); cbor-x reads the
// option at run time but its type declarations omit it.
const encoderOptions = {
  useRecords: false,
  mapsAsObjects: true,
  useTag259ForMaps: false,
  variableMapSize: true,
  tagUint8Array: false,
  useFloat32: 0,
  pack: false,
  structuredClone: false,
  largeBigIntToFloat: false,
};
const encoder = new Encoder(encoderOptions as ConstructorParameters<typeof Encoder>[0]);

/** Sort order of map keys in deterministic CBOR (§4.2.1): bytewise on the encoded key. For text
 * keys that is shorter UTF-8 first, then bytewise on the UTF-8. */
export function compareKeys(a: string, b: string): number {
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  if (ea.length !== eb.length) return ea.length - eb.length;
  for (let i = 0; i < ea.length; i++) if (ea[i] !== eb[i]) return ea[i]! - eb[i]!;
  return 0;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function prepare(v: CborValue): unknown {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new FormatError('CBOR_BAD_NUMBER', `cannot encode ${v}: only unsigned integers`);
    return v >= TWO_32 ? BigInt(v) : v;
  }
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 64n) throw new FormatError('CBOR_BAD_NUMBER', `cannot encode ${v}: not a u64`);
    return v >= BigInt(TWO_32) ? v : Number(v);
  }
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(prepare);
  // A Map, not an object: objects iterate integer-like keys ("0", "1") first, whatever the
  // insertion order, which would break the deterministic order.
  const out = new Map<string, unknown>();
  for (const k of Object.keys(v).sort(compareKeys)) out.set(k, prepare(v[k]!));
  return out;
}

/** Encodes `value` in deterministic CBOR. The result is a fresh buffer owned by the caller. */
export function encodeCanonical(value: CborValue, options: { selfDescribe?: boolean } = {}): Uint8Array {
  const body: Uint8Array = encoder.encode(prepare(value));
  // cbor-x may hand back a view of its reusable buffer: copy before the next call overwrites it.
  const prefix = options.selfDescribe ? 3 : 0;
  const out = new Uint8Array(prefix + body.length);
  if (prefix) out.set([0xd9, 0xd9, 0xf7]);
  out.set(body, prefix);
  return out;
}

/** Options of {@link decodeCanonical}. */
export interface DecodeOptions {
  /** Expect (and require) the self-describe tag 55799 in front of the value. */
  selfDescribe?: boolean;
  /** Largest number of items in one array or map. */
  maxItems?: number;
  /** Name of the structure for error messages. */
  structure?: string;
}

/**
 * Decodes one value of the catalog subset in deterministic CBOR, rejecting anything else (see the
 * file comment). The returned byte strings are views into `bytes`.
 */
export function decodeCanonical(bytes: Uint8Array, options: DecodeOptions = {}): CborValue {
  const d = new Decoder(bytes, options.maxItems ?? 1 << 20, options.structure ?? STRUCTURE);
  if (options.selfDescribe) {
    const { major, arg } = d.head();
    if (major !== 6 || arg !== SELF_DESCRIBE_TAG)
      d.fail('CBOR_NO_TAG', 'missing the self-describe tag 55799', 0);
  }
  const v = d.value(0);
  if (d.pos !== bytes.length) d.fail('CBOR_TRAILING', `${bytes.length - d.pos} bytes after the value`, d.pos);
  return v;
}

class Decoder {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly maxItems: number,
    readonly structure: string,
  ) {}

  fail(code: string, message: string, offset: number): never {
    throw new FormatError(code, message, { structure: this.structure, offset });
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) this.fail('TRUNCATED', 'input ends inside a CBOR item', this.pos);
    return this.bytes[this.pos++]!;
  }

  /** Reads an item head; returns the major type and its argument (number, or bigint above 2^53). */
  head(): { major: number; arg: number | bigint; at: number } {
    const at = this.pos;
    const ib = this.byte();
    const major = ib >> 5;
    const info = ib & 0x1f;
    let arg: number | bigint;
    if (info < 24) arg = info;
    else if (info === 24) {
      arg = this.byte();
      if (arg < 24) this.fail('CBOR_NOT_SHORTEST', 'integer head is not in its shortest form', at);
    } else if (info === 25) {
      arg = (this.byte() << 8) | this.byte();
      if (arg < 0x100) this.fail('CBOR_NOT_SHORTEST', 'integer head is not in its shortest form', at);
    } else if (info === 26) {
      arg = ((this.byte() << 24) >>> 0) + ((this.byte() << 16) | (this.byte() << 8) | this.byte());
      if (arg < 0x10000) this.fail('CBOR_NOT_SHORTEST', 'integer head is not in its shortest form', at);
    } else if (info === 27) {
      let big = 0n;
      for (let i = 0; i < 8; i++) big = (big << 8n) | BigInt(this.byte());
      if (big < BigInt(TWO_32))
        this.fail('CBOR_NOT_SHORTEST', 'integer head is not in its shortest form', at);
      arg = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    } else if (info === 31) {
      this.fail('CBOR_INDEFINITE', 'indefinite-length items are not deterministic CBOR', at);
    } else {
      this.fail('CBOR_RESERVED', `reserved additional information ${info}`, at);
    }
    return { major, arg, at };
  }

  /** A length argument that must fit in what is left of the input (`unit` bytes per element at least). */
  private length(arg: number | bigint, unit: number, at: number, what: string): number {
    const left = this.bytes.length - this.pos;
    if (typeof arg === 'bigint' || arg * unit > left) {
      this.fail('TRUNCATED', `${what} of ${arg.toString()} declared with ${left} bytes left`, at);
    }
    return arg;
  }

  value(depth: number): CborValue {
    if (depth > MAX_DEPTH) this.fail('CBOR_TOO_DEEP', `nesting deeper than ${MAX_DEPTH}`, this.pos);
    const { major, arg, at } = this.head();
    switch (major) {
      case 0:
        return arg;
      case 2: {
        const n = this.length(arg, 1, at, 'byte string');
        const v = this.bytes.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case 3: {
        const n = this.length(arg, 1, at, 'text string');
        const raw = this.bytes.subarray(this.pos, this.pos + n);
        this.pos += n;
        try {
          return utf8Strict.decode(raw);
        } catch {
          return this.fail('CBOR_BAD_UTF8', 'text string is not valid UTF-8', at);
        }
      }
      case 4: {
        const n = this.length(arg, 1, at, 'array');
        if (n > this.maxItems)
          throw new LimitError(
            'CBOR_TOO_MANY_ITEMS',
            `array of ${n} items exceeds the limit of ${this.maxItems}`,
            { structure: this.structure, offset: at },
          );
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(arg, 2, at, 'map');
        if (n > this.maxItems)
          throw new LimitError(
            'CBOR_TOO_MANY_ITEMS',
            `map of ${n} entries exceeds the limit of ${this.maxItems}`,
            { structure: this.structure, offset: at },
          );
        const out: CborMap = Object.create(null) as CborMap;
        let prev: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyAt = this.pos;
          const key = this.value(depth + 1);
          if (typeof key !== 'string') this.fail('CBOR_KEY_TYPE', 'map keys must be text strings', keyAt);
          const encodedKey = this.bytes.subarray(keyAt, this.pos);
          if (prev !== undefined) {
            const c = compareBytes(prev, encodedKey);
            if (c === 0) this.fail('CBOR_DUPLICATE_KEY', `duplicate map key ${JSON.stringify(key)}`, keyAt);
            if (c > 0)
              this.fail(
                'CBOR_KEY_ORDER',
                `map key ${JSON.stringify(key)} is out of deterministic order`,
                keyAt,
              );
          }
          prev = encodedKey;
          out[key] = this.value(depth + 1);
        }
        return out;
      }
      default:
        return this.fail('CBOR_UNSUPPORTED_TYPE', `CBOR major type ${major} is not used by catalogs`, at);
    }
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
