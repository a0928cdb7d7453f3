import { FormatError, LimitError } from '@lsvm/core';

/**
 * A strict JSON reader and a compact writer for the LUKS2 metadata area.
 *
 * Why not `JSON.parse`: it turns `1e3`, `1000` and `1000.0` into the same double, and silently
 * keeps the last of duplicate keys. cryptsetup (json-c) distinguishes integers from doubles and
 * rejects a double where it expects an integer, so a validator built on `JSON.parse` would accept
 * headers cryptsetup refuses — a parser differential. This reader keeps every number as its exact
 * lexeme ({@link JsonNumber}), so the validator can demand a JSON integer as written.
 *
 * Differences from json-c, all deliberate and listed in `packages/luks2/SECURITY.md`: duplicate
 * keys are an error (json-c keeps the last), nesting depth is capped, a byte-order mark or
 * comments are errors (json-c accepts `/* *\/` comments in its default mode), and invalid UTF-8 is
 * an error.
 */

/** A JSON number kept as its source text, e.g. `4000`, `-1`, `1e3`, `32.0`. */
export class JsonNumber {
  constructor(readonly lexeme: string) {}
  /** True when written as an integer (no fraction, no exponent). */
  get isInteger(): boolean {
    return /^-?(0|[1-9][0-9]*)$/.test(this.lexeme);
  }
  /** The numeric value (may lose precision for huge lexemes; use {@link JsonNumber.lexeme} for exactness). */
  get value(): number {
    return Number(this.lexeme);
  }
  /** Builds an integer number from a safe integer. */
  static of(n: number): JsonNumber {
    if (!Number.isSafeInteger(n)) throw new RangeError(`not a safe integer: ${n}`);
    return new JsonNumber(String(n));
  }
}

/** A JSON object: a null-prototype record, so keys such as `__proto__` are plain keys. */
export type JsonObject = { [key: string]: JsonValue };
/** Any JSON value as this module represents it. */
export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** Limits of {@link parseJson}. */
export interface JsonParseLimits {
  /** Maximum nesting of arrays and objects (default 64; LUKS2 metadata needs 4). */
  maxDepth: number;
}

const DEFAULT_JSON_LIMITS: JsonParseLimits = { maxDepth: 64 };

/** True for a value produced by {@link parseJson} as an object. */
export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !(v instanceof JsonNumber) && !Array.isArray(v);
}

/** A new empty JSON object (null prototype). */
export function jsonObject(entries?: Record<string, JsonValue>): JsonObject {
  const o = Object.create(null) as JsonObject;
  if (entries) for (const [k, v] of Object.entries(entries)) o[k] = v;
  return o;
}

/**
 * Parses UTF-8 JSON text strictly (RFC 8259). Whitespace may surround the single top-level value.
 * @throws FormatError `LUKS2_JSON_SYNTAX` naming the byte offset; LimitError `LUKS2_JSON_DEPTH`.
 */
export function parseJson(text: Uint8Array, limits: Partial<JsonParseLimits> = {}): JsonValue {
  const lim = { ...DEFAULT_JSON_LIMITS, ...limits };
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(text);
  } catch (e) {
    throw new FormatError('LUKS2_JSON_UTF8', 'JSON metadata is not valid UTF-8', {
      structure: 'LUKS2 JSON area',
      cause: e,
    });
  }
  const p = new Parser(s, lim.maxDepth);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i !== s.length) p.fail('unexpected data after the JSON value');
  return v;
}

class Parser {
  i = 0;
  constructor(
    readonly s: string,
    readonly maxDepth: number,
  ) {}

  fail(msg: string): never {
    throw new FormatError('LUKS2_JSON_SYNTAX', `invalid JSON metadata: ${msg}`, {
      structure: 'LUKS2 JSON area',
      offset: this.i,
    });
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(
          c === undefined ? 'unexpected end of text' : `unexpected character ${JSON.stringify(c)}`,
        );
    }
  }

  literal<T extends JsonValue>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.fail('invalid literal');
  }

  number(): JsonNumber {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m || m[0].length === 0 || m[0] === '-') this.fail('invalid number');
    if (m[0].length >= 400) this.fail('number too long');
    this.i += m[0].length;
    return new JsonNumber(m[0]);
  }

  string(): string {
    const s = this.s;
    this.i++; // opening quote
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === 0x5c) {
        out += s.slice(start, this.i);
        const e = s[this.i + 1];
        this.i += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const h = s.slice(this.i, this.i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
            out += String.fromCharCode(Number.parseInt(h, 16));
            this.i += 4;
            break;
          }
          default:
            this.i -= 2;
            this.fail('invalid escape');
        }
        start = this.i;
        continue;
      }
      this.i++;
    }
  }

  array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.tooDeep();
    this.i++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return out;
      }
      this.fail("expected ',' or ']'");
    }
  }

  object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.tooDeep();
    this.i++;
    const out = jsonObject();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a string key');
      const keyAt = this.i;
      const k = this.string();
      if (Object.hasOwn(out, k)) {
        this.i = keyAt;
        this.fail(`duplicate key ${JSON.stringify(k)}`);
      }
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      this.ws();
      out[k] = this.value(depth);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return out;
      }
      this.fail("expected ',' or '}'");
    }
  }

  tooDeep(): never {
    throw new LimitError('LUKS2_JSON_DEPTH', `JSON nesting deeper than ${this.maxDepth}`, {
      structure: 'LUKS2 JSON area',
      offset: this.i,
    });
  }
}

/**
 * Serialises compactly, the way cryptsetup writes its metadata (json-c "plain" output with
 * slashes not escaped): no whitespace, keys in insertion order, numbers as their lexemes.
 */
export function stringifyJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return quote(v);
  if (v instanceof JsonNumber) return v.lexeme;
  if (Array.isArray(v)) return `[${v.map(stringifyJson).join(',')}]`;
  if (typeof v !== 'object')
    throw new FormatError('LUKS2_JSON_VALUE', `${typeof v} is not a JSON value here`);
  const parts: string[] = [];
  for (const k of Object.keys(v)) parts.push(`${quote(k)}:${stringifyJson(v[k]!)}`);
  return `{${parts.join(',')}}`;
}

function quote(s: string): string {
  // JSON.stringify escapes exactly what RFC 8259 requires and leaves '/' alone, like json-c with
  // JSON_C_TO_STRING_NOSLASHESCAPE; lone surrogates come out as \uXXXX (well-formed stringify).
  return JSON.stringify(s);
}

/** Deep copy of a JSON value (objects keep their null prototype). */
export function cloneJson<T extends JsonValue>(v: T): T {
  if (v === null || typeof v !== 'object' || v instanceof JsonNumber) return v;
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  const o = jsonObject();
  for (const k of Object.keys(v)) o[k] = cloneJson(v[k]!);
  return o as T;
}

/**
 * Converts an ordinary JS value (from `JSON.parse` or a literal) into a {@link JsonValue}.
 * Numbers must be safe integers — LUKS2 metadata holds no other kind.
 * @throws FormatError `LUKS2_JSON_VALUE` for anything else.
 */
export function toJsonValue(v: unknown, path = '$'): JsonValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof JsonNumber) return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v))
      throw new FormatError('LUKS2_JSON_VALUE', `${path}: only integer numbers are allowed`);
    return JsonNumber.of(v);
  }
  if (Array.isArray(v)) return v.map((x, i) => toJsonValue(x, `${path}[${i}]`));
  if (typeof v === 'object') {
    const o = jsonObject();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = toJsonValue(x, `${path}.${k}`);
    return o;
  }
  throw new FormatError('LUKS2_JSON_VALUE', `${path}: ${typeof v} is not a JSON value`);
}

/** Converts a {@link JsonValue} to plain JS (numbers as JS numbers when integral and safe, else strings). */
export function fromJsonValue(v: JsonValue): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof JsonNumber) {
    const n = Number(v.lexeme);
    return v.isInteger && Number.isSafeInteger(n) ? n : v.lexeme;
  }
  if (Array.isArray(v)) return v.map(fromJsonValue);
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    // defineProperty: a `__proto__` key stays a key.
    Object.defineProperty(o, k, {
      value: fromJsonValue(v[k]!),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return o;
}
