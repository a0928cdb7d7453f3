/**
 * The boot side of a Linux Shielded VM (issue 12): what lsvmload does at every boot, in user
 * space against a (software) TPM — {@link bootUnlock}; its maintenance boot — {@link applyDbxUpdate};
 * and the static checks — {@link validateBootPath}. Re-exported by the package index.
 * @packageDocumentation
 */
export {
  type BootStep,
  type BootStepStatus,
  type BootReport,
  BootStepFailure,
  BootStepRecorder,
} from './report.js';
export {
  ESP_PATHS,
  BOOT_FS_PATHS,
  type VmDisk,
  type LuksPartition,
  openVmDisk,
  readLsvmConf,
  readEspFile,
  findLuksPartition,
} from './disk.js';
export { type GrubDefault, findGrubDefault, stripGrubDevice, bootFsCandidates } from './grub-cfg.js';
export { type DefaultInitrd, readDefaultInitrd, injectInitrdKeys } from './initrd.js';
export { specializedName, applySpecialization } from './specialize.js';
export { firmwareEvents, predictUnsealPcrs } from './firmware.js';
export {
  lsvmloadBanks,
  extendEvent,
  measureFirmware,
  measureScenario,
  capPcr11,
  policySatisfiable,
} from './pcr.js';
export { MICROSOFT_UEFI_CA_2011_BASE64, microsoftUefiCa2011 } from './microsoft-ca.js';
export {
  type BootChainInput,
  type ChainLink,
  type BootChainResult,
  verifyLink,
  verifyBootChain,
  shimVendorTrust,
} from './chain.js';
export { type BootUnlockOptions, type BootUnlockResult, bootUnlock } from './unlock.js';
export { type ValidateBootPathOptions, type BootValidation, validateBootPath } from './validate.js';
export {
  DBX_UPDATE_PATH,
  type ApplyDbxUpdateOptions,
  type DbxUpdateResult,
  appendToDbx,
  applyDbxUpdate,
} from './dbx-update.js';
