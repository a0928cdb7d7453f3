import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FatFileSystem } from '@lsvm/fat';

/** A tree of files: path (with `/`) → contents. Directories are implied, plus `dirs` for empty ones. */
export interface Tree {
  files: Map<string, Uint8Array>;
  dirs: Set<string>;
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The tree the interop tests use: long names, deep nesting, an 8.3 name, a multi-MiB file. */
export function sampleTree(bigSize: number): Tree {
  const files = new Map<string, Uint8Array>();
  files.set('/EFI/BOOT/BOOTX64.EFI', bytes(70_001, 1));
  files.set('/EFI/boot/grubx64.efi', bytes(33_333, 2));
  files.set('/EFI/ubuntu/A file with a rather long name, commas & spaces.cfg', bytes(1234, 3));
  files.set('/deep/a/b/c/d/e/f/g/h/leaf.txt', new TextEncoder().encode('leaf\n'));
  files.set('/MixedCase.Txt', bytes(10, 4));
  files.set('/lower.txt', bytes(0, 5));
  files.set('/big.bin', bytes(bigSize, 6));
  files.set('/Ünïcödé name.dat', bytes(4097, 7));
  for (let i = 0; i < 30; i++) files.set(`/many/entry number ${i}.txt`, bytes(i * 37, 100 + i));
  return { files, dirs: new Set(['/empty dir']) };
}

/** Writes a tree into a host directory. */
export function writeHostTree(root: string, tree: Tree): void {
  for (const d of tree.dirs) mkdirSync(join(root, d), { recursive: true });
  for (const [p, data] of tree.files) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), data);
  }
}

/** Reads a host directory into a tree (paths folded to what FAT would list). */
export function readHostTree(root: string): Tree {
  const files = new Map<string, Uint8Array>();
  const dirs = new Set<string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const p = `${rel}/${name}`;
      if (statSync(join(root, p)).isDirectory()) {
        dirs.add(p);
        walk(p);
      } else files.set(p, new Uint8Array(readFileSync(join(root, p))));
    }
  };
  walk('');
  return { files, dirs };
}

/** Reads a whole FAT file system into a tree through our API. */
export async function readFatTree(fs: FatFileSystem): Promise<Tree> {
  const files = new Map<string, Uint8Array>();
  const dirs = new Set<string>();
  for await (const s of fs.walk('/')) {
    if (s.isDirectory) dirs.add(s.path);
    else files.set(s.path, await fs.readFile(s.path));
  }
  return { files, dirs };
}

/** Writes a tree through our API. */
export async function writeFatTree(fs: FatFileSystem, tree: Tree): Promise<void> {
  for (const d of tree.dirs) await fs.mkdir(d, { parents: true });
  for (const [p, data] of tree.files) await fs.writeFile(p, data, { createParents: true });
}

/** Case-insensitive comparison key of a path (FAT folds case; the first spelling wins). */
const fold = (p: string): string => p.toUpperCase();

/** Expects two trees to hold the same files (case-insensitively by path) with the same bytes. */
export function expectSameTree(actual: Tree, expected: Tree): void {
  const a = new Map([...actual.files].map(([p, d]) => [fold(p), d]));
  const e = new Map([...expected.files].map(([p, d]) => [fold(p), d]));
  expect([...a.keys()].sort()).toEqual([...e.keys()].sort());
  for (const [k, d] of e) expect(Buffer.from(a.get(k)!).equals(Buffer.from(d))).toBe(true);
  const dirsOf = (t: Tree): string[] => {
    const s = new Set([...t.dirs].map(fold));
    for (const p of t.files.keys()) {
      const parts = p.split('/').slice(1, -1);
      for (let i = 1; i <= parts.length; i++) s.add(fold(`/${parts.slice(0, i).join('/')}`));
    }
    return [...s].sort();
  };
  expect(dirsOf(actual)).toEqual(dirsOf(expected));
}
