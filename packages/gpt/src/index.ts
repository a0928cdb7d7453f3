/**
 * @lsvm/gpt — GUID Partition Table and protective MBR (UEFI spec chapter 5): read, validate,
 * repair, create, edit, and open partitions as block devices.
 * @packageDocumentation
 */
export {
  GPT_FINDING_CODES,
  type GptFinding,
  type GptFindingCode,
  type GptSeverity,
  type GptLocation,
} from './errors.js';
export {
  MBR_SIZE,
  MBR_TYPE_GPT_PROTECTIVE,
  MBR_MAX_SECTORS,
  type Mbr,
  type MbrKind,
  type MbrRecord,
  type ProtectiveMbrOptions,
  parseMbr,
  protectiveRecord,
  protectiveSize,
  serializeProtectiveMbr,
  lbaToChs,
} from './mbr.js';
export { type HybridMbrChange, reconcileHybridMbr } from './hybrid-mbr.js';
export {
  GPT_SIGNATURE,
  GPT_REVISION_1_0,
  GPT_HEADER_MIN_SIZE,
  type GptHeader,
  type GptHeaderInit,
  decodeGptHeader,
  parseGptHeader,
  serializeGptHeader,
  computeHeaderCrc,
  hasGptSignature,
} from './header.js';
export {
  GPT_ENTRY_MIN_SIZE,
  GPT_NAME_MAX_UNITS,
  DEFAULT_GPT_LIMITS,
  type GptArrayLimits,
  type GptEntry,
  isUsedEntry,
  emptyEntry,
  parseEntryArray,
  serializeEntryArray,
  checkPartitionName,
} from './entry.js';
export {
  ATTR_REQUIRED,
  ATTR_NO_BLOCK_IO,
  ATTR_LEGACY_BIOS_BOOTABLE,
  ATTR_MS_READ_ONLY,
  ATTR_MS_SHADOW_COPY,
  ATTR_MS_HIDDEN,
  ATTR_MS_NO_DRIVE_LETTER,
  ATTR_SYSTEMD_GROWFS,
  ATTR_SYSTEMD_READ_ONLY,
  ATTR_SYSTEMD_NO_AUTO,
  ATTR_CHROMEOS_SUCCESSFUL,
  type AttributeFamily,
  type DecodedAttributes,
  attributeFamily,
  decodeAttributes,
  formatAttributes,
  parseAttributes,
} from './attributes.js';
export {
  type PartitionType,
  PARTITION_TYPES,
  partitionTypeByGuid,
  partitionTypeName,
  resolvePartitionType,
} from './partition-types.js';
export { type GptTable, arraySectorsOf, partitionSizeBytes } from './table.js';
export {
  GPT_MIN_ARRAY_RESERVED_BYTES,
  type HeaderCheck,
  checkHeader,
  checkArrayCrc,
  checkEntries,
  checkLayout,
  checkMbr,
  compareCopies,
} from './validate.js';
export {
  type GptCopy,
  type GptDisk,
  type OpenGptOptions,
  openGpt,
  readGpt,
  usedPartitions,
} from './open.js';
export { type GptImage, type WriteGptOptions, type WriteOrder, serializeGpt, writeGpt } from './writer.js';
export {
  type CreateGptOptions,
  type AddPartitionSpec,
  type SetPartitionSpec,
  type FreeRange,
  createGpt,
  addPartition,
  deletePartition,
  resizePartition,
  setPartition,
  relocateBackup,
  freeRanges,
  defaultAlignment,
  usedEntry,
} from './edit.js';
export { type RepairGptOptions, type RepairResult, repairGpt } from './repair.js';
export { partitionSlice, partitionDevice } from './partition-device.js';
