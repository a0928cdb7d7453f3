import { randomBytes } from 'node:crypto';
import { MemoryFile } from '../src/index.js';

/** A deterministic-enough pattern: random blocks interleaved with zero runs, `size` bytes. */
export function mixedData(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  const piece = 256 * 1024;
  for (let off = 0, i = seed; off < size; off += piece, i++) {
    if (i % 3 !== 0) out.set(randomBytes(Math.min(piece, size - off)), off);
  }
  return out;
}

/** A MemoryFile wrapper that fails every write after the first `n`, simulating a crash. */
export class CrashingFile extends MemoryFile {
  writes = 0;
  constructor(
    initial: Uint8Array,
    private readonly failAfter: number,
  ) {
    super(initial.slice());
  }
  override async write(offset: number, data: Uint8Array): Promise<void> {
    if (this.writes >= this.failAfter) throw new Error(`injected crash at write ${this.writes}`);
    this.writes++;
    await super.write(offset, data);
  }
}

export function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
