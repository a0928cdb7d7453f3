/**
 * Mutations for the corpus-and-mutation fuzz runner: bit flips, byte and word overwrites with
 * interesting integers, inserts, deletes, duplication, splices between corpus files, and
 * length-field-aware mutations where a target exports hints. Deterministic from a seed so every
 * failure can be replayed.
 */

/** A length/count field a target declares, so mutations can aim at it. */
export interface FieldHint {
  offset: number;
  size: 1 | 2 | 4 | 8;
  endian: 'le' | 'be';
}

/** Optional `export const fuzzHints` of a target module. */
export interface FuzzHints {
  fields?: FieldHint[];
  /** Upper bound of input length the mutator produces (default: 1.25 × the largest seed, ≥ 4 KiB). */
  maxLength?: number;
}

/** xorshift128+ — small, fast, seedable; quality is plenty for choosing mutations. */
export class Rng {
  private s0: bigint;
  private s1: bigint;
  constructor(seed: number) {
    this.s0 = BigInt(seed >>> 0) * 0x9e3779b97f4a7c15n + 1n;
    this.s1 = (BigInt(seed >>> 0) ^ 0xdeadbeefn) * 0xbf58476d1ce4e5b9n + 7n;
    for (let i = 0; i < 8; i++) this.next32();
  }
  next32(): number {
    const M = (1n << 64n) - 1n;
    let x = this.s0;
    const y = this.s1;
    this.s0 = y;
    x ^= (x << 23n) & M;
    this.s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number((this.s1 + y) & 0xffffffffn);
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    if (n <= 1) return 0;
    return this.next32() % n;
  }
  chance(p: number): boolean {
    return this.next32() / 0x100000000 < p;
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x64];
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xffff, 0x100, 0x200, 0x1000, 0x4000];
const INTERESTING_32 = [
  0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 0x1000000, 0x40000000, 4096, 65536,
];
const INTERESTING_64 = [
  0n,
  1n,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffffffffffn,
  0x20000000000000n, // 2^53
  0x100000000n,
  0x1000000000n,
];

function writeInt(b: Uint8Array, off: number, size: number, v: bigint, le: boolean): void {
  for (let i = 0; i < size; i++) {
    const byte = Number((v >> BigInt(8 * i)) & 0xffn);
    b[off + (le ? i : size - 1 - i)] = byte;
  }
}

function readInt(b: Uint8Array, off: number, size: number, le: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < size; i++) v |= BigInt(b[off + (le ? i : size - 1 - i)]!) << BigInt(8 * i);
  return v;
}

/** Produces one mutated input from `base`, possibly using `others` for splices. */
export function mutate(
  base: Uint8Array,
  others: Uint8Array[],
  rng: Rng,
  hints: FuzzHints,
  maxLength: number,
): Uint8Array {
  let b: Uint8Array = base.slice();
  const rounds = 1 + rng.below(4);
  for (let r = 0; r < rounds; r++) b = mutateOnce(b, others, rng, hints, maxLength);
  return b.length > maxLength ? b.subarray(0, maxLength) : b;
}

function mutateOnce(
  b: Uint8Array,
  others: Uint8Array[],
  rng: Rng,
  hints: FuzzHints,
  maxLength: number,
): Uint8Array {
  const n = b.length;
  const op = rng.below(12);
  if (n === 0 && op < 9) return Uint8Array.from({ length: 1 + rng.below(64) }, () => rng.below(256));
  switch (op) {
    case 0: {
      // flip one bit
      const i = rng.below(n);
      b[i] = b[i]! ^ (1 << rng.below(8));
      return b;
    }
    case 1: {
      // random byte
      b[rng.below(n)] = rng.below(256);
      return b;
    }
    case 2:
    case 3: {
      // interesting integer of a random width and byte order
      const size = [1, 2, 4, 8][rng.below(4)]!;
      if (n < size) return b;
      const off = rng.below(n - size + 1);
      const le = rng.chance(0.5);
      let v: bigint;
      if (size === 1) v = BigInt(INTERESTING_8[rng.below(INTERESTING_8.length)]!);
      else if (size === 2) v = BigInt(INTERESTING_16[rng.below(INTERESTING_16.length)]!);
      else if (size === 4) v = BigInt(INTERESTING_32[rng.below(INTERESTING_32.length)]!);
      else v = INTERESTING_64[rng.below(INTERESTING_64.length)]!;
      writeInt(b, off, size, v, le);
      return b;
    }
    case 4: {
      // arithmetic on a word
      const size = [1, 2, 4][rng.below(3)]!;
      if (n < size) return b;
      const off = rng.below(n - size + 1);
      const le = rng.chance(0.5);
      const delta = BigInt(rng.below(70) - 35);
      const mask = (1n << BigInt(8 * size)) - 1n;
      writeInt(b, off, size, (readInt(b, off, size, le) + delta) & mask, le);
      return b;
    }
    case 5: {
      // insert random bytes
      if (n >= maxLength) return b;
      const at = rng.below(n + 1);
      const len = 1 + rng.below(Math.min(128, maxLength - n));
      const out = new Uint8Array(n + len);
      out.set(b.subarray(0, at));
      for (let i = 0; i < len; i++) out[at + i] = rng.chance(0.5) ? 0 : rng.below(256);
      out.set(b.subarray(at), at + len);
      return out;
    }
    case 6: {
      // delete a range
      const at = rng.below(n);
      const len = 1 + rng.below(Math.min(n - at, 256));
      const out = new Uint8Array(n - len);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + len), at);
      return out;
    }
    case 7: {
      // duplicate / overwrite with a chunk of itself
      const from = rng.below(n);
      const len = 1 + rng.below(Math.min(n - from, 512));
      const to = rng.below(n);
      const chunk = b.slice(from, from + len);
      b.set(chunk.subarray(0, Math.min(len, n - to)), to);
      return b;
    }
    case 8: {
      // truncate
      return b.subarray(0, rng.below(n + 1)).slice();
    }
    case 9: {
      // splice with another corpus input
      if (others.length === 0) return b;
      const o = others[rng.below(others.length)]!;
      const cutA = rng.below(n + 1);
      const cutB = rng.below(o.length + 1);
      const out = new Uint8Array(Math.min(maxLength, cutA + (o.length - cutB)));
      out.set(b.subarray(0, Math.min(cutA, out.length)));
      if (out.length > cutA) out.set(o.subarray(cutB, cutB + (out.length - cutA)), cutA);
      return out;
    }
    case 10: {
      // crossover: copy a block from another input at the same offset (keeps structure aligned)
      if (others.length === 0) return b;
      const o = others[rng.below(others.length)]!;
      const m = Math.min(n, o.length);
      if (m === 0) return b;
      const at = rng.below(m);
      const len = 1 + rng.below(Math.min(m - at, 1024));
      b.set(o.subarray(at, at + len), at);
      return b;
    }
    default: {
      // length-field-aware mutation from the target's hints
      const fields = hints.fields ?? [];
      if (fields.length === 0) {
        const i = rng.below(n);
        b[i] = 0xff;
        return b;
      }
      const f = fields[rng.below(fields.length)]!;
      if (f.offset + f.size > n) return b;
      const le = f.endian === 'le';
      const cur = readInt(b, f.offset, f.size, le);
      const mask = (1n << BigInt(8 * f.size)) - 1n;
      const choices = [
        0n,
        1n,
        cur + 1n,
        cur - 1n,
        cur * 2n,
        BigInt(n),
        BigInt(n) + 1n,
        mask,
        mask >> 1n,
        cur << 8n,
      ];
      writeInt(b, f.offset, f.size, choices[rng.below(choices.length)]! & mask, le);
      return b;
    }
  }
}
