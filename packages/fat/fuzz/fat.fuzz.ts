import { BaseBlockDevice, MemoryDevice, isLsvmError } from '@lsvm/core';
import { FatFileSystem, checkFat, fatGeometry, parseBootSector } from '../src/index.js';

/**
 * A read-only device of `size` bytes whose first bytes are the input and the rest zeros, so a
 * corpus file can be the metadata head of a much larger volume (a FAT32 volume is 32 MiB at least)
 * without the fuzzer carrying the zeros.
 */
class ZeroExtendedDevice extends BaseBlockDevice {
  readonly sectorSize = 512;
  readonly readOnly = true;
  constructor(
    private readonly head: Uint8Array,
    readonly size: number,
  ) {
    super();
  }
  protected async readAt(target: Uint8Array, offset: number): Promise<void> {
    target.fill(0);
    if (offset < this.head.length) target.set(this.head.subarray(offset, offset + target.length));
  }
}

const LIMITS = {
  maxFatBytes: 4 << 20,
  maxFileSize: 1 << 20,
  maxDirectoryEntries: 4096,
  maxDepth: 16,
  maxTotalEntries: 2000,
};

/**
 * Fuzz target `fat`: the input is the head of a FAT volume. It parses the boot sector, opens the
 * volume (zero-extended to the size the boot sector declares, capped), walks the tree reading
 * every file, runs the checker, and — when the volume is small enough to copy — writes, renames
 * and removes on a copy. Contract: returns, or throws an LsvmError; nothing else.
 */
export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const guard = async (f: () => Promise<unknown>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  };
  let size = bytes.length;
  await guard(async () => {
    const g = fatGeometry(parseBootSector(bytes));
    size = Math.max(bytes.length, Math.min(g.totalSectors * g.bytesPerSector, 1 << 30));
  });
  await guard(async () => {
    const fs = await FatFileSystem.open(new ZeroExtendedDevice(bytes, size), { limits: LIMITS });
    for await (const s of fs.walk()) if (!s.isDirectory) await fs.readFile(s.path);
    await checkFat(fs);
  });
  if (size <= 8 << 20) {
    await guard(async () => {
      const copy = new Uint8Array(size);
      copy.set(bytes);
      const fs = await FatFileSystem.open(new MemoryDevice(copy), { limits: LIMITS });
      await fs.writeFile('/fuzz/a long file name.bin', new Uint8Array(3000).fill(1), { createParents: true });
      await fs.rename('/fuzz/a long file name.bin', '/renamed.txt');
      await fs.remove('/renamed.txt');
      await fs.close();
      await checkFat(fs);
    });
  }
}
