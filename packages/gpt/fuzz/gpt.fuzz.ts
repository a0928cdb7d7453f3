import { MemoryDevice, isLsvmError } from '@lsvm/core';
import {
  checkEntries,
  decodeGptHeader,
  openGpt,
  parseEntryArray,
  parseGptHeader,
  parseMbr,
  repairGpt,
  serializeGpt,
} from '../src/index.js';

/**
 * Fuzz target `gpt`: the input is a whole disk image. It runs the pure parsers (MBR, header at
 * both sector sizes, the array the header describes), then openGpt with the sector size probed
 * and forced to 512 and 4096, re-serialises the table it trusts, and repairs a copy. Contract:
 * returns, or throws an LsvmError — never a TypeError/RangeError, a hang or a huge allocation.
 */
export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const guard = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  };
  guard(() => parseMbr(bytes));
  for (const ss of [512, 4096]) {
    guard(() => {
      const sector = bytes.subarray(ss, 2 * ss);
      decodeGptHeader(sector);
      const h = parseGptHeader(sector);
      const at = h.partitionEntryLba * ss;
      if (at < bytes.length)
        parseEntryArray(bytes.subarray(at), h.numberOfPartitionEntries, h.sizeOfPartitionEntry);
    });
  }
  for (const sectorSize of [undefined, 512, 4096] as const) {
    try {
      const disk = await openGpt(
        new MemoryDevice(bytes.slice()),
        sectorSize === undefined ? {} : { sectorSize },
      );
      if (disk.table) {
        checkEntries(disk.table);
        guard(() => serializeGpt(disk.table!, { unchecked: true, mbr: disk.mbr }));
      }
      if (sectorSize === undefined) await repairGpt(new MemoryDevice(bytes.slice()));
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  }
}
