/**
 * @lsvm/cpio — cpio newc/crc archives and multi-segment initramfs images: read, write, key injection.
 * @packageDocumentation
 */
export {
  type NewcHeader,
  type CpioFormat,
  NEWC_HEADER_SIZE,
  NEWC_MAGIC,
  CRC_MAGIC,
  TRAILER_NAME,
  parseNewcHeader,
  serializeNewcHeader,
  newcChecksum,
} from './newc.js';
export {
  type CpioEntry,
  type CpioFileType,
  type NewEntryOptions,
  S_IFMT,
  S_IFSOCK,
  S_IFLNK,
  S_IFREG,
  S_IFBLK,
  S_IFDIR,
  S_IFCHR,
  S_IFIFO,
  fileType,
  modeString,
  normalizeName,
  fileEntry,
  directoryEntry,
  symlinkEntry,
  deviceEntry,
} from './entry.js';
export {
  type CpioArchive,
  type SerializeCpioOptions,
  parseCpioArchive,
  parseCpio,
  serializeCpio,
  resolveHardLinks,
} from './archive.js';
export {
  type Compression,
  DECOMPRESSIBLE,
  COMPRESSIBLE,
  type DecompressResult,
  detectCompression,
  decompress,
  decompressStream,
  zstdFramesLength,
  xzStreamsLength,
  compress,
} from './compression.js';
export {
  type Initramfs,
  type InitramfsSegment,
  type MergedEntry,
  type InitramfsEdits,
  type RebuildOptions,
  type RebuildResult,
  parseInitramfs,
  mergedView,
  rebuildInitramfs,
} from './initramfs.js';
export {
  type InjectKeysOptions,
  BOOTKEY_PATH,
  ROOTKEY_PATH,
  SPECIALIZE_PATH,
  LSVMLOAD_KEY_MODE,
  DEFAULT_KEY_MODE,
  isLsvmloadRemoval,
  injectKeys,
} from './inject-keys.js';
export { type CpioLimits, DEFAULT_CPIO_LIMITS } from './limits.js';
export { LZ4_LEGACY_MAGIC, decodeLz4Block, decodeLz4Legacy } from './lz4-legacy.js';
export { safeExtractPath } from './extract-path.js';
