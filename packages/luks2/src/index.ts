/**
 * @lsvm/luks2 — LUKS2 and LUKS1: read, validate, unlock, format, keyslots, tokens, encrypted BlockDevice.
 * @packageDocumentation
 */
export {
  type LuksLimits,
  DEFAULT_LUKS_LIMITS,
  luksLimits,
  LUKS2_MAX_KEYSLOTS,
  LUKS2_MAX_TOKENS,
  LUKS2_MAX_SEGMENTS,
  LUKS2_MAX_DIGESTS,
  LUKS2_MAX_KEYSLOTS_SIZE,
  LUKS_STRIPES,
} from './limits.js';
export {
  JsonNumber,
  type JsonObject,
  type JsonValue,
  type JsonParseLimits,
  parseJson,
  stringifyJson,
  isJsonObject,
  jsonObject,
  cloneJson,
  toJsonValue,
  fromJsonValue,
} from './luks2-json.js';
export {
  type Luks2BinaryHeader,
  type Luks2BinaryHeaderInit,
  LUKS2_BINARY_HEADER_SIZE,
  LUKS2_HDR_SIZES,
  LUKS2_MAGIC_PRIMARY,
  LUKS2_MAGIC_SECONDARY,
  looksLikeLuks2,
  parseLuks2BinaryHeader,
  computeLuks2Checksum,
  verifyLuks2Checksum,
  buildLuks2HeaderCopy,
} from './luks2-binary-header.js';
export type {
  Pbkdf2Params,
  Argon2Params,
  KdfParams,
  KeyslotPriority,
  Luks2Keyslot,
  Luks2Segment,
  Luks2Digest,
  Luks2Token,
  Luks2Config,
  Luks2Metadata,
} from './luks2-metadata.js';
export { KNOWN_REQUIREMENTS } from './luks2-metadata.js';
export { validateLuks2Metadata, decodeBase64Strict } from './metadata-validate.js';
export {
  type Luks2HeaderCopy,
  type Luks2CopyStatus,
  type Luks2Headers,
  parseLuks2HeaderCopy,
  readLuks2Headers,
} from './luks2-header.js';
export {
  type Luks1Header,
  type Luks1Keyslot,
  LUKS1_HEADER_SIZE,
  LUKS1_KEYSLOTS,
  LUKS1_KEY_ENABLED,
  LUKS1_KEY_DISABLED,
  looksLikeLuks1,
  parseLuks1Header,
  serializeLuks1Header,
  checkLuks1Keyslots,
  checkLuks1DeviceSize,
  luks1RequiredDeviceSize,
  luks1KeyslotSectors,
  luks1CipherSpec,
} from './luks1-header.js';
export {
  type LuksVolume,
  type Luks1Volume,
  type Luks2Volume,
  readLuks,
  unknownRequirements,
} from './luks-volume.js';
export { afSplit, afMerge, hashLength } from './af.js';
export { pbkdf2, argon2Raw, deriveKey, checkKdfCost } from './pbkdf.js';
export { type KdfOptions, resolveKdf, calibratePbkdf2, pbkdf2Rate } from './kdf-params.js';
export {
  type CipherSpec,
  type XtsKernelChoice,
  SectorCipher,
  parseCipherSpec,
  validKeySizes,
} from './cipher.js';
export { keyMaterialSize, readKeyslotArea, encryptKeyslotMaterial } from './keyslot-area.js';
export {
  type UnlockOptions,
  type UnlockResult,
  unlockLuks,
  luks2KeyslotOrder,
  assertRequirementsMet,
  verifyLuks2Digest,
  verifyLuks1Key,
  volumeKeyMatches,
  openLuks2Keyslot,
  luks2KeyslotCandidate,
  luks1KeyslotCandidate,
} from './unlock.js';
export {
  type DataSegmentLayout,
  type OpenLuksOptions,
  type LuksKey,
  LuksDevice,
  dataSegmentLayout,
  openLuks,
} from './luks-device.js';
export { type FormatOptions, type FormatResult, formatLuks } from './format.js';
export { type XtsDeliver, type XtsJob, XtsWorkerPool } from './xts-workers.js';
export {
  type Authorization,
  type AddKeyslotOptions,
  type RemoveKeyslotOptions,
  addKeyslot,
  removeKeyslot,
  changePassphrase,
  addUnboundKeyslot,
} from './keyslot-edit.js';
export {
  type Luks2KeyslotPlan,
  type Luks2KeyslotPlanOptions,
  DEFAULT_KEYSLOT_ENCRYPTION,
  DEFAULT_KEYSLOT_KEY_SIZE,
  luks2AreaSize,
  allocateLuks2Area,
  kdfJson,
  defaultKeyslotEncryption,
  planLuks2Keyslot,
  sealLuks2Keyslot,
} from './keyslot-plan.js';
export { type Luks2Identity, writeLuks2Headers, writeLuks1Header, luks2Identity } from './header-write.js';
export {
  type TokenInput,
  type SystemdTpm2Token,
  addToken,
  removeToken,
  parseSystemdTpm2Token,
  systemdTpm2TokenJson,
} from './tokens.js';
export { backupHeader, restoreHeader, metadataRegionSize } from './header-backup.js';
export { type FoundHeader, scanLuksHeaders } from './scan.js';
export {
  type ReencryptOptions,
  type ReencryptResult,
  type ReencryptJournalStatus,
  REENCRYPT_DEFAULT_CHUNK,
  reencryptLuks,
  resumeReencrypt,
  reencryptJournalStatus,
} from './reencrypt.js';
export {
  type ReencryptJournalHeader,
  type ReencryptRecord,
  ReencryptJournal,
  reencryptJournalSize,
  parseJournalHeader,
  serializeJournalHeader,
  parseRecord,
  serializeRecord,
} from './reencrypt-journal.js';
export {
  type MarkedVolume,
  REENCRYPT_REQUIREMENT,
  readLuksForReencrypt,
} from './reencrypt-mark.js';
