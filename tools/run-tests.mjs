#!/usr/bin/env node
// `pnpm test`: runs jest over every package (arguments are passed through), then prints one plain
// closing line — "tests: N passed, N failed, N skipped" — that CI log readers understand.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const jestBin = require.resolve('jest/bin/jest');
const dir = mkdtempSync(join(tmpdir(), 'lsvm-jest-'));
const out = join(dir, 'results.json');
const r = spawnSync(process.execPath, [jestBin, '--json', `--outputFile=${out}`, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
let line = 'tests: 0 passed, 0 failed';
try {
  const j = JSON.parse(readFileSync(out, 'utf8'));
  const skipped = j.numPendingTests + j.numTodoTests;
  const failed = j.numFailedTests + (j.numRuntimeErrorTestSuites ?? 0);
  line = `tests: ${j.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
} catch {
  line = 'tests: 0 passed, 1 failed';
}
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`\n${line}\n`);
process.exit(r.status ?? 1);
