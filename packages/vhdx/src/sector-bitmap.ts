/**
 * Sector bitmaps of differencing disks ([MS-VHDX] §2.5.1.2, §3.1.2): one bit per logical sector,
 * least significant bit first, 1 meaning "this sector is in the child". One 1 MiB bitmap block covers
 * 2^23 sectors, i.e. one chunk of `chunkRatio` payload blocks.
 */

/** Value of bit `bit` of `bitmap` (bit 0 is the low bit of byte 0). */
export function getBit(bitmap: Uint8Array, bit: number): boolean {
  return (bitmap[Math.floor(bit / 8)]! & (1 << (bit % 8))) !== 0;
}

/** Sets `count` bits from `first`; returns true when any bit changed. */
export function setBits(bitmap: Uint8Array, first: number, count: number): boolean {
  let changed = false;
  let bit = first;
  const end = first + count;
  while (bit < end) {
    const byte = Math.floor(bit / 8);
    if (bit % 8 === 0 && end - bit >= 8) {
      if (bitmap[byte] !== 0xff) {
        bitmap[byte] = 0xff;
        changed = true;
      }
      bit += 8;
      continue;
    }
    const mask = 1 << (bit % 8);
    if ((bitmap[byte]! & mask) === 0) {
      bitmap[byte] = bitmap[byte]! | mask;
      changed = true;
    }
    bit++;
  }
  return changed;
}

/**
 * Splits `[first, first + count)` into runs of equal bit value, calling `fn(value, start, length)`
 * for each, in order. Whole 0x00/0xff bytes are skipped eight bits at a time.
 */
export function forEachRun(
  bitmap: Uint8Array,
  first: number,
  count: number,
  fn: (value: boolean, start: number, length: number) => void,
): void {
  const end = first + count;
  let bit = first;
  while (bit < end) {
    const value = getBit(bitmap, bit);
    const start = bit;
    bit++;
    while (bit < end) {
      if (bit % 8 === 0 && end - bit >= 8) {
        const b = bitmap[bit / 8]!;
        if (b === (value ? 0xff : 0)) {
          bit += 8;
          continue;
        }
      }
      if (getBit(bitmap, bit) !== value) break;
      bit++;
    }
    fn(value, start, bit - start);
  }
}
