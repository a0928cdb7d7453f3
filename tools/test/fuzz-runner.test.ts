import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lsvm/testkit';

// The fuzz runner must catch the three planted faults (issue "Monorepo foundation", Harnesses):
// a TypeError, a hang and a huge allocation — and pass a well-behaved target.
const selftest = join(repoRoot, 'tools', 'fuzz-selftest');

interface FuzzJson {
  results: { ok: boolean; execs: number; failure?: { kind: string; savedTo: string } }[];
}

function fuzz(
  target: string,
  extra: string[] = [],
): { status: number; out: string; json: FuzzJson | undefined } {
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=lsvm-source',
      '--import',
      'tsx',
      join(repoRoot, 'tools/fuzz/cli.ts'),
      '--dir',
      selftest,
      '--target',
      target,
      '--time',
      '2',
      '--seed',
      '7',
      '--max-input-ms',
      '1000',
      '--json',
      ...extra,
    ],
    { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
  );
  let json: FuzzJson | undefined;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { status: r.status ?? -1, out: r.stdout + r.stderr, json };
}

afterAll(() => rmSync(join(selftest, 'crashes'), { recursive: true, force: true }));

describe('fuzz runner self-test', () => {
  test('a well-behaved target passes with executions counted', () => {
    const r = fuzz('ok');
    expect(r.status).toBe(0);
    expect(r.json?.results[0]?.ok).toBe(true);
    expect(r.json?.results[0]?.execs).toBeGreaterThan(100);
  });

  test.each([
    ['typeerror', 'exception'],
    ['hang', 'hang'],
    ['alloc', 'allocation'],
  ])('planted fault in %s is caught as %s and its input saved', (target, kind) => {
    const r = fuzz(target);
    expect(r.status).toBe(1);
    const f = r.json?.results[0]?.failure;
    expect(f?.kind).toBe(kind);
    expect(f && existsSync(f.savedTo)).toBe(true);
    // The saved input reproduces the failure on replay.
    const again = fuzz(target, ['--replay', f!.savedTo]);
    expect(again.status).toBe(1);
    expect(again.json?.results[0]?.failure?.kind).toBe(kind);
    expect(readFileSync(f!.savedTo).length).toBeGreaterThan(0);
  });

  test('bad usage exits 2', () => {
    expect(fuzz('no-such-target').status).toBe(2);
  });
});
