/**
 * @lsvm/luks2 — LUKS2 and LUKS1: read, validate, unlock, format, keyslots, tokens, encrypted BlockDevice.
 * @packageDocumentation
 */
export {};
