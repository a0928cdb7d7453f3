/**
 * @lsvm/tpm2-marshal — TPM 2.0 structures, commands, sessions, policies and transports in pure
 * TypeScript: strict marshalling of the Part 2 structures, command builders and response parsers,
 * HMAC / policy / salted sessions with parameter encryption, an offline policy calculator and PCR
 * predictor, transports for swtpm, mssim simulators and Linux TPM devices, and seal/unseal helpers.
 * @packageDocumentation
 */
export {
  TPM_ALG,
  TPM_ECC,
  TPM_CC,
  TPM_ST,
  TPM_SU,
  TPM_SE,
  TPM_CAP,
  TPM_PT,
  TPM_HT,
  TPM_RH,
  TPM_RS_PW,
  TPMA_OBJECT,
  TPMA_OBJECT_RESERVED,
  TPMA_SESSION,
  TPMA_NV,
  SRK_PERSISTENT_HANDLE,
  nameOf,
  algName,
} from './constants.js';
export {
  type Codec,
  marshal,
  unmarshal,
  tpmReader,
  tpmWriter,
  tpm2b,
  sized,
  list,
  struct,
  restricted,
  u8,
  u16,
  u32,
  u64,
} from './marshal.js';
export { digestSize, hash, hmac, parseHashAlg, HASH_ALGS } from './hash.js';
export {
  TPM2B_DIGEST,
  TPM2B_DATA,
  TPM2B_NONCE,
  TPM2B_AUTH,
  TPM2B_NAME,
  TPM2B_MAX_BUFFER,
  TPM2B_MAX_NV_BUFFER,
  TPM2B_SENSITIVE_DATA,
  TPM2B_SYM_KEY,
  TPM2B_PUBLIC_KEY_RSA,
  TPM2B_PRIVATE_KEY_RSA,
  TPM2B_ECC_PARAMETER,
  TPM2B_ENCRYPTED_SECRET,
  TPM2B_ID_OBJECT,
  TPM2B_PRIVATE,
  TPM2B_CONTEXT_DATA,
  TPMI_ALG_HASH,
  TPMI_YES_NO,
  MAX_DIGEST_SIZE,
  MAX_PRIVATE_SIZE,
} from './basic.js';
export {
  type TpmtSymDef,
  type TpmtScheme,
  type TpmtHa,
  TPMT_SYM_DEF,
  TPMT_SYM_DEF_OBJECT,
  TPMT_KEYEDHASH_SCHEME,
  TPMT_RSA_SCHEME,
  TPMT_ECC_SCHEME,
  TPMT_KDF_SCHEME,
  TPMT_HA,
  AES_128_CFB,
  SYM_NULL,
} from './schemes.js';
export {
  type TpmtPublic,
  type TpmtPublicRsa,
  type TpmtPublicEcc,
  type TpmtPublicKeyedHash,
  type TpmtPublicSymCipher,
  type TpmsRsaParms,
  type TpmsEccParms,
  type TpmsKeyedHashParms,
  type TpmsSymCipherParms,
  type TpmsEccPoint,
  TPMT_PUBLIC,
  TPM2B_PUBLIC,
  TPMS_ECC_POINT,
  TPM2B_ECC_POINT,
  TPMS_RSA_PARMS,
  TPMS_ECC_PARMS,
} from './public.js';
export {
  type TpmtSensitive,
  type TpmsSensitiveCreate,
  TPMT_SENSITIVE,
  TPM2B_SENSITIVE,
  TPMS_SENSITIVE_CREATE,
  TPM2B_SENSITIVE_CREATE,
} from './sensitive.js';
export {
  type TpmsPcrSelection,
  TPMS_PCR_SELECT,
  TPMS_PCR_SELECTION,
  TPML_PCR_SELECTION,
  PCR_SELECT_MIN,
  PCR_SELECT_MAX,
  parsePcrSelection,
  formatPcrSelection,
  pcrBitmap,
  pcrsFromBitmap,
} from './pcr-selection.js';
export {
  type TpmsCreationData,
  type TpmtTicket,
  TPMS_CREATION_DATA,
  TPM2B_CREATION_DATA,
  TPMT_TK_CREATION,
  TPMT_TK_VERIFIED,
  TPMT_TK_AUTH,
  TPMT_TK_HASHCHECK,
  TPMI_RH_HIERARCHY,
  nullTicket,
} from './creation.js';
export {
  type TpmsCapabilityData,
  type TpmsAlgProperty,
  type TpmsTaggedProperty,
  type TpmsTaggedPcrSelect,
  TPMS_CAPABILITY_DATA,
} from './capability.js';
export { type TpmsNvPublic, TPMS_NV_PUBLIC, TPM2B_NV_PUBLIC, nvType, MAX_NV_INDEX_SIZE } from './nv.js';
export { type TpmsContext, TPMS_CONTEXT } from './context.js';
export {
  type TpmsAuthCommand,
  type TpmsAuthResponse,
  TPMS_AUTH_COMMAND,
  TPMS_AUTH_RESPONSE,
} from './auth-area.js';
export { type DecodedRc, decodeRc, formatRc, TpmError, RC } from './rc.js';
export {
  type ParsedCommand,
  type CommandShape,
  buildCommand,
  parseCommand,
  commandName,
  commandShape,
  COMMAND_SHAPES,
  HEADER_SIZE,
  MAX_MESSAGE_SIZE,
} from './command.js';
export { type ParsedResponse, parseResponse } from './response.js';
export * as commands from './commands.js';
export { type TpmCommand, TPML_DIGEST, TPML_DIGEST_VALUES, RESPONSE_PARSERS } from './commands.js';
export { kdfa, kdfe } from './kdf.js';
export { aesCfb, createEncryptedSecret } from './crypto.js';
export { objectName, nvName, handleName } from './names.js';
export {
  type Session,
  type SessionUse,
  type AuthSessionType,
  PasswordSession,
  AuthSession,
  deriveSessionKey,
  prepareSessions,
  trimAuth,
} from './sessions.js';
export { PolicyCalculator, pcrDigest } from './policy.js';
export {
  type PcrEvent,
  PcrBank,
  predictPcrs,
  uefiVariableData,
  EFI_GLOBAL_VARIABLE,
  EFI_IMAGE_SECURITY_DATABASE,
  LSVMLOAD_PCR,
  LSVMLOAD_SCENARIO_EVENTS,
  extendLsvmloadScenario,
  capLsvmload,
} from './pcr-predict.js';
export { type TpmTransport, SerialQueue } from './transports/transport.js';
export { SwtpmTransport, SWTPM_CTRL } from './transports/swtpm.js';
export { MssimTransport, MSSIM } from './transports/mssim.js';
export { DeviceTransport } from './transports/device.js';
export { type TctiConfig, parseTcti, openTcti } from './tcti.js';
export { Tpm, type AuthOptions, type StartSessionOptions, type PcrValue } from './tpm.js';
export { type SwtpmInstance, startSwtpm, rebootSwtpm } from './swtpm.js';
export {
  srkTemplateRsa,
  srkTemplateEcc,
  sealedDataTemplate,
  isStorageKey,
  SRK_ATTRIBUTES,
} from './templates.js';
export {
  type SealOptions,
  type UnsealOptions,
  type SealedObject,
  type ParentSpec,
  seal,
  unseal,
  sealPolicy,
  importSealed,
  readParentPublic,
  policyPcrFromTpm,
  sealLsvmload,
  unsealLsvmload,
  type LsvmloadSealOptions,
} from './seal.js';
export { type ImportBlob, type ImportBlobOptions, createImportBlob, importInputs } from './import-blob.js';
export {
  type SystemdPrimaryAlg,
  type SystemdPcrBank,
  type SystemdPrimary,
  type SystemdSealOptions,
  type SystemdTpm2Sealed,
  type SystemdTpm2TokenFields,
  SYSTEMD_PRIMARY_ATTRIBUTES,
  SYSTEMD_SEALED_ATTRIBUTES,
  SYSTEMD_SECRET_SIZE,
  systemdPrimaryTemplate,
  systemdPcrBankAlg,
  createSystemdPrimary,
  systemdTpm2Blob,
  parseSystemdTpm2Blob,
  sealSystemdTpm2,
  unsealSystemdTpm2,
} from './systemd-tpm2.js';
export {
  type SealedKeys,
  parseSealedKeys,
  serializeSealedKeys,
  lsvmloadPolicy,
  checkLsvmloadSealedKeys,
} from './sealedkeys.js';
