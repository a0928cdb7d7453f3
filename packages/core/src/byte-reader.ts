import { FormatError } from './errors.js';

/** Byte order of a multi-byte field. TPM and LUKS are big-endian; the Microsoft formats little-endian. */
export type Endianness = 'le' | 'be';

/**
 * A bounds-checked cursor over a `Uint8Array`. Every read past the end throws a
 * {@link FormatError} with code `TRUNCATED`, the structure name and the offset, never a
 * `RangeError`. u64 fields come back as `bigint` ({@link ByteReader.u64}) or, through
 * {@link ByteReader.u64Number}, as a number after a single safe-integer check.
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Current position, relative to the start of `bytes`. */
  pos: number;
  /** Name used in error messages. */
  structure: string;
  /** Offset of `bytes[0]` within the enclosing input, added to reported offsets. */
  readonly base: number;
  private readonly little: boolean;

  constructor(
    bytes: Uint8Array,
    options: { endian?: Endianness; structure?: string; offset?: number; base?: number } = {},
  ) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = options.offset ?? 0;
    this.structure = options.structure ?? 'input';
    this.base = options.base ?? 0;
    this.little = (options.endian ?? 'le') === 'le';
  }

  /** Bytes left after the cursor. */
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Throws unless `n` more bytes are available at the cursor. */
  need(n: number, what = 'field'): void {
    if (!Number.isInteger(n) || n < 0 || this.pos + n > this.bytes.length) {
      throw new FormatError(
        'TRUNCATED',
        `${what} needs ${n} bytes but only ${Math.max(0, this.remaining)} remain`,
        {
          structure: this.structure,
          offset: this.base + this.pos,
        },
      );
    }
  }

  seek(pos: number): this {
    if (!Number.isInteger(pos) || pos < 0 || pos > this.bytes.length) {
      throw new FormatError('TRUNCATED', `offset ${pos} is outside the ${this.bytes.length}-byte buffer`, {
        structure: this.structure,
        offset: this.base + pos,
      });
    }
    this.pos = pos;
    return this;
  }

  skip(n: number): this {
    this.need(n);
    this.pos += n;
    return this;
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, this.little);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, this.little);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, this.little);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, this.little);
    this.pos += 8;
    return v;
  }

  /** Reads a u64 and checks once that it fits a safe JS integer (the edge check DESIGN.md asks for). */
  u64Number(what = 'u64 field'): number {
    const at = this.pos;
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FormatError('INTEGER_TOO_LARGE', `${what} ${v} exceeds 2^53 - 1`, {
        structure: this.structure,
        offset: this.base + at,
      });
    }
    return Number(v);
  }

  /** A subarray view (no copy) of the next `n` bytes. */
  bytesView(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A copy of the next `n` bytes. */
  bytesCopy(n: number, what = 'bytes'): Uint8Array {
    return this.bytesView(n, what).slice();
  }

  /** Endianness-explicit reads at an absolute position, not moving the cursor. */
  u16At(pos: number): number {
    return this.at(pos, 2, () => this.view.getUint16(pos, this.little));
  }
  u32At(pos: number): number {
    return this.at(pos, 4, () => this.view.getUint32(pos, this.little));
  }
  u64At(pos: number): bigint {
    return this.at(pos, 8, () => this.view.getBigUint64(pos, this.little));
  }

  private at<T>(pos: number, n: number, f: () => T): T {
    if (!Number.isInteger(pos) || pos < 0 || pos + n > this.bytes.length) {
      throw new FormatError(
        'TRUNCATED',
        `${n}-byte field at ${pos} is outside the ${this.bytes.length}-byte buffer`,
        {
          structure: this.structure,
          offset: this.base + pos,
        },
      );
    }
    return f();
  }
}
