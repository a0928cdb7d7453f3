import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, IoError, MemoryDevice } from '@lsvm/core';
import { runOk } from '@lsvm/testkit';
import type { FormatOptions } from '../src/index.js';

/** Small KDF costs so the whole suite stays fast. */
export const FAST_PBKDF2 = { type: 'pbkdf2' as const, iterations: 1000 };
export const FAST_ARGON2 = { type: 'argon2id' as const, iterations: 4, memoryKiB: 8 * 1024, parallel: 1 };
export const FAST_FORMAT: FormatOptions = { kdf: FAST_PBKDF2, digestIterations: 1000 };

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `cryptsetup luksDump --dump-volume-key` → the volume key as lower-case hex. */
export function cryptsetupVolumeKey(img: string, keyFile: string, extra: string[] = []): string {
  const out = runOk('cryptsetup', [
    'luksDump',
    '--dump-volume-key',
    '--batch-mode',
    '--key-file',
    keyFile,
    ...extra,
    img,
  ]);
  const m = /MK dump:\s*([\s\S]*?)(?:\n\S|$)/.exec(out);
  if (!m) throw new Error(`no MK dump in: ${out}`);
  return m[1]!.replace(/\s+/g, '');
}

/** A sparse image file of `size` bytes. */
export function makeImage(dir: string, name: string, size: number): string {
  const p = join(dir, name);
  writeFileSync(p, new Uint8Array(0));
  runOk('truncate', ['-s', String(size), p]);
  return p;
}

export async function openRw(path: string): Promise<FileDevice> {
  return FileDevice.open(path, { readOnly: false });
}

/**
 * A device that fails (throws) on the write with index `failAt` (0-based), after optionally
 * writing the first half of it — a torn write — to model a crash in the middle of an update.
 */
export class FaultyDevice extends MemoryDevice {
  writes = 0;
  constructor(
    bytes: Uint8Array,
    readonly failAt: number,
    readonly torn: boolean,
  ) {
    super(bytes);
  }
  protected override async writeAt(data: Uint8Array, offset: number): Promise<void> {
    const i = this.writes++;
    if (i === this.failAt) {
      if (this.torn) await super.writeAt(data.subarray(0, data.length >>> 1), offset);
      throw new IoError('INJECTED', `injected fault at write ${i}`);
    }
    if (i > this.failAt) throw new IoError('INJECTED', 'device is dead');
    await super.writeAt(data, offset);
  }
}

/** Counts writes of an operation on a copy of `bytes`. */
export async function countWrites(
  bytes: Uint8Array,
  op: (d: MemoryDevice) => Promise<unknown>,
): Promise<number> {
  const d = new FaultyDevice(new Uint8Array(bytes), Number.MAX_SAFE_INTEGER, false);
  await op(d);
  return d.writes;
}
