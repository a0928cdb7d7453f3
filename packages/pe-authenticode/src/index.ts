/**
 * @lsvm/pe-authenticode — PE/COFF parsing, Authenticode digests, signature verification and signing, UEFI signature databases.
 * @packageDocumentation
 */
export {};
