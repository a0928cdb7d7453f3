/**
 * inspect-disk: VHDX (or raw) → GPT → partitions → LUKS headers and ESP files, printed as a tree.
 * Usage: pnpm example inspect-disk <disk.vhdx|disk.img>
 */
import type { BlockDevice } from '@lsvm/core';
import { FatFileSystem } from '@lsvm/fat';
import { partitionSlice, partitionTypeName, readGpt, usedPartitions } from '@lsvm/gpt';
import { readLuks } from '@lsvm/luks2';
import { openAnyDisk } from './open-disk.js';

async function fatTree(
  fs: FatFileSystem,
  dir: string,
  indent: string,
  out: string[],
  depth = 0,
): Promise<void> {
  const items = (await fs.list(dir)).filter((s) => s.name !== '.' && s.name !== '..');
  for (const [i, s] of items.entries()) {
    const last = i === items.length - 1;
    out.push(`${indent}${last ? '└─' : '├─'} ${s.name}${s.isDirectory ? '/' : ` (${s.size} bytes)`}`);
    if (s.isDirectory && depth < 6)
      await fatTree(fs, s.path, `${indent}${last ? '   ' : '│  '}`, out, depth + 1);
  }
}

async function describePartition(dev: BlockDevice, indent: string, out: string[]): Promise<void> {
  try {
    const v = await readLuks(dev);
    if (v.version === 1) {
      const h = v.header;
      const slots = h.keyslots.filter((k) => k.active).map((k) => k.index);
      out.push(
        `${indent}LUKS1 ${h.cipherName}-${h.cipherMode} ${h.keyBytes * 8}-bit key, uuid ${h.uuid}, keyslots [${slots}]`,
      );
    } else {
      const m = v.active.metadata;
      const seg = m.segments[0];
      out.push(
        `${indent}LUKS2 ${seg?.encryption ?? '?'}, uuid ${v.active.binary.uuid}, keyslots [${m.keyslots.map((k) => k.id)}], ` +
          `copies: primary ${v.primary.valid ? 'valid' : 'invalid'}, secondary ${v.secondary.valid ? 'valid' : 'invalid'}`,
      );
    }
    return;
  } catch {
    // not LUKS: try FAT
  }
  try {
    const fs = await FatFileSystem.open(dev, { readOnly: true });
    out.push(`${indent}FAT file system, label ${JSON.stringify(await fs.label())}`);
    await fatTree(fs, '/', indent, out);
    await fs.close();
  } catch {
    out.push(`${indent}(no LUKS header, no FAT file system)`);
  }
}

/** Returns the tree as lines. */
export async function main(args: string[]): Promise<string[]> {
  const path = args[0];
  if (!path) throw new Error('usage: inspect-disk <disk.vhdx|disk.img>');
  const disk = await openAnyDisk(path);
  const out: string[] = [`${path} (${disk.size} bytes, ${disk.sectorSize}-byte sectors)`];
  try {
    const { table } = await readGpt(disk);
    out.push(`└─ GPT disk ${table.diskGuid}`);
    const parts = usedPartitions(table);
    for (const [i, e] of parts.entries()) {
      const last = i === parts.length - 1;
      const size = (e.lastLba - e.firstLba + 1) * table.sectorSize;
      out.push(
        `   ${last ? '└─' : '├─'} ${e.index}: ${partitionTypeName(e.typeGuid)} "${e.name}" ${size} bytes, guid ${e.uniqueGuid}`,
      );
      await describePartition(
        partitionSlice(disk, table, e.index, { readOnly: true }),
        `   ${last ? '   ' : '│  '}   `,
        out,
      );
    }
  } finally {
    await disk.close();
  }
  return out;
}
