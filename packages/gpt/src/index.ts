/**
 * @lsvm/gpt — GUID Partition Table and protective MBR: read, validate, repair, create, edit.
 * @packageDocumentation
 */
export {};
