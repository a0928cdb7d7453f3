/**
 * @lsvm/pe-authenticode — PE/COFF parsing, Authenticode digests, signature verification and signing, UEFI signature databases.
 * @packageDocumentation
 */
export { type PeLimits, DEFAULT_PE_LIMITS } from './limits.js';
export { type DosHeader, DOS_MAGIC, parseDosHeader } from './dos-header.js';
export {
  type CoffHeader,
  PE_SIGNATURE,
  COFF_HEADER_SIZE,
  COFF_SYMBOL_SIZE,
  MACHINE_NAMES,
  parseCoffHeader,
  resolveLongName,
} from './coff-header.js';
export {
  type OptionalHeader,
  type DataDirectory,
  PE32_MAGIC,
  PE32PLUS_MAGIC,
  CERTIFICATE_TABLE_INDEX,
  CHECKSUM_FIELD_OFFSET,
  SUBSYSTEM_NAMES,
  parseOptionalHeader,
} from './optional-header.js';
export { type SectionHeader, SECTION_HEADER_SIZE, parseSectionTable, sectionData } from './section-table.js';
export {
  type WinCertificate,
  WIN_CERT_REVISION_1_0,
  WIN_CERT_REVISION_2_0,
  WIN_CERT_TYPE_PKCS_SIGNED_DATA,
  WIN_CERT_TYPE_EFI_GUID,
  WIN_CERT_TYPE_EFI_PKCS115,
  parseCertificateTable,
  encodeWinCertificate,
  align8,
} from './certificate-table.js';
export { type SbatEntry, parseSbat, serializeSbat } from './sbat.js';
export { peChecksum, updatePeChecksum } from './checksum.js';
export { type LayoutFinding, type LayoutFindingCode, layoutFindings } from './layout-findings.js';
export {
  type PeImage,
  type PeHeaders,
  parsePe,
  parsePeHeaders,
  findSection,
  extractVendorCert,
} from './pe-image.js';
export {
  type DigestAlgorithm,
  type DigestMethod,
  type DigestOptions,
  type DigestSegment,
  type DigestReport,
  DIGEST_LENGTHS,
  digestPlan,
  authenticodeDigest,
  authenticodeDigestDevice,
  digestReport,
} from './digest.js';
export { OID } from './oids.js';
export {
  type Certificate,
  parseCertificate,
  parseCertificatePemOrDer,
  pemCertificates,
  pemOrDer,
  formatName,
  fingerprint256,
  issuedBy,
} from './x509.js';
export {
  type SignedData,
  type SignerInfo,
  type CmsAttribute,
  parseSignedData,
  findSignerCertificate,
} from './signed-data.js';
export { type SpcIndirectData, parseSpcIndirectData, encodeSpcIndirectData } from './spc.js';
export { type TimestampInfo, signatureTimestamps } from './timestamp.js';
export { type VerifyReason, type VerifyReasonCode, checkSigner } from './signer-check.js';
export {
  type RsaPssParameters,
  pssVerificationKey,
  parseRsaPssParameters,
  rsaPssAlgorithm,
} from './rsa-pss.js';
export { type Asn1Value, storedBytes } from './asn1.js';
export {
  type AuthenticodeSignature,
  type ImageSignatureEntry,
  parseAuthenticodeSignature,
  imageSignatures,
  flattenSignatures,
} from './authenticode.js';
export {
  type VerifyOptions,
  type SignatureVerification,
  type ImageVerification,
  verifyImage,
  verifySignature,
} from './verify.js';
export {
  type SignatureData,
  type SignatureList,
  type SignatureListInput,
  type SignatureTypeName,
  EFI_CERT_TYPES,
  signatureTypeName,
  parseSignatureLists,
  buildSignatureList,
  buildSignatureLists,
} from './signature-list.js';
export {
  type SignatureDatabase,
  type DbxMatch,
  signatureDatabase,
  emptyDatabase,
  certificateForbidden,
  hashListed,
} from './db-policy.js';
export {
  type SigningKey,
  type CmsSignerOptions,
  type SignImageOptions,
  type SignedAttribute,
  loadPrivateKey,
  rawSign,
  buildSignedData,
  buildAuthenticodeSignature,
  signImage,
  removeSignature,
  extractSignature,
} from './sign.js';
export {
  type EfiTime,
  type AuthVariable,
  type AuthVariableVerification,
  type BuildAuthVariableOptions,
  EFI_CERT_TYPE_PKCS7_GUID,
  EFI_GLOBAL_VARIABLE_GUID,
  EFI_IMAGE_SECURITY_DATABASE_GUID,
  EFI_VARIABLE,
  SECURE_BOOT_VARIABLE_ATTRIBUTES,
  encodeEfiTime,
  efiTimeFromDate,
  parseAuthVariable,
  authVariableSignedPayload,
  verifyAuthVariable,
  buildAuthVariable,
} from './auth-variable.js';
export { type TrustInput, parseTrustInput } from './trust-input.js';
export { type CreateCertificateOptions, createCertificate, encodeName } from './x509-builder.js';
