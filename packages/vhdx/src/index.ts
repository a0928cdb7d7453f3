/**
 * @lsvm/vhdx — VHDX virtual disks: read, write, log replay, differencing, create, convert, check.
 * @packageDocumentation
 */
export {};
