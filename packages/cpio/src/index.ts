/**
 * @lsvm/cpio — cpio newc/crc archives and multi-segment initramfs images: read, write, key injection.
 * @packageDocumentation
 */
export {};
