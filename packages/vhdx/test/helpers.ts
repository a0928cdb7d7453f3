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

/**
 * A small dynamic image left with an unapplied log entry: the writer stopped after flushing the
 * log entry of a block allocation and before applying it. Returns the file bytes and the disk
 * contents the log describes.
 */
export async function dirtyImage(): Promise<{ bytes: Uint8Array; expected: Uint8Array }> {
  const { createVhdx, VhdxDevice } = await import('../src/index.js');
  const base = new MemoryFile();
  await createVhdx(base, { size: 2 * 1024 * 1024, blockSize: 1024 * 1024 });
  const data = new Uint8Array(8192).fill(0x77);
  for (let n = 1; n < 64; n++) {
    const f = new CrashingFile(base.bytes, n);
    try {
      const dev = await VhdxDevice.open(f, { readOnly: false });
      await dev.write(4096, data);
      await dev.close();
      break;
    } catch {
      // crashed at write n
    }
    const ro = await VhdxDevice.open(new MemoryFile(f.bytes.slice()));
    const content = await ro.read(0, ro.size);
    if (ro.logReplayNeeded && content[4096] === 0x77) return { bytes: f.bytes.slice(), expected: content };
  }
  throw new Error('no crash point left the log unapplied');
}
