import type { MemoryDevice } from '@lsvm/core';
import { FatFileSystem, serializeDirEntry } from '@lsvm/fat';

/**
 * Fills every free cluster of a freshly made volume with stale directory entries (`GHOST.TXT`,
 * 4096 bytes at cluster 2), as a disk whose files were deleted holds: a cluster the file system
 * links into a directory before zeroing it then shows up as entries (and cross-links) in a
 * crash state, where an all-zero free area would hide the mistake.
 */
export async function fillFreeClustersWithGarbage(device: MemoryDevice): Promise<void> {
  const fs = await FatFileSystem.open(device, { readOnly: true });
  const g = fs.geometry;
  const entry = new Uint8Array(32);
  serializeDirEntry(
    {
      name: new TextEncoder().encode('GHOST   TXT'),
      attr: 0x20,
      ntRes: 0,
      createTenth: 0,
      createTime: 0,
      createDate: 0x5021,
      accessDate: 0x5021,
      firstCluster: 2,
      writeTime: 0,
      writeDate: 0x5021,
      fileSize: 4096,
    },
    entry,
    0,
  );
  const cluster = new Uint8Array(g.clusterSize);
  for (let at = 0; at < cluster.length; at += 32) cluster.set(entry, at);
  for (let c = 2; c <= fs.fat.maxCluster; c++) {
    if (fs.fat.get(c) !== 0) continue;
    const offset = (g.firstDataSector + (c - 2) * (g.clusterSize / g.bytesPerSector)) * g.bytesPerSector;
    device.bytes.set(cluster, offset);
  }
}
