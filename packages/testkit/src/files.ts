import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The repository root (the folder holding pnpm-workspace.yaml). */
export const repoRoot: string = (() => {
  let d = process.cwd();
  while (!existsSync(join(d, 'pnpm-workspace.yaml'))) {
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
})();

/** `../shared/test-vectors` beside the project root, as laid out for developers and CI. */
export const sharedVectors: string = resolve(repoRoot, '..', 'shared', 'test-vectors');

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'lsvm-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Decompresses an `.xz` test vector with xz(1) and returns its bytes. */
export function readXz(path: string): Buffer {
  return execFileSync('xz', ['-dc', path], { maxBuffer: 1024 * 1024 * 1024 });
}
