/**
 * @lsvm/vhdx — VHDX virtual disks ([MS-VHDX]): read, write, log replay, differencing, create,
 * convert, check.
 * @packageDocumentation
 */
export {
  MiB,
  HEADER_OFFSETS,
  REGION_TABLE_OFFSETS,
  BAT_REGION_GUID,
  METADATA_REGION_GUID,
  FILE_PARAMETERS_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  PARENT_LOCATOR_GUID,
  VHDX_PARENT_LOCATOR_TYPE,
  MIN_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MAX_VIRTUAL_DISK_SIZE,
} from './constants.js';
export { type FileIdentifier, parseFileIdentifier, serializeFileIdentifier } from './file-identifier.js';
export {
  type VhdxHeader,
  type CurrentHeader,
  parseHeader,
  serializeHeader,
  selectHeader,
  logInUse,
  checksum4k,
} from './header.js';
export {
  type RegionEntry,
  type RegionTable,
  parseRegionTable,
  serializeRegionTable,
} from './region-table.js';
export {
  type MetadataEntry,
  type VhdxMetadata,
  type MetadataInput,
  parseMetadataTable,
  parseMetadata,
  serializeMetadata,
} from './metadata.js';
export {
  type ParentLocator,
  parseParentLocator,
  serializeParentLocator,
  parentPathCandidates,
  parentLinkage,
} from './parent-locator.js';
export {
  PayloadState,
  BitmapState,
  type BatEntry,
  type BatGeometry,
  batGeometry,
  payloadEntryIndex,
  bitmapEntryIndex,
  isBitmapEntryIndex,
  readBatEntry,
  writeBatEntry,
  payloadStateName,
} from './bat.js';
export { type BatProblem, type ReservedRange, validateBat } from './bat-check.js';
export {
  type LogEntry,
  type LogWrite,
  type LogDataWrite,
  type LogZeroWrite,
  type LogEntryInput,
  parseLogEntry,
  serializeLogEntry,
} from './log.js';
export { type ActiveSequence, findActiveSequence } from './log-replay.js';
export { getBit, setBits } from './sector-bitmap.js';
export { type VhdxLimits, DEFAULT_VHDX_LIMITS, resolveVhdxLimits } from './limits.js';
export { MemoryFile, type ResizableDevice, isResizable } from './memory-file.js';
export { LogOverlayDevice } from './overlay-device.js';
export type { VhdxLayout } from './image.js';
export {
  VhdxDevice,
  readVhdxInfo,
  type VhdxOpenOptions,
  type VhdxInfo,
  type VhdxType,
} from './vhdx-device.js';
export { type LayoutPlan, defaultBlockSize, planLayout } from './layout-plan.js';
export { createVhdx, type VhdxCreateOptions, type DifferencingParent, CREATOR } from './create.js';
export {
  convertToVhdx,
  convertToRaw,
  type ConvertOptions,
  type ConvertToVhdxOptions,
  type ConvertStats,
} from './convert.js';
export { checkVhdx, type VhdxFinding, type VhdxCheckResult, type VhdxCheckOptions } from './check.js';
export {
  openVhdxFile,
  createVhdxFile,
  convertFile,
  findParent,
  type VhdxFileOpenOptions,
  type VhdxFileCreateOptions,
  type ConvertFileOptions,
} from './files.js';
