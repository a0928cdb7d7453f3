import { DEFAULT_LIMITS } from '@lsvm/core';

/** Bounds applied when opening and walking a FAT volume, so a hostile image cannot exhaust memory. */
export interface FatLimits {
  /** Largest FAT copy read into memory, in bytes (a 2 TiB FAT32 volume with 4 KiB clusters needs 2 GiB). */
  maxFatBytes: number;
  /** Largest file {@link FatFileSystem.readFile} returns, in bytes. */
  maxFileSize: number;
  /** Largest directory read, in entries (fatgen103 caps a directory at 65 536 entries). */
  maxDirectoryEntries: number;
  /** Deepest directory nesting walked by {@link FatFileSystem.walk} and the checker. */
  maxDepth: number;
  /** Most directory entries walked in total by {@link FatFileSystem.walk} and the checker. */
  maxTotalEntries: number;
}

/** Defaults: enough for any ESP and any FAT32 volume up to a few hundred GiB. */
export const DEFAULT_FAT_LIMITS: Readonly<FatLimits> = Object.freeze({
  maxFatBytes: DEFAULT_LIMITS.maxAllocation,
  maxFileSize: DEFAULT_LIMITS.maxAllocation,
  maxDirectoryEntries: 65536,
  maxDepth: 64,
  maxTotalEntries: DEFAULT_LIMITS.maxEntries,
});
