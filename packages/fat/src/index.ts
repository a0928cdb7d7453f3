/**
 * @lsvm/fat — FAT12/16/32 file systems: mkfs, read, write, check (the EFI System Partition).
 * @packageDocumentation
 */
export {
  type BootSector,
  type FatGeometry,
  type FatType,
  FAT12_MAX_CLUSTERS,
  FAT16_MAX_CLUSTERS,
  FAT32_MAX_CLUSTERS,
  parseBootSector,
  serializeBootSector,
  fatGeometry,
} from './boot-sector.js';
export { type FsInfo, FSINFO_UNKNOWN, parseFsInfo, serializeFsInfo } from './fsinfo.js';
export { FatTable, FAT_FREE } from './fat-table.js';
export {
  type DirEntry,
  type FatTimestamp,
  ATTR_READ_ONLY,
  ATTR_HIDDEN,
  ATTR_SYSTEM,
  ATTR_VOLUME_ID,
  ATTR_DIRECTORY,
  ATTR_ARCHIVE,
  ATTR_LONG_NAME,
  CASE_LOWER_BASE,
  CASE_LOWER_EXT,
  DIR_ENTRY_SIZE,
  parseDirEntry,
  serializeDirEntry,
  toFatTimestamp,
  fromFatTimestamp,
} from './dir-entry.js';
export {
  type LfnEntry,
  type ShortNamePlan,
  lfnChecksum,
  parseLfnEntry,
  buildLfnEntries,
  planShortName,
  shortNameWithTail,
  decodeShortName,
  validateLongName,
} from './lfn.js';
export { type DirectoryItem, type ParsedDirectory, parseDirectory, findFreeSlots } from './directory.js';
export { type FatLimits, DEFAULT_FAT_LIMITS } from './limits.js';
export {
  FatFileSystem,
  type FatFlushOptions,
  type FatOpenOptions,
  type FatStat,
  type FatWriteOptions,
} from './filesystem.js';
export { mkfs, type MkfsOptions, type MkfsResult } from './mkfs.js';
export { checkFat, type FatCheckReport, type FatFinding } from './check.js';
