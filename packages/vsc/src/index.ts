/**
 * @lsvm/vsc — the Volume Signature Catalog: a signed catalog of a template disk's blocks.
 *
 * Build a catalog from partitions given as BlockDevices with their GPT identity
 * ({@link createSignedCatalog}), verify its signature and trust ({@link verifyCatalogSignature}),
 * then the disk against it ({@link verifyVolumes}), and match it against a shielding data file's
 * {@link VolumeIdQualifier}. The byte format is specified in docs/formats/vsc.md.
 * @packageDocumentation
 */
export {
  type HashAlgorithm,
  HASH_ALGORITHMS,
  DIGEST_LENGTH,
  DEFAULT_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  isHashAlgorithm,
  isValidBlockSize,
  parseHashAlgorithm,
} from './algorithms.js';
export {
  type Catalog,
  type CatalogVolume,
  type CatalogLimits,
  type DiskIdentity,
  type TargetType,
  type VolumeRole,
  CATALOG_MAGIC,
  CATALOG_FORMAT_VERSION,
  DEFAULT_CATALOG_LIMITS,
  TARGET_TYPES,
  VOLUME_ROLES,
  decodeCatalog,
  encodeCatalog,
  validateCatalog,
} from './catalog.js';
export { type CborValue, type CborMap, decodeCanonical, encodeCanonical } from './cbor.js';
export { type CertificateInfo, parseCertificate, readCertificates } from './certificate.js';
export { type PartitionSource, checkPartitionSource } from './partition-source.js';
export { computeRootHash } from './root-hash.js';
export {
  type CatalogSigner,
  type CmsSignature,
  type RsaPadding,
  type SignatureDigest,
  type SignatureFailureReason,
  type SignOptions,
  MAX_SIGNATURE_BYTES,
  SignatureCheckFailure,
  checkCmsSignature,
  loadPrivateKey,
  signCatalogBytes,
} from './signature.js';
export { type SignedCatalogFile, decodeSignedCatalog, encodeSignedCatalog } from './signed-catalog.js';
export {
  type TemplateVersion,
  compareTemplateVersions,
  formatTemplateVersion,
  parseTemplateVersion,
} from './template-version.js';
export { certificateThumbprint, normalizeThumbprint } from './thumbprint.js';
export { type TrustOptions, evaluateTrust } from './trust.js';
export {
  type HashVolumeOptions,
  type VolumeHashes,
  HashPool,
  hashBlocks,
  hashVolume,
} from './volume-hash.js';
export {
  type BuildCatalogInput,
  type BuildCatalogOptions,
  type CreateSignedCatalogOptions,
  type ProtectedPartition,
  type SignedCatalog,
  buildCatalog,
  createSignedCatalog,
  toRfc3339,
} from './build.js';
export {
  type ChangedRange,
  type SignatureVerdict,
  type VerifySignatureOptions,
  type VerifyVolumesOptions,
  type VolumeReport,
  type VolumesReport,
  type VolumeStatus,
  mergeRanges,
  verifyCatalogSignature,
  verifyVolumes,
} from './verify.js';
export {
  type QualifierResult,
  type VersionRule,
  type VolumeIdQualifierInit,
  VERSION_RULES,
  VolumeIdQualifier,
  globMatch,
} from './qualifier.js';
