/**
 * `pnpm fuzz [--target NAME] [--time SECONDS] [--runs N] [--seed N] [--replay FILE]` — runs every
 * fuzz target of the workspace (packages/*\/fuzz/*.fuzz.ts) or the named one: corpus replay, then
 * mutation. Exits 1 on the first failing target (after running the rest), 2 on bad usage.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type FuzzTarget, describeResult, discoverTargets, runTarget } from './runner.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function usage(msg?: string): never {
  if (msg) process.stderr.write(`fuzz: ${msg}\n`);
  process.stderr.write(
    'usage: pnpm fuzz [--target NAME[,NAME]] [--time SECONDS] [--runs N] [--seed N] [--replay FILE] [--dir DIR] [--list]\n' +
      '  --time        mutation time per target (default 10)\n' +
      '  --runs        maximum mutated inputs per target (default unlimited)\n' +
      '  --max-input-ms  per-input time budget before an input counts as a hang (default 2000)\n' +
      '  --max-alloc-mb  largest single allocation allowed (default 256)\n' +
      '  --max-heap-mb   heap bound (default 512)\n' +
      '  --replay FILE   run one saved input against --target and report\n' +
      '  --dir DIR       look for *.fuzz.ts in DIR instead of packages/*/fuzz\n',
  );
  process.exit(2);
}

let args: ReturnType<typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean' }> }>>['values'];
try {
  args = parseArgs({
    options: {
      target: { type: 'string' },
      time: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      replay: { type: 'string' },
      dir: { type: 'string' },
      list: { type: 'boolean' },
      json: { type: 'boolean' },
      'max-input-ms': { type: 'string' },
      'max-alloc-mb': { type: 'string' },
      'max-heap-mb': { type: 'string' },
      help: { type: 'boolean' },
    },
    allowPositionals: false,
  }).values;
} catch (e) {
  usage((e as Error).message);
}
if (args.help) usage();

const num = (v: unknown, d: number, name: string): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) usage(`--${name} must be a non-negative number`);
  return n;
};

const dirs =
  typeof args.dir === 'string'
    ? [resolve(args.dir)]
    : readdirSync(join(root, 'packages'))
        .sort()
        .map((p) => join(root, 'packages', p, 'fuzz'));
let targets: FuzzTarget[] = discoverTargets(dirs);
if (args.list) {
  for (const t of targets) process.stdout.write(`${t.name}\t${relative(root, t.file)}\n`);
  process.exit(0);
}
if (typeof args.target === 'string') {
  const want = new Set(args.target.split(','));
  const unknown = [...want].filter((w) => !targets.some((t) => t.name === w));
  if (unknown.length > 0) usage(`unknown target(s): ${unknown.join(', ')} (see --list)`);
  targets = targets.filter((t) => want.has(t.name));
}
if (targets.length === 0) usage('no fuzz targets found');

const replay = typeof args.replay === 'string' ? resolve(args.replay) : undefined;
if (replay && !existsSync(replay)) usage(`no such file ${replay}`);
if (replay && targets.length !== 1) usage('--replay needs exactly one --target');

const seed = num(args.seed, Date.now() % 0x7fffffff, 'seed');
const opts = {
  timeMs: num(args.time, 10, 'time') * 1000,
  runs: args.runs === undefined ? Number.POSITIVE_INFINITY : num(args.runs, 0, 'runs'),
  seed,
  maxInputMs: num(args['max-input-ms'], 2000, 'max-input-ms'),
  maxAllocBytes: num(args['max-alloc-mb'], 256, 'max-alloc-mb') * 1024 * 1024,
  maxHeapBytes: num(args['max-heap-mb'], 512, 'max-heap-mb') * 1024 * 1024,
};

const hint = (t: FuzzTarget) => (file: string) =>
  `pnpm fuzz --target ${t.name} --replay ${relative(process.cwd(), file)}`;
if (!args.json)
  process.stderr.write(`fuzz: ${targets.length} target(s), seed ${seed}, ${opts.timeMs / 1000} s each\n`);
let failed = 0;
const results = [];
for (const t of targets) {
  const r = await runTarget(t, {
    ...opts,
    ...(replay
      ? { extraInputs: [{ name: 'replay', bytes: new Uint8Array(readFileSync(replay)) }], replayOnly: true }
      : {}),
  });
  results.push(r);
  if (!r.ok) failed++;
  if (!args.json) process.stdout.write(`${describeResult(r, hint(t), (f) => relative(process.cwd(), f))}\n`);
}
if (args.json) process.stdout.write(`${JSON.stringify({ seed, results }, null, 2)}\n`);
if (!args.json) process.stdout.write(`fuzz: ${targets.length - failed} passed, ${failed} failed\n`);
process.exit(failed > 0 ? 1 : 0);
