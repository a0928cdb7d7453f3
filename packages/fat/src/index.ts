/**
 * @lsvm/fat — FAT12/16/32 file systems: mkfs, read, write, check (the EFI System Partition).
 * @packageDocumentation
 */
export {};
