import { ByteReader, ByteWriter, FormatError, type LsvmErrorOptions } from '@lsvm/core';

/**
 * The marshalling core: a codec is a pair of functions that write a value to a big-endian
 * {@link ByteWriter} and read it back from a big-endian {@link ByteReader}. Structures are
 * built from a handful of combinators (integers, sized buffers, structs, lists with count
 * limits) and a few hand-written unions. Reads are as strict as the TCG reference
 * implementation's generated unmarshallers (Part 4, `Marshal.c`): a size over the type's
 * maximum, a bad union selector or a value outside a TPMI set is a {@link FormatError} naming the
 * structure and the offset.
 */
export interface Codec<T> {
  /** The spec name of the type, e.g. `TPM2B_PUBLIC`. Used in error messages. */
  readonly name: string;
  /** Appends the canonical encoding of `v`. */
  write(w: ByteWriter, v: T): void;
  /** Reads one value at the cursor. */
  read(r: ByteReader): T;
}

/** A new big-endian reader over `bytes`, as every TPM structure is big-endian (Part 1 §18.2). */
export function tpmReader(bytes: Uint8Array, structure = 'TPM structure'): ByteReader {
  return new ByteReader(bytes, { endian: 'be', structure });
}

/** A new growable big-endian writer. */
export function tpmWriter(size = 256): ByteWriter {
  return new ByteWriter(size, { endian: 'be' });
}

/** Throws the format error every strict check uses. */
export function bad(code: string, message: string, r: ByteReader, at: number, structure?: string): never {
  const o: LsvmErrorOptions = { structure: structure ?? r.structure, offset: r.base + at };
  throw new FormatError(code, message, o);
}

/** Runs `f` with the reader's structure name set to `name`, restoring it after (error context). */
export function within<T>(r: ByteReader, name: string, f: () => T): T {
  const save = r.structure;
  r.structure = name;
  try {
    return f();
  } finally {
    r.structure = save;
  }
}

/** Marshals one value into a fresh byte array. */
export function marshal<T>(codec: Codec<T>, v: T): Uint8Array {
  const w = tpmWriter();
  codec.write(w, v);
  return w.finish().slice();
}

/**
 * Unmarshals one value that must fill `bytes` exactly (a trailing byte is an error, as a file
 * or a TPM2B's payload holds exactly one structure).
 */
export function unmarshal<T>(codec: Codec<T>, bytes: Uint8Array): T {
  const r = tpmReader(bytes, codec.name);
  const v = within(r, codec.name, () => codec.read(r));
  if (r.remaining !== 0)
    bad('TPM2_TRAILING_BYTES', `${r.remaining} bytes follow the ${codec.name}`, r, r.pos, codec.name);
  return v;
}

/** Unsigned integer codecs. */
export const u8: Codec<number> = {
  name: 'UINT8',
  write: (w, v) => void w.u8(v),
  read: (r) => r.u8(),
};
export const u16: Codec<number> = {
  name: 'UINT16',
  write: (w, v) => void w.u16(v),
  read: (r) => r.u16(),
};
export const u32: Codec<number> = {
  name: 'UINT32',
  write: (w, v) => void w.u32(v),
  read: (r) => r.u32(),
};
export const u64: Codec<bigint> = {
  name: 'UINT64',
  write: (w, v) => void w.u64(v),
  read: (r) => r.u64(),
};

/**
 * A TPMI-style restricted value: the base integer codec, checked against `allowed` on read (and
 * on write, so we never emit what we would refuse). `TPM2_BAD_VALUE` names the type.
 */
export function restricted(name: string, base: Codec<number>, allowed: ReadonlySet<number>): Codec<number> {
  return {
    name,
    write(w, v) {
      if (!allowed.has(v)) throw new FormatError('TPM2_BAD_VALUE', `${hex(v)} is not a valid ${name}`);
      base.write(w, v);
    },
    read(r) {
      const at = r.pos;
      const v = base.read(r);
      if (!allowed.has(v)) bad('TPM2_BAD_VALUE', `${hex(v)} is not a valid ${name}`, r, at, name);
      return v;
    },
  };
}

/**
 * A TPM2B sized byte buffer: u16 size then that many bytes, at most `max` (the union size of
 * Part 2's `sizeof(TPMU_…)`). Reading copies, so the result never aliases the input.
 */
export function tpm2b(name: string, max: number): Codec<Uint8Array> {
  return {
    name,
    write(w, v) {
      if (v.length > max)
        throw new FormatError('TPM2_SIZE', `${name} of ${v.length} bytes exceeds its maximum of ${max}`);
      w.u16(v.length).bytes(v);
    },
    read(r) {
      const at = r.pos;
      const n = r.u16();
      if (n > max) bad('TPM2_SIZE', `${name} size ${n} exceeds its maximum of ${max}`, r, at, name);
      if (n > r.remaining)
        bad('TPM2_SIZE', `${name} size ${n} exceeds the ${r.remaining} bytes left`, r, at, name);
      return r.bytesCopy(n, name);
    },
  };
}

/**
 * A TPM2B wrapping a structure (TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE…): the u16 size must equal
 * the inner structure's marshalled length exactly, and a zero size is refused unless `allowEmpty`
 * (Part 4: the generated code returns TPM_RC_SIZE for both).
 */
export function sized<T>(name: string, inner: Codec<T>, allowEmpty = false): Codec<T | undefined> {
  return {
    name,
    write(w, v) {
      if (v === undefined) {
        if (!allowEmpty) throw new FormatError('TPM2_SIZE', `${name} may not be empty`);
        w.u16(0);
        return;
      }
      const body = marshal(inner, v);
      if (body.length > 0xffff) throw new FormatError('TPM2_SIZE', `${name} body too large`);
      w.u16(body.length).bytes(body);
    },
    read(r) {
      const at = r.pos;
      const n = r.u16();
      if (n === 0) {
        if (allowEmpty) return undefined;
        bad('TPM2_SIZE', `${name} has size zero`, r, at, name);
      }
      if (n > r.remaining)
        bad('TPM2_SIZE', `${name} size ${n} exceeds the ${r.remaining} bytes left`, r, at, name);
      const end = r.pos + n;
      const v = within(r, inner.name, () => inner.read(r));
      if (r.pos !== end)
        bad('TPM2_SIZE', `${name} size ${n} does not match its ${r.pos - at - 2}-byte contents`, r, at, name);
      return v;
    },
  };
}

/**
 * A TPML list: u32 count, then that many elements, at most `max` (the spec's `MAX_…` bound,
 * e.g. HASH_COUNT for TPML_PCR_SELECTION) — a larger count is TPM2_SIZE before any allocation.
 */
export function list<T>(name: string, elem: Codec<T>, max: number): Codec<T[]> {
  return {
    name,
    write(w, v) {
      if (v.length > max)
        throw new FormatError('TPM2_SIZE', `${name} of ${v.length} entries exceeds its maximum of ${max}`);
      w.u32(v.length);
      for (const e of v) elem.write(w, e);
    },
    read(r) {
      const at = r.pos;
      const n = r.u32();
      if (n > max) bad('TPM2_SIZE', `${name} count ${n} exceeds its maximum of ${max}`, r, at, name);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(within(r, elem.name, () => elem.read(r)));
      return out;
    },
  };
}

/** Field list of a {@link struct}: `[key, codec]` pairs, in wire order. */
export type Fields<T> = { [K in keyof T]: readonly [K, Codec<T[K]>] }[keyof T][];

/** A plain structure: its fields one after the other. */
export function struct<T extends object>(name: string, fields: Fields<T>): Codec<T> {
  return {
    name,
    write(w, v) {
      for (const [k, c] of fields) (c as Codec<unknown>).write(w, v[k]);
    },
    read(r) {
      return within(r, name, () => {
        const out: Partial<T> = {};
        for (const [k, c] of fields) out[k] = (c as Codec<T[typeof k]>).read(r);
        return out as T;
      });
    },
  };
}

/** `0x000b` style hex of a 16- or 32-bit value. */
export function hex(v: number, width = 4): string {
  return `0x${(v >>> 0).toString(16).padStart(width, '0')}`;
}
