import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** True when CI asked that no interop test may skip (`LSVM_REQUIRE_PEERS=1`). */
export const requirePeers: boolean = process.env.LSVM_REQUIRE_PEERS === '1';

const cache = new Map<string, string | undefined>();

/** Absolute path of an executable on PATH (also /sbin and /usr/sbin, where Debian puts mkfs.fat). */
export function which(name: string): string | undefined {
  if (cache.has(name)) return cache.get(name);
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  let found: string | undefined;
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      found = p;
      break;
    } catch {
      // not here
    }
  }
  cache.set(name, found);
  return found;
}

/**
 * The path of a peer tool, or `undefined` after printing why its tests are skipped. With
 * `LSVM_REQUIRE_PEERS=1` a missing peer throws instead, so CI cannot skip an interop test silently.
 */
export function peer(name: string, debianPackage?: string): string | undefined {
  const p = which(name);
  if (p) return p;
  const reason = `peer tool '${name}' not found on PATH${debianPackage ? ` (Debian package ${debianPackage})` : ''}`;
  if (requirePeers) throw new Error(`${reason}; LSVM_REQUIRE_PEERS=1 forbids skipping`);
  console.warn(`SKIP: ${reason}`);
  return undefined;
}

/**
 * `describe` when every named peer exists, a skipped `describe` (with the printed reason) otherwise.
 * Usage: `describeWithPeers(['sgdisk', 'sfdisk'], 'gpt interop', () => { ... })`.
 */
export function describeWithPeers(tools: string[], title: string, fn: () => void): void {
  const missing = tools.filter((t) => peer(t) === undefined);
  const d = missing.length === 0 ? describe : describe.skip;
  d(missing.length === 0 ? title : `${title} [skipped: missing ${missing.join(', ')}]`, fn);
}

/** Result of {@link run}. */
export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command synchronously, never through a shell; returns status and output (no throw). */
export function run(
  cmd: string,
  args: string[],
  options: { input?: string | Uint8Array; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): RunResult {
  const r = spawnSync(cmd, args, {
    input: options.input,
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: options.timeoutMs ?? 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and returns stdout, throwing with stderr on a non-zero exit. */
export function runOk(cmd: string, args: string[], options: Parameters<typeof run>[2] = {}): string {
  const r = run(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Runs a command and returns its stdout as bytes. */
export function runBytes(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, { maxBuffer: 1024 * 1024 * 1024 });
}
