/**
 * @lsvm/core — the only shared room of the lsvm packages: block devices, byte cursors, GUIDs,
 * UTF-16LE, CRCs, the error hierarchy, limits and progress. Format packages depend on this and on
 * nothing else of lsvm.
 * @packageDocumentation
 */
export {
  type BlockDevice,
  BaseBlockDevice,
  MemoryDevice,
  SliceDevice,
  ReadOnlyDevice,
  checkRange,
  forEachChunk,
} from './block-device.js';
export { FileDevice, type FileDeviceOptions, type FdLease } from './file-device.js';
export {
  setFileSize,
  setFileSizeSync,
  type SizableFileHandle,
  type SizableFileSystem,
} from './file-size.js';
export {
  allocIoBuffers,
  isWasmBacked,
  type IoBufferOptions,
  IO_BUFFER_ALIGNMENT,
  IO_BUFFERS_MAX_BYTES,
} from './io-buffers.js';
export { ByteReader, type Endianness } from './byte-reader.js';
export { ByteWriter } from './byte-writer.js';
export { crc32, crc32c, crc32Portable } from './crc.js';
export {
  guidFromBytes,
  guidToBytes,
  isGuid,
  normalizeGuid,
  randomGuid,
  uuidFromBytes,
  NIL_GUID,
} from './guid.js';
export { decodeUtf16le, encodeUtf16le, utf16Length } from './utf16.js';
export { toHex, fromHex } from './hex.js';
export { constantTimeEqual, zeroize } from './secrets.js';
export { quoted } from './quoted.js';
export { parseSize, formatSize } from './size.js';
export {
  LsvmError,
  type LsvmErrorKind,
  type LsvmErrorOptions,
  FormatError,
  ChecksumError,
  UnsupportedError,
  LimitError,
  AuthError,
  VerificationError,
  IoError,
  UsageError,
  AbortedError,
  isLsvmError,
} from './errors.js';
export { type Limits, DEFAULT_LIMITS, resolveLimits, checkLimit } from './limits.js';
export { type ProgressCallback, type LongOperationOptions, throwIfAborted } from './progress.js';
export { type PemBlock, scanPem, decodePemBody, pemDecodeAll, pemEncode } from './pem.js';
