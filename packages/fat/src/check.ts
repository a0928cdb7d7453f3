import { parseBootSector } from './boot-sector.js';
import { DIR_ENTRY_SIZE } from './dir-entry.js';
import { type DirectoryItem, foldName, parseDirectory } from './directory.js';
import { FAT_FREE } from './fat-table.js';
import type { FatFileSystem } from './filesystem.js';
import { parseFsInfo } from './fsinfo.js';

/** One problem {@link checkFat} found. */
export interface FatFinding {
  /** Stable identifier, e.g. `FAT_CROSS_LINKED`, `FAT_LOST_CLUSTERS`. */
  code: string;
  message: string;
  /** The file or directory concerned, when there is one. */
  path?: string;
  /** The cluster concerned, when there is one. */
  cluster?: number;
}

/** What {@link checkFat} returns. */
export interface FatCheckReport {
  /** True when nothing was found. */
  clean: boolean;
  findings: FatFinding[];
  files: number;
  directories: number;
  /** Clusters referenced by files and directories. */
  usedClusters: number;
  /** Clusters marked free in the FAT. */
  freeClusters: number;
  /** Clusters allocated in the FAT but referenced by nothing. */
  lostClusters: number;
}

/**
 * Checks a FAT volume read-only, the way `fsck.fat -n` does: FAT copies equal, media byte,
 * backup boot sector and FSInfo (FAT32), then a walk of every directory checking each cluster
 * chain (bad ends, free or out-of-range clusters, loops, clusters cross-linked between files),
 * file sizes against chain lengths, `.` and `..` entries, duplicate names, orphaned long-name
 * entries, and finally clusters allocated but referenced by nothing (lost). Limits from the file
 * system bound the walk.
 */
export async function checkFat(fs: FatFileSystem): Promise<FatCheckReport> {
  // The check reads the device (FAT copies, FSInfo): it must hold what the caller changed.
  await fs.writeBack();
  const findings: FatFinding[] = [];
  const add = (f: FatFinding): void => {
    if (findings.length < 10000) findings.push(f);
  };
  const g = fs.geometry;
  const bs = fs.bootSector;
  const fat = fs.fat;
  const bps = g.bytesPerSector;
  const dev = fs.device;

  // FAT copies must be equal (unless FAT32 mirroring is off).
  const mirrored = !(g.type === 32 && bs.extFlags & 0x80);
  if (mirrored) {
    for (let k = 1; k < g.numFats; k++) {
      const copy = await dev.read((g.firstFatSector + k * g.fatSectors) * bps, fat.bytes.length);
      if (!sameFatEntries(fat.bytes, copy, g.type, g.clusterCount)) {
        add({ code: 'FAT_COPIES_DIFFER', message: `FAT copy ${k + 1} differs from FAT copy 1` });
      }
    }
  }
  if ((fat.get(0) & 0xff) !== bs.media) {
    add({
      code: 'FAT_MEDIA_MISMATCH',
      message: `FAT[0] media byte 0x${(fat.get(0) & 0xff).toString(16)} differs from the boot sector's 0x${bs.media.toString(16)}`,
    });
  }
  if (g.type === 32 && bs.backupBootSector !== 0 && bs.backupBootSector !== 0xffff) {
    if (bs.backupBootSector >= bs.reservedSectors) {
      add({
        code: 'FAT_BACKUP_BOOT',
        message: `backup boot sector ${bs.backupBootSector} lies outside the reserved region`,
      });
    } else {
      const primary = await dev.read(0, 512);
      const backup = await dev.read(bs.backupBootSector * bps, 512);
      let same = true;
      try {
        parseBootSector(backup);
        for (let i = 0; i < 512; i++) if (primary[i] !== backup[i]) same = false;
      } catch {
        same = false;
      }
      if (!same) add({ code: 'FAT_BACKUP_BOOT', message: 'backup boot sector differs from the boot sector' });
    }
  }

  // Walk the tree, claiming clusters. owner[c] = id of the chain holding c (0: none).
  const owner = new Int32Array(fat.maxCluster + 1);
  const ownerPath: string[] = [''];
  let used = 0;
  let files = 0;
  let directories = 0;
  let total = 0;

  /** Claims a chain; returns the clusters that are validly part of it. */
  const claim = (start: number, path: string): number[] => {
    const id = ownerPath.length;
    ownerPath.push(path);
    const out: number[] = [];
    let c = start;
    for (;;) {
      if (!fat.isValidCluster(c)) {
        add({
          code: 'FAT_BAD_CHAIN',
          message: `${out.length === 0 ? 'first cluster' : `cluster after ${out[out.length - 1]}`} is ${c}, outside 2…${fat.maxCluster}`,
          path,
          cluster: c,
        });
        return out;
      }
      if (owner[c] === id) {
        add({
          code: 'FAT_CHAIN_LOOP',
          message: `cluster chain loops back to cluster ${c}`,
          path,
          cluster: c,
        });
        return out;
      }
      if (owner[c] !== 0) {
        add({
          code: 'FAT_CROSS_LINKED',
          message: `cluster ${c} is also used by ${ownerPath[owner[c]!]}`,
          path,
          cluster: c,
        });
        return out;
      }
      const next = fat.get(c);
      if (next === FAT_FREE) {
        add({
          code: 'FAT_FREE_IN_CHAIN',
          message: `cluster ${c} is in a chain but marked free`,
          path,
          cluster: c,
        });
        return out;
      }
      if (next === fat.bad) {
        add({ code: 'FAT_BAD_CLUSTER_IN_CHAIN', message: `cluster ${c} is marked bad`, path, cluster: c });
        return out;
      }
      owner[c] = id;
      used++;
      out.push(c);
      if (fat.isEoc(next)) return out;
      if (!fat.isValidCluster(next)) {
        add({
          code: 'FAT_BAD_CHAIN_END',
          message: `cluster ${c} points to invalid cluster ${next}`,
          path,
          cluster: c,
        });
        return out;
      }
      c = next;
    }
  };

  const cs = g.clusterSize;
  const readChain = async (clusters: number[]): Promise<Uint8Array> => {
    const maxBytes = fs.limits.maxDirectoryEntries * DIR_ENTRY_SIZE;
    const n = Math.min(clusters.length, Math.max(1, Math.floor(maxBytes / cs)));
    const out = new Uint8Array(n * cs);
    for (let i = 0; i < n; i++) {
      await dev.readInto(
        out.subarray(i * cs, (i + 1) * cs),
        (g.firstDataSector + (clusters[i]! - 2) * (cs / bps)) * bps,
      );
    }
    return out;
  };

  interface Pending {
    bytes: Uint8Array;
    path: string;
    cluster: number;
    parentCluster: number;
    depth: number;
    isRoot: boolean;
  }
  const queue: Pending[] = [];
  if (g.type === 32) {
    const chain = claim(g.rootCluster, '/');
    queue.push({
      bytes: await readChain(chain),
      path: '/',
      cluster: g.rootCluster,
      parentCluster: 0,
      depth: 0,
      isRoot: true,
    });
  } else {
    const bytes = await dev.read(g.rootDirSector * bps, g.rootDirSectors * bps);
    queue.push({ bytes, path: '/', cluster: 0, parentCluster: 0, depth: 0, isRoot: true });
  }
  while (queue.length > 0) {
    const d = queue.shift()!;
    const parsed = parseDirectory(d.bytes);
    if (parsed.orphanLfnSlots.length > 0) {
      add({
        code: 'FAT_ORPHAN_LFN',
        message: `${parsed.orphanLfnSlots.length} long-name entries belong to no file`,
        path: d.path,
      });
    }
    const seenNames = new Map<string, DirectoryItem>();
    const dots = parsed.items.filter((i) => i.isDotEntry);
    if (!d.isRoot) {
      const dot = parsed.items[0];
      const dotdot = parsed.items[1];
      if (dot?.slot !== 0 || String.fromCharCode(...dot.entry.name) !== '.          ') {
        add({ code: 'FAT_BAD_DOT', message: "first entry is not '.'", path: d.path });
      } else if (dot.entry.firstCluster !== d.cluster) {
        add({
          code: 'FAT_BAD_DOT',
          message: `'.' points to cluster ${dot.entry.firstCluster}, not ${d.cluster}`,
          path: d.path,
        });
      }
      const wantParent = d.parentCluster;
      if (dotdot?.slot !== 1 || String.fromCharCode(...dotdot.entry.name) !== '..         ') {
        add({ code: 'FAT_BAD_DOTDOT', message: "second entry is not '..'", path: d.path });
      } else if (dotdot.entry.firstCluster !== wantParent) {
        add({
          code: 'FAT_BAD_DOTDOT',
          message: `'..' points to cluster ${dotdot.entry.firstCluster}, not ${wantParent}`,
          path: d.path,
        });
      }
    } else if (dots.length > 0) {
      add({ code: 'FAT_BAD_DOT', message: "the root directory holds '.' or '..' entries", path: '/' });
    }
    for (const item of parsed.items) {
      if (item.isDotEntry) continue;
      if (++total > fs.limits.maxTotalEntries) {
        add({
          code: 'FAT_LIMIT_ENTRIES',
          message: `more than ${fs.limits.maxTotalEntries} entries; check stopped`,
        });
        queue.length = 0;
        break;
      }
      const path = d.path === '/' ? `/${item.name}` : `${d.path}/${item.name}`;
      const key = foldName(item.name);
      if (seenNames.has(key))
        add({ code: 'FAT_DUPLICATE_NAME', message: `name '${item.name}' appears twice`, path });
      seenNames.set(key, item);
      const e = item.entry;
      if (item.isDirectory) {
        directories++;
        if (e.firstCluster === 0) {
          add({ code: 'FAT_BAD_DIRECTORY', message: 'directory has no cluster', path });
          continue;
        }
        if (d.depth + 1 > fs.limits.maxDepth) {
          add({
            code: 'FAT_LIMIT_DEPTH',
            message: `deeper than ${fs.limits.maxDepth} levels; not descended`,
            path,
          });
          continue;
        }
        if (fat.isValidCluster(e.firstCluster) && owner[e.firstCluster] !== 0) {
          // Already claimed: a directory entry pointing at another directory (a loop) or a file.
          add({
            code: 'FAT_CROSS_LINKED',
            message: `cluster ${e.firstCluster} is also used by ${ownerPath[owner[e.firstCluster]!]}`,
            path,
            cluster: e.firstCluster,
          });
          continue;
        }
        const chain = claim(e.firstCluster, path);
        if (chain.length === 0) continue;
        if (e.fileSize !== 0)
          add({ code: 'FAT_DIRECTORY_SIZE', message: `directory has size ${e.fileSize}, not 0`, path });
        queue.push({
          bytes: await readChain(chain),
          path,
          cluster: e.firstCluster,
          parentCluster: d.isRoot ? 0 : d.cluster,
          depth: d.depth + 1,
          isRoot: false,
        });
      } else {
        files++;
        const need = Math.ceil(e.fileSize / cs);
        if (e.firstCluster === 0) {
          if (e.fileSize !== 0) {
            add({ code: 'FAT_SIZE_MISMATCH', message: `file of ${e.fileSize} bytes has no clusters`, path });
          }
          continue;
        }
        const chain = claim(e.firstCluster, path);
        if (chain.length === 0) continue;
        if (e.fileSize === 0) {
          add({ code: 'FAT_SIZE_MISMATCH', message: `empty file owns ${chain.length} clusters`, path });
        } else if (chain.length > need) {
          add({
            code: 'FAT_SIZE_MISMATCH',
            message: `file of ${e.fileSize} bytes has ${chain.length} clusters, ${need} expected`,
            path,
          });
        } else if (chain.length < need) {
          add({
            code: 'FAT_SIZE_MISMATCH',
            message: `file of ${e.fileSize} bytes has only ${chain.length} clusters, ${need} needed`,
            path,
          });
        }
      }
    }
  }

  // Lost clusters: allocated (not free, not bad) but owned by nothing.
  let lost = 0;
  let free = 0;
  let firstLost = 0;
  for (let c = 2; c <= fat.maxCluster; c++) {
    const v = fat.get(c);
    if (v === FAT_FREE) free++;
    else if (v !== fat.bad && owner[c] === 0) {
      if (lost === 0) firstLost = c;
      lost++;
    }
  }
  if (lost > 0) {
    add({
      code: 'FAT_LOST_CLUSTERS',
      message: `${lost} clusters are allocated but used by nothing`,
      cluster: firstLost,
    });
  }
  if (
    g.type === 32 &&
    bs.fsInfoSector !== 0 &&
    bs.fsInfoSector !== 0xffff &&
    bs.fsInfoSector < bs.reservedSectors
  ) {
    try {
      const info = parseFsInfo(await dev.read(bs.fsInfoSector * bps, 512));
      if (info.freeCount !== 0xffffffff && info.freeCount !== free) {
        add({
          code: 'FAT_FSINFO_FREE',
          message: `FSInfo says ${info.freeCount} free clusters, the FAT has ${free}`,
        });
      }
    } catch {
      add({ code: 'FAT_FSINFO', message: 'FSInfo sector is damaged' });
    }
  }
  if (g.type !== 12) {
    const bit = g.type === 16 ? 0x8000 : 0x08000000;
    if ((fat.get(1) & bit) === 0)
      add({ code: 'FAT_DIRTY', message: 'the volume is marked dirty (not cleanly unmounted)' });
  }
  return {
    clean: findings.length === 0,
    findings,
    files,
    directories,
    usedClusters: used,
    freeClusters: free,
    lostClusters: lost,
  };
}

/** Compares two FAT copies entry by entry for the entries that exist (trailing slack ignored). */
function sameFatEntries(a: Uint8Array, b: Uint8Array, type: number, clusters: number): boolean {
  const bytes = Math.min(a.length, Math.ceil(((clusters + 2) * type) / 8));
  for (let i = 0; i < bytes; i++) if (a[i] !== b[i]) return false;
  return true;
}
