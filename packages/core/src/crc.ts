/**
 * Table-driven CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320 — what GPT uses, UEFI §5.3.2)
 * and CRC-32C (Castagnoli, reflected 0x82F63B78 — what VHDX uses, MS-VHDX §2.2). Slicing-by-8:
 * eight 256-entry tables let the hot loop consume 8 bytes per iteration, ~5-8× faster than the
 * byte-at-a-time loop, with no native code so it runs in browsers and fuzzers alike.
 */

function makeTables(poly: number): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t0[i] = c >>> 0;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]!;
    const cur = new Uint32Array(256);
    for (let i = 0; i < 256; i++) cur[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    tables.push(cur);
  }
  return tables;
}

type Tables = readonly Uint32Array[];
let ieee: Tables | undefined;
let castagnoli: Tables | undefined;

function update(tables: Tables, crc: number, data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let c = ~crc >>> 0;
  const n = data.length;
  let i = 0;
  const end8 = n - (n & 7);
  while (i < end8) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) c = t0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * CRC-32 (IEEE). Pass the previous result as `crc` to continue over several chunks.
 * Check value: `crc32("123456789") === 0xCBF43926`.
 */
export function crc32(data: Uint8Array, crc = 0): number {
  if (nativeCrc32 === undefined) nativeCrc32 = findNativeCrc32();
  // zlib's CRC-32 is the same polynomial and continuation rule, 6-7x faster where node offers it.
  if (nativeCrc32 !== null && data.length >= 64) return nativeCrc32(data, crc) >>> 0;
  ieee ??= makeTables(0xedb88320);
  return update(ieee, crc, data);
}

let nativeCrc32: ((data: Uint8Array, value: number) => number) | null | undefined;

/** zlib.crc32 through process.getBuiltinModule (Node ≥ 20.16), without a static node: import. */
function findNativeCrc32(): ((data: Uint8Array, value: number) => number) | null {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = p?.getBuiltinModule?.('node:zlib') as
    | { crc32?: (d: Uint8Array, v: number) => number }
    | undefined;
  return typeof zlib?.crc32 === 'function' ? zlib.crc32 : null;
}

/** The pure-TypeScript CRC-32, for tests that compare it with the native path. */
export function crc32Portable(data: Uint8Array, crc = 0): number {
  ieee ??= makeTables(0xedb88320);
  return update(ieee, crc, data);
}

/**
 * CRC-32C (Castagnoli). Pass the previous result as `crc` to continue over several chunks.
 * Check value: `crc32c("123456789") === 0xE3069283`.
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  castagnoli ??= makeTables(0x82f63b78);
  return update(castagnoli, crc, data);
}
