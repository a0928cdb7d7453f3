/**
 * Types of the benchmark harness (`pnpm bench [NAME]`, benchmarks/run.ts). A benchmark lives in
 * `benchmarks/<name>/bench.ts` and exports `benchmark: Benchmark`. Benchmarks are not tests: they
 * never assert a duration; they run ours and the peer side by side, alternating, and print ratios.
 */
import { join } from 'node:path';

/** Something to time: an in-process async function or an external command. */
export type Runner =
  | { kind: 'fn'; run: () => Promise<void> }
  | { kind: 'cmd'; argv: string[]; env?: Record<string, string>; cwd?: string };

/** A peer to compare with: a runner, or the reason it is unavailable (tool missing). */
export type Peer = { name: string; runner: Runner } | { name: string; missing: string };

/** One measured operation. */
export interface BenchCase {
  /** e.g. `vhdx → raw, 2 GiB, half zeros`. */
  name: string;
  /** Bytes processed by one run, for throughput (MB/s). Use 0 for latency-only cases. */
  bytes: number;
  ours: Runner;
  peers: Peer[];
  /** Target ratios to print as met / not met: ours throughput ÷ the peer's (higher is better for us). */
  targets?: { peer: string; minRatio: number; note?: string }[];
  /** Peak RSS bound for ours, in bytes, printed as met / not met (measured for 'cmd' runners). */
  maxRssBytes?: number;
  /** Run after every round of ours and every round of a peer (e.g. delete the output file). */
  afterEach?: () => Promise<void>;
}

/** Context handed to {@link Benchmark.setup}. */
export interface BenchContext {
  /** A scratch directory, removed afterwards. */
  dir: string;
  /** Repository root. */
  root: string;
  /** Progress / notes, printed on stderr. */
  log(message: string): void;
  /** argv that runs the lsvm CLI from sources: `[node, --conditions=lsvm-source, --import, tsx, main.ts, ...args]`. */
  lsvm(...args: string[]): string[];
  /** Returns a tool's path or undefined when it is not on PATH. */
  which(tool: string): string | undefined;
}

/** A benchmark module's export. */
export interface Benchmark {
  name: string;
  description: string;
  /** Builds inputs in `ctx.dir` and returns the cases to run. */
  setup(ctx: BenchContext): Promise<BenchCase[]>;
  teardown?(): Promise<void>;
}

/** argv running the CLI from sources. */
export function lsvmArgv(root: string, ...args: string[]): string[] {
  return [
    process.execPath,
    '--conditions=lsvm-source',
    '--import',
    'tsx',
    join(root, 'packages/cli/src/main.ts'),
    ...args,
  ];
}
