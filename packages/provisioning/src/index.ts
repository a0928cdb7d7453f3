/**
 * @lsvm/provisioning — the Linux Shielded VM flows composed from the lsvm format packages:
 * sample template, check, protect, provision, boot unlock, validate. This first slice holds the
 * pieces the flows are built from: lsvmload's configuration file, the sealed keys payload, and ext
 * file systems on BlockDevices.
 * @packageDocumentation
 */
export {
  type LsvmConf,
  type EfiVendorDir,
  type LsvmLogLevel,
  parseLsvmConf,
  serializeLsvmConf,
} from './lsvmconf.js';
export {
  type KeysPayload,
  type KeyTypeName,
  KeyType,
  MAX_KEYS_PAYLOAD,
  encodeKeysPayload,
  decodeKeysPayload,
} from './keys-payload.js';
export { type ExtFs, type MkfsExtOptions, withExtFs, mkfsExt } from './ext-fs.js';
export { type EfiApplicationOptions, makeEfiApplication } from './efi-app.js';
export {
  type SecureBootVars,
  type LoaderAuthority,
  type Pcr7Event,
  type Pcr7Prediction,
  LSVM_TEST_OWNER_GUID,
  SECURE_BOOT_VAR_FILES,
  defaultSecureBootVars,
  readSecureBootVarsDir,
  findLoaderAuthority,
  predictPcr7,
  predictPcr11,
} from './secure-boot.js';
export {
  TEST_PK_CERT_BASE64,
  TEST_KEK_CERT_BASE64,
  TEST_DB_CERT_BASE64,
  TEST_DB_KEY_PEM,
} from './test-keys.js';
export { type OpenedDisk, isVhdxPath, openDisk, withDisk } from './disk.js';
export {
  type LocatedPartition,
  type TemplateLayout,
  ESP_TYPE_GUID,
  LOADER_PATH,
  LSVMCONF_PATH,
  SEALEDKEYS_PATH,
  SPECIALIZATION_PATH,
  VSC_PATH,
  WELL_KNOWN_PASSPHRASE,
  locateTemplate,
  readLsvmConfFrom,
} from './layout.js';
export { type StepStatus, type StepReport, StepRecorder } from './steps.js';
export {
  type SampleSigner,
  type SampleTemplateOptions,
  type SampleTemplate,
  LINUX_DATA_TYPE_GUID,
  DEBIAN_SIGNED_SHIM,
  SAMPLE_KERNEL,
  SAMPLE_INITRD,
  makeSampleTemplate,
  testDbSigner,
} from './sample-template.js';
export {
  type TemplateFindingCode,
  type TemplateFinding,
  type TemplateVolumeInfo,
  type TemplateCheckReport,
  type CheckTemplateOptions,
  TEMPLATE_FINDING_CODES,
  checkTemplate,
  grubBootFiles,
  luksUuid,
} from './check.js';
export {
  type ProtectTemplateOptions,
  type ProtectReport,
  type VerifyTemplateOptions,
  type TemplateVerification,
  protectTemplate,
  verifyTemplate,
  verifyCatalogAndVolumes,
  readTemplateCatalog,
  locateWithConf,
  describeMismatch,
} from './protect.js';
export { type CloneMode, type CloneResult, cloneTemplate } from './clone.js';
export {
  type RekeyMode,
  type RekeyResult,
  REKEY_KDF,
  type ReencryptVolumeOptions,
  newVolumePassphrase,
  rekeyVolume,
  reencryptVolume,
} from './rekey.js';
export {
  type SystemdTokenResult,
  type EnrollSystemdTokenOptions,
  SYSTEMD_TOKEN_KDF,
  systemdTokenPassphrase,
  assertTokenCapable,
  enrollSystemdTpm2Token,
  systemdTpm2Tokens,
  unsealSystemdTpm2Token,
} from './systemd-token.js';
export { type ProvisionOptions, type ProvisionReport, provision } from './provision.js';
// The boot path (issue 12): lsvmload's side, from sealedkeys to an unlocked root.
export * from './boot/index.js';
