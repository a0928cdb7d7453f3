import { BaseBlockDevice, isLsvmError, MemoryDevice } from '@lsvm/core';
import {
  checkVhdx,
  findActiveSequence,
  parseHeader,
  parseMetadata,
  parseRegionTable,
  VhdxDevice,
  type VhdxLimits,
} from '../src/index.js';
import { decodeSparse } from './sparse-image.js';

/**
 * Fuzz target `vhdx` (Jazzer.js convention): open + read + check of a VHDX image, and the pure
 * parsers on the raw bytes. The input is either a plain image or the compact sparse form of
 * sparse-image.ts (how the corpus stores real multi-MiB images in a few KiB). Contract: returns or
 * throws an LsvmError, nothing else.
 */

const LIMITS: Partial<VhdxLimits> = {
  maxBatEntries: 1 << 16,
  maxLogBytes: 4 << 20,
  maxMetadataBytes: 2 << 20,
  maxAllocation: 8 << 20,
  maxExpandedBytes: 64 << 20,
  maxChainDepth: 4,
};

/** Stand-in parent of differencing inputs: reads as zeros. */
class ZeroDevice extends BaseBlockDevice {
  readonly readOnly = true;
  constructor(
    readonly size: number,
    readonly sectorSize: number,
  ) {
    super();
  }
  protected async readAt(target: Uint8Array): Promise<void> {
    target.fill(0);
  }
}

async function guard(fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}

export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let file: BaseBlockDevice | undefined;
  await guard(() => {
    file = decodeSparse(bytes) ?? new MemoryDevice(bytes, { readOnly: true });
  });
  // The pure parsers, straight on the input.
  await guard(() => parseHeader(bytes));
  await guard(() => parseRegionTable(bytes));
  await guard(() => parseMetadata(bytes));
  await guard(() =>
    findActiveSequence(
      bytes.subarray(0, bytes.length - (bytes.length % 4096)),
      '00000000-0000-0000-0000-000000000001',
    ),
  );
  if (!file) return;
  const f = file;
  await guard(async () => {
    const dev = await VhdxDevice.open(f, {
      limits: LIMITS,
      resolveParent: async () => new ZeroDevice(Number.MAX_SAFE_INTEGER, 512),
      checkParentLinkage: false,
    });
    dev.info();
    const n = Math.min(dev.size, 1 << 20);
    await dev.read(0, n);
    await dev.read(dev.size - n, n);
    const mid = Math.floor(dev.size / 2);
    await dev.read(mid, Math.min(n, dev.size - mid));
    dev.mayHaveData(0, dev.size);
  });
  await guard(() => checkVhdx(f, { limits: LIMITS }));
}
