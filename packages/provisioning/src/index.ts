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
