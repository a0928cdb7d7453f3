import { isLsvmError } from '@lsvm/core';
import {
  detectCompression,
  injectKeys,
  mergedView,
  parseCpio,
  parseInitramfs,
  resolveHardLinks,
  serializeCpio,
  xzStreamsLength,
  zstdFramesLength,
} from '../src/index.js';

const LIMITS = { maxEntries: 4096, maxNameSize: 4096, maxExpandedBytes: 16 << 20, maxSegments: 16 };

/**
 * Fuzz target `cpio`: the input is a cpio archive or an initramfs. It parses it as one archive
 * (re-serialising what parses), as an initramfs (segments, decompression under a 16 MiB expansion
 * limit, merged view), runs the stream-length scanners, and injects keys into what opens.
 * Contract: returns, or throws an LsvmError; nothing else.
 */
export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const guard = async (f: () => unknown): Promise<void> => {
    try {
      await f();
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  };
  await guard(() => {
    const a = parseCpio(bytes, LIMITS);
    resolveHardLinks(a.entries);
    parseCpio(serializeCpio(a.entries, { format: a.format }), LIMITS);
  });
  const kind = detectCompression(bytes);
  if (kind === 'zstd') await guard(() => zstdFramesLength(bytes));
  if (kind === 'xz') await guard(() => xzStreamsLength(bytes));
  await guard(async () => {
    const img = await parseInitramfs(bytes, LIMITS);
    mergedView(img);
    await injectKeys(img, { bootKey: new Uint8Array([1]), rootKey: new Uint8Array([2]), limits: LIMITS });
  });
}
