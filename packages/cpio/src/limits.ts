import { DEFAULT_LIMITS } from '@lsvm/core';

/** Bounds applied when reading archives and initramfs images. */
export interface CpioLimits {
  /** Most entries in one archive (and in one initramfs segment). */
  maxEntries: number;
  /** Longest entry name, in bytes including the NUL (Linux PATH_MAX is 4096). */
  maxNameSize: number;
  /** Largest total a decompressor may produce for one image: a bigger one is a decompression bomb. */
  maxExpandedBytes: number;
  /** Most segments in one initramfs. */
  maxSegments: number;
}

/** Defaults: room for any real initramfs (a few hundred MiB expanded, tens of thousands of files). */
export const DEFAULT_CPIO_LIMITS: Readonly<CpioLimits> = Object.freeze({
  maxEntries: 1 << 20,
  maxNameSize: 4096,
  maxExpandedBytes: DEFAULT_LIMITS.maxExpandedBytes,
  maxSegments: 64,
});
