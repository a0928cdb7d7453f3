import { MemoryDevice, SliceDevice } from '@lsvm/core';
import type { DiskIdentity, ProtectedPartition } from '../src/index.js';

/** A small in-memory "template disk": ESP (unprotected), boot and root, 512-byte sectors. */
export interface TestDisk {
  disk: MemoryDevice;
  identity: DiskIdentity;
  esp: ProtectedPartition;
  boot: ProtectedPartition;
  root: ProtectedPartition;
  /** Every partition, as the GPT lists them. */
  all: ProtectedPartition[];
}

export const ESP_TYPE = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
export const LINUX_TYPE = '0fc63daf-8483-4772-8e79-3d69d8477de4';

/** Deterministic bytes (xorshift), so failures reproduce. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Sizes in sectors; the root's length is deliberately not a multiple of the block size. */
export function makeDisk(options: { bootSectors?: number; rootSectors?: number } = {}): TestDisk {
  const espFirst = 2048;
  const espSectors = 2048;
  const bootFirst = espFirst + espSectors;
  const bootSectors = options.bootSectors ?? 2048;
  const rootFirst = bootFirst + bootSectors;
  const rootSectors = options.rootSectors ?? 4096 + 24;
  const size = (rootFirst + rootSectors + 34) * 512;
  const disk = new MemoryDevice(pattern(size, 7));
  const part = (
    index: number,
    first: number,
    sectors: number,
    role: ProtectedPartition['role'],
    typeGuid: string,
  ): ProtectedPartition => ({
    device: new SliceDevice(disk, first * 512, sectors * 512),
    index,
    role,
    partitionGuid: `6a0c1e5d-0000-4000-8000-00000000000${index}`,
    typeGuid,
    firstLba: first,
    lastLba: first + sectors - 1,
  });
  const esp = part(1, espFirst, espSectors, 'other', ESP_TYPE);
  const boot = part(2, bootFirst, bootSectors, 'boot', LINUX_TYPE);
  const root = part(3, rootFirst, rootSectors, 'root', LINUX_TYPE);
  return {
    disk,
    identity: { diskGuid: '0d15c0de-1234-4abc-9def-0123456789ab', sectorSize: 512 },
    esp,
    boot,
    root,
    all: [esp, boot, root],
  };
}
