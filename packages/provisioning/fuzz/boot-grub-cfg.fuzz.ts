import { isLsvmError } from '@lsvm/core';
import { findGrubDefault } from '../src/boot/grub-cfg.js';

/**
 * Fuzz target (Jazzer.js convention): grub.cfg as lsvmload's initrd lookup reads it from the boot
 * volume. On any bytes it returns the default entry or throws an LsvmError.
 */
export function fuzz(data: Buffer): void {
  try {
    const d = findGrubDefault(new Uint8Array(data));
    if (typeof d.title !== 'string' || !Array.isArray(d.initrds)) throw new Error('malformed result');
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
