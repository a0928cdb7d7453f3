import { LimitError } from './errors.js';

/**
 * Resource bounds applied by every parser, so hostile input cannot make it allocate gigabytes or
 * loop for minutes (DESIGN.md, "Limits"). Each package defines its own limit names on top of
 * these common ones and documents its defaults.
 */
export interface Limits {
  /** Largest single allocation a parser may make on behalf of the input, in bytes. */
  maxAllocation: number;
  /** Largest number of entries (partitions, keyslots, BAT entries…) accepted in one table. */
  maxEntries: number;
  /** Largest total of bytes a decompressor may produce. */
  maxExpandedBytes: number;
}

/** Defaults that fit every legitimate file we know of with room to spare. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxAllocation: 256 * 1024 * 1024,
  maxEntries: 1 << 20,
  maxExpandedBytes: 1024 * 1024 * 1024,
});

/** Merge caller overrides onto defaults. */
export function resolveLimits<T extends object>(defaults: Readonly<T>, overrides?: Partial<T>): T {
  return { ...defaults, ...(overrides ?? {}) } as T;
}

/**
 * Throws a {@link LimitError} when `value` exceeds `max`.
 * @param what human name of the quantity, e.g. `partition entry count`
 */
export function checkLimit(
  value: number | bigint,
  max: number | bigint,
  code: string,
  what: string,
  structure?: string,
): void {
  if (value > max) {
    throw new LimitError(code, `${what} ${value.toString()} exceeds the limit of ${max.toString()}`, {
      ...(structure !== undefined ? { structure } : {}),
    });
  }
}
