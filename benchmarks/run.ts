/**
 * `pnpm bench [NAME...] [--rounds N] [--warmup N] [--json]` — runs benchmarks/<name>/bench.ts side
 * by side with their peers: a warm-up, then N rounds alternating ours and each peer, the median
 * time of each, throughput and the ratio (ours ÷ peer; above 1 we are faster). Results go to
 * benchmarks/results/<name>-<timestamp>.json. Benchmarks never fail on a figure: a target not met
 * is printed as such.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchCase, type BenchContext, type Benchmark, type Runner, lsvmArgv } from './harness.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'benchmarks');

const { values: opts, positionals } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

function which(tool: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const p = join(d, tool);
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

const available = readdirSync(benchDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(benchDir, d.name, 'bench.ts')))
  .map((d) => d.name)
  .sort();
if (opts.list) {
  process.stdout.write(`${available.join('\n')}\n`);
  process.exit(0);
}
const chosen = positionals.length > 0 ? positionals : available;
for (const c of chosen) {
  if (!available.includes(c)) {
    process.stderr.write(`bench: unknown benchmark '${c}' (available: ${available.join(', ') || 'none'})\n`);
    process.exit(2);
  }
}
const rounds = Math.max(1, Number(opts.rounds));
const warmup = Math.max(0, Number(opts.warmup));

interface Timing {
  ms: number;
  peakRssBytes?: number;
}

/** Peak RSS of a child, polled from /proc (VmHWM is the high-water mark, so the last read wins). */
function runCmd(r: Extract<Runner, { kind: 'cmd' }>): Promise<Timing> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(r.argv[0]!, r.argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...(r.env ?? {}) },
      cwd: r.cwd ?? root,
    });
    let stderr = '';
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        // exited
      }
    }, 10);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (e) => {
      clearInterval(poll);
      rej(e);
    });
    child.on('exit', (code) => {
      clearInterval(poll);
      const ms = performance.now() - t0;
      if (code !== 0) rej(new Error(`${r.argv.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
      else res({ ms, peakRssBytes: peak || undefined });
    });
  });
}

async function time(r: Runner): Promise<Timing> {
  if (r.kind === 'cmd') return runCmd(r);
  const t0 = performance.now();
  await r.run();
  return { ms: performance.now() - t0 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const fmt = (x: number, d = 1): string => x.toFixed(d);

interface Row {
  who: string;
  medianMs: number;
  mbPerS: number | null;
  peakRssBytes?: number;
  missing?: string;
  ratio?: number;
}

async function runCase(
  c: BenchCase,
  log: (m: string) => void,
): Promise<{ name: string; bytes: number; rows: Row[]; targets: unknown[] }> {
  const runners: { who: string; runner?: Runner; missing?: string }[] = [
    { who: 'ours', runner: c.ours },
    ...c.peers.map((p) =>
      'missing' in p ? { who: p.name, missing: p.missing } : { who: p.name, runner: p.runner },
    ),
  ];
  const samples = new Map<string, Timing[]>(runners.map((r) => [r.who, []]));
  for (let i = 0; i < warmup + rounds; i++) {
    for (const r of runners) {
      if (!r.runner) continue;
      const t = await time(r.runner);
      await c.afterEach?.();
      if (i >= warmup) samples.get(r.who)!.push(t);
      log(`  ${c.name}: ${r.who} round ${i + 1}/${warmup + rounds}: ${fmt(t.ms, 0)} ms`);
    }
  }
  const rows: Row[] = runners.map((r) => {
    if (!r.runner) return { who: r.who, medianMs: Number.NaN, mbPerS: null, missing: r.missing };
    const ts = samples.get(r.who)!;
    const ms = median(ts.map((t) => t.ms));
    const rss = ts.map((t) => t.peakRssBytes ?? 0).reduce((a, b) => Math.max(a, b), 0);
    return {
      who: r.who,
      medianMs: ms,
      mbPerS: c.bytes > 0 ? mbps(c.bytes, ms) : null,
      ...(rss > 0 ? { peakRssBytes: rss } : {}),
    };
  });
  const ours = rows[0]!;
  for (const r of rows.slice(1)) if (!r.missing) r.ratio = r.medianMs / ours.medianMs;
  const targets = (c.targets ?? []).map((t) => {
    const row = rows.find((r) => r.who === t.peer);
    const ratio = row?.ratio;
    return { ...t, ratio: ratio ?? null, met: ratio === undefined ? null : ratio >= t.minRatio };
  });
  return { name: c.name, bytes: c.bytes, rows, targets };
}

const allResults = [];
for (const name of chosen) {
  const mod = (await import(pathToFileURL(join(benchDir, name, 'bench.ts')).href)) as {
    benchmark: Benchmark;
  };
  const b = mod.benchmark;
  const dir = mkdtempSync(join(process.env.LSVM_BENCH_TMP ?? tmpdir(), `lsvm-bench-${name}-`));
  const log = (m: string): void => {
    if (!opts.json) process.stderr.write(`${m}\n`);
  };
  const ctx: BenchContext = { dir, root, log, lsvm: (...a) => lsvmArgv(root, ...a), which };
  try {
    log(`# ${b.name}: ${b.description}`);
    const cases = await b.setup(ctx);
    const results = [];
    for (const c of cases) {
      const r = await runCase(c, log);
      results.push(r);
      if (!opts.json) {
        process.stdout.write(`\n${b.name} — ${c.name}\n`);
        process.stdout.write(
          `  ${'who'.padEnd(28)} ${'median'.padStart(10)} ${'MB/s'.padStart(9)} ${'peak RSS'.padStart(10)}  ours is\n`,
        );
        for (const row of r.rows) {
          if (row.missing) {
            process.stdout.write(`  ${row.who.padEnd(28)} missing: ${row.missing}\n`);
            continue;
          }
          const rel = row.ratio === undefined ? '' : `${fmt(row.ratio, 2)}× its speed`;
          const rss = row.peakRssBytes ? `${fmt(row.peakRssBytes / 2 ** 20, 0)} MiB` : '-';
          process.stdout.write(
            `  ${row.who.padEnd(28)} ${`${fmt(row.medianMs, 0)} ms`.padStart(10)} ${(row.mbPerS === null ? '-' : fmt(row.mbPerS)).padStart(9)} ${rss.padStart(10)}  ${rel}\n`,
          );
        }
        for (const t of r.targets as {
          peer: string;
          minRatio: number;
          ratio: number | null;
          met: boolean | null;
          note?: string;
        }[]) {
          process.stdout.write(
            `  target vs ${t.peer}: ≥ ${t.minRatio}× — ${t.met === null ? 'not measured' : t.met ? `met (${fmt(t.ratio!, 2)}×)` : `NOT met (${fmt(t.ratio!, 2)}×)`}${t.note ? ` (${t.note})` : ''}\n`,
          );
        }
        if (c.maxRssBytes !== undefined) {
          const rss = r.rows[0]!.peakRssBytes;
          process.stdout.write(
            `  peak RSS bound ${fmt(c.maxRssBytes / 2 ** 20, 0)} MiB: ${rss === undefined ? 'not measured (in-process runner)' : rss <= c.maxRssBytes ? `met (${fmt(rss / 2 ** 20, 0)} MiB)` : `NOT met (${fmt(rss / 2 ** 20, 0)} MiB)`}\n`,
          );
        }
      }
    }
    const record = {
      benchmark: b.name,
      description: b.description,
      date: new Date().toISOString(),
      rounds,
      warmup,
      node: process.version,
      cases: results,
    };
    allResults.push(record);
    mkdirSync(join(benchDir, 'results'), { recursive: true });
    writeFileSync(
      join(benchDir, 'results', `${b.name}-${record.date.replace(/[:.]/g, '-')}.json`),
      `${JSON.stringify(record, null, 2)}\n`,
    );
    await b.teardown?.();
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}
if (opts.json) process.stdout.write(`${JSON.stringify(allResults, null, 2)}\n`);
