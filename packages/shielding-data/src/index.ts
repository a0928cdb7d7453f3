/**
 * @lsvm/shielding-data — guardians, key protectors ([MS-KPS] semantics), shielding data files
 * (PDK), specialization data (FSK), VolumeIdQualifiers and lsvmload's specialization.aes.
 * Formats: docs/formats/shielding-data.md.
 * @packageDocumentation
 */
export { type CborValue, encodeCanonical, decodeCanonical } from './canonical-cbor.js';
export {
  type CertificateInfo,
  type SignatureScheme,
  type KeyUsage,
  KEY_USAGE_BITS,
  certificateThumbprint,
  parseCertificate,
  signData,
  verifyData,
} from './certificate.js';
export {
  type GuardianPublic,
  type GuardianKeys,
  type GuardianAlgorithm,
  type GuardianInfo,
  type GuardianPem,
  type GuardianMetadataJson,
  type GenerateGuardianOptions,
  generateGuardian,
  inspectGuardian,
  exportGuardian,
  importGuardianPem,
  importGuardianPublicPem,
  guardianToPem,
  encodeGuardianMetadata,
  parseGuardianMetadata,
  checkGuardianName,
} from './guardian.js';
export { type PfxSource, type ImportGuardianPfxOptions, importGuardianPfx } from './guardian-pfx.js';
export {
  type PfxContents,
  type PfxKey,
  type PfxCertificate,
  type PfxKeyPair,
  readPfx,
  readPfxKeyPair,
} from './pkcs12.js';
export {
  GUARDIAN_DIR_FILES,
  writeGuardianDir,
  readGuardianDir,
  readGuardianPublic,
} from './guardian-store.js';
export {
  type KeyProtector,
  type KeyProtectorInfo,
  type Wrapping,
  type WrappingAlgorithm,
  type KeyProtectorWriteOptions,
  TRANSPORT_KEY_BYTES,
  createKeyProtector,
  encodeKeyProtector,
  parseKeyProtector,
  keyProtectorToCbor,
  keyProtectorFromCbor,
  verifyKeyProtector,
  unwrapTransportKey,
  grantGuardian,
  revokeGuardian,
} from './key-protector.js';
export { type VolumeIdQualifier, type ViqRule, checkViq, parseViqSpec, viqSignerThumbprint } from './viq.js';
export {
  type PdkFile,
  type PdkCredential,
  type PdkSshKey,
  type PdkSecrets,
  checkFileName,
  zeroSecrets,
} from './pdk-secrets.js';
export {
  type Pdk,
  type PdkInfo,
  type PdkPolicy,
  type PdkReadResult,
  type CreatePdkOptions,
  createPdk,
  parsePdk,
  encodePdk,
  verifyPdk,
  readPdk,
  openPdk,
  grantPdk,
  revokePdk,
} from './pdk.js';
export {
  type Fsk,
  type FskPair,
  createFsk,
  parseFsk,
  verifyFsk,
  parseFskAssignment,
  applyFsk,
} from './fsk.js';
export {
  type SpecializationFile,
  type ClearData,
  SPECIALIZATION_UNATTEND_NAME,
  encodeClearData,
  decodeClearData,
  checkSpecializationFileName,
} from './specialization-clear-data.js';
export {
  type SpecializationHeader,
  SPECIALIZATION_HEADER_SIZE,
  parseSpecializationHeader,
  encryptSpecialization,
  decryptSpecialization,
  packSpecialization,
  unpackSpecialization,
} from './specialization.js';
export { type RandomSource, systemRandom, deterministicRandom } from './random.js';
export { type ShieldingLimits, DEFAULT_SHIELDING_LIMITS } from './limits.js';
export { KDF_LABELS } from './kdf.js';
