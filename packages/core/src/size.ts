import { UsageError } from './errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
  P: 2 ** 50,
};

/**
 * Parses a size with an optional binary suffix: `512`, `64K`, `64M`, `2G`, `1.5G`, `4KiB`, `8MB`
 * (suffixes are powers of 1024, as qemu-img and cryptsetup read them). The result must be a whole
 * number of bytes and a safe integer.
 */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new UsageError('BAD_SIZE', `bad size ${input}`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?\s*$/i.exec(input);
  if (!m) throw new UsageError('BAD_SIZE', `bad size ${JSON.stringify(input)} (use e.g. 512, 64K, 64M, 2G)`);
  const unit = UNITS[m[2]!.toUpperCase()]!;
  const v = Number(m[1]) * unit;
  if (!Number.isSafeInteger(v))
    throw new UsageError('BAD_SIZE', `size ${JSON.stringify(input)} is not a whole number of bytes`);
  return v;
}

/** Formats bytes for people: `1.5 GiB`, `512 B`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}
