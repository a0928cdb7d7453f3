import { UsageError } from './errors.js';
import type { Endianness } from './byte-reader.js';

/**
 * A growable (or fixed-size) output cursor. Writers produce canonical bytes; a value that does not
 * fit its field is a programming error ({@link UsageError}), not silent truncation.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private readonly fixed: boolean;
  private readonly little: boolean;
  /** Current position. */
  pos = 0;
  /** Highest position written so far (the length of {@link ByteWriter.finish}'s result). */
  private end = 0;

  /**
   * @param sizeOrBuffer initial capacity (grows on demand) or a buffer to fill in place (fixed size)
   */
  constructor(sizeOrBuffer: number | Uint8Array = 256, options: { endian?: Endianness } = {}) {
    if (typeof sizeOrBuffer === 'number') {
      this.buf = new Uint8Array(Math.max(16, sizeOrBuffer));
      this.fixed = false;
    } else {
      this.buf = sizeOrBuffer;
      this.fixed = true;
    }
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.little = (options.endian ?? 'le') === 'le';
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    if (this.fixed)
      throw new UsageError(
        'WRITE_OVERFLOW',
        `write of ${n} bytes at ${this.pos} overflows a ${this.buf.length}-byte buffer`,
      );
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private advance(n: number): void {
    this.pos += n;
    if (this.pos > this.end) this.end = this.pos;
  }

  seek(pos: number): this {
    if (!Number.isInteger(pos) || pos < 0) throw new UsageError('BAD_OFFSET', `bad seek position ${pos}`);
    if (pos > this.buf.length) {
      const save = this.pos;
      this.pos = 0;
      this.ensure(pos);
      this.pos = save;
    }
    this.pos = pos;
    if (pos > this.end) this.end = pos;
    return this;
  }

  u8(v: number): this {
    checkUint(v, 0xff, 'u8');
    this.ensure(1);
    this.buf[this.pos] = v;
    this.advance(1);
    return this;
  }

  u16(v: number): this {
    checkUint(v, 0xffff, 'u16');
    this.ensure(2);
    this.view.setUint16(this.pos, v, this.little);
    this.advance(2);
    return this;
  }

  u32(v: number): this {
    checkUint(v, 0xffffffff, 'u32');
    this.ensure(4);
    this.view.setUint32(this.pos, v, this.little);
    this.advance(4);
    return this;
  }

  u64(v: bigint | number): this {
    const b = typeof v === 'bigint' ? v : BigInt(v);
    if (b < 0n || b > 0xffffffffffffffffn) throw new UsageError('VALUE_RANGE', `u64 value ${b} out of range`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, b, this.little);
    this.advance(8);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.advance(b.length);
    return this;
  }

  /** Writes `n` zero bytes. */
  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.advance(n);
    return this;
  }

  /** Pads with zeros up to a multiple of `alignment`. */
  align(alignment: number): this {
    const r = this.pos % alignment;
    return r === 0 ? this : this.zeros(alignment - r);
  }

  /** The bytes written (a view for a fixed buffer, a trimmed view of the growable one). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.fixed ? this.buf.length : this.end);
  }
}

function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new UsageError('VALUE_RANGE', `${what} value ${v} out of range`);
}
