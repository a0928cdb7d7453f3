/**
 * CRC-32 and CRC-32C of @lsvm/core (GPT and VHDX checksums) against node's zlib.crc32 (native
 * zlib, SIMD where available) over 256 MiB in memory. A yardstick for the slicing-by-8 loop.
 */
import * as zlib from 'node:zlib';
import { crc32, crc32Portable, crc32c } from '@lsvm/core';
import type { Benchmark } from '../harness.js';

const SIZE = 256 * 1024 * 1024;

export const benchmark: Benchmark = {
  name: 'crc',
  description: 'CRC-32 / CRC-32C throughput (pure TypeScript) vs zlib.crc32 (native)',
  async setup() {
    const data = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 4096) data[i] = (i * 2654435761) >>> 24;
    const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    const peer = native
      ? { name: 'zlib.crc32 (native)', runner: { kind: 'fn' as const, run: async () => void native(data) } }
      : { name: 'zlib.crc32 (native)', missing: 'zlib.crc32 needs Node ≥ 20.15' };
    return [
      {
        name: 'CRC-32 (IEEE), 256 MiB (uses zlib where node has it)',
        bytes: SIZE,
        ours: { kind: 'fn', run: async () => void crc32(data) },
        peers: [peer],
      },
      {
        name: 'CRC-32 (IEEE), 256 MiB, portable TypeScript loop',
        bytes: SIZE,
        ours: { kind: 'fn', run: async () => void crc32Portable(data) },
        peers: [peer],
      },
      {
        name: 'CRC-32C (Castagnoli), 256 MiB',
        bytes: SIZE,
        ours: { kind: 'fn', run: async () => void crc32c(data) },
        peers: [peer],
      },
    ];
  },
};
