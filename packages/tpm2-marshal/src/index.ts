/**
 * @lsvm/tpm2-marshal — TPM 2.0 structures, commands, sessions, policies and transports in pure TypeScript.
 * @packageDocumentation
 */
export {};
