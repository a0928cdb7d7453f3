import { readFileSync } from 'node:fs';
import { type LsvmError, type ProgressCallback, isLsvmError, formatSize } from '@lsvm/core';
import { jsonTerminalSafe, terminalSafeText } from './terminal-safe.js';

/**
 * Exit codes, the same for every command (issue "Monorepo foundation", CLI section).
 */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** A check ran and found problems (verify failed, tampering found, validation findings). */
  Findings: 1,
  /** Wrong command line. */
  Usage: 2,
  /** Bad input: format, checksum, limit and I/O errors. */
  BadInput: 3,
  /** Valid input using a feature lsvm does not implement. */
  Unsupported: 4,
  /** Wrong passphrase or key. */
  Auth: 5,
  /** Interrupted (AbortSignal / Ctrl-C). */
  Aborted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Maps an error to the exit code its kind calls for. */
export function exitCodeFor(e: unknown): ExitCode {
  if (!isLsvmError(e)) return ExitCode.BadInput;
  switch ((e as LsvmError).kind) {
    case 'usage':
      return ExitCode.Usage;
    case 'unsupported':
      return ExitCode.Unsupported;
    case 'auth':
      return ExitCode.Auth;
    case 'verification':
      return ExitCode.Findings;
    case 'aborted':
      return ExitCode.Aborted;
    default:
      return ExitCode.BadInput;
  }
}

/** Where the CLI writes; tests pass buffers, the binary passes the process streams. */
export interface CliIo {
  stdout: { write(s: string | Uint8Array): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  /** Reads all of stdin (for `--key-file -`). */
  readStdin(): Promise<Uint8Array>;
  env: NodeJS.ProcessEnv;
}

/** Global flags every command honours. */
export interface GlobalOptions {
  json: boolean;
  quiet: boolean;
}

/**
 * What a command handler gets: the global flags, output helpers that respect `--json` (nothing
 * else on stdout) and `--quiet`, a progress reporter that draws only on a TTY, and the exit code
 * to return.
 */
export class CliContext {
  exitCode: ExitCode = ExitCode.Ok;
  private globals: () => GlobalOptions;

  constructor(
    readonly io: CliIo,
    globals: () => GlobalOptions,
  ) {
    this.globals = globals;
  }

  get json(): boolean {
    return this.globals().json;
  }
  get quiet(): boolean {
    return this.globals().quiet;
  }

  /**
   * Prints a command's result: the JSON form with `--json`, otherwise the human text (unless
   * `--quiet`). Bigints become decimal strings in JSON.
   */
  result(value: unknown, human?: string | (() => string)): void {
    if (this.json) {
      this.io.stdout.write(`${jsonTerminalSafe(JSON.stringify(value, jsonReplacer, 2))}\n`);
      return;
    }
    if (this.quiet) return;
    const raw = typeof human === 'function' ? human() : (human ?? JSON.stringify(value, jsonReplacer, 2));
    // Whatever the group did, no control sequence from a parsed file reaches the terminal.
    const text = terminalSafeText(raw);
    if (text.length > 0) this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Informational line on stderr (suppressed by --quiet and --json), made terminal-safe. */
  info(line: string): void {
    if (!this.quiet && !this.json) this.io.stderr.write(`${terminalSafeText(line)}\n`);
  }

  /** Marks the run as "a check found problems" (exit 1) without throwing. */
  findings(): void {
    if (this.exitCode === ExitCode.Ok) this.exitCode = ExitCode.Findings;
  }

  /**
   * A progress callback drawing a bar on stderr when it is a TTY and neither --json nor --quiet is
   * set; otherwise a no-op. Call `done()` to clear the line.
   */
  progress(label: string): ProgressCallback & { done(): void } {
    const enabled = !this.json && !this.quiet && this.io.stderr.isTTY === true;
    let last = 0;
    const start = Date.now();
    const cb = ((done: number, total: number) => {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const width = 30;
      const filled = Math.round(frac * width);
      const rate = done / Math.max(0.001, (now - start) / 1000);
      this.io.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatSize(done)}/${formatSize(total)} ${formatSize(Math.round(rate))}/s`,
      );
    }) as ProgressCallback & { done(): void };
    cb.done = () => {
      if (enabled) this.io.stderr.write('\r\x1b[K');
    };
    return cb;
  }

  /** Reads a key file; `-` is stdin. The buffer is the caller's to zero. */
  async readKeyFile(path: string): Promise<Uint8Array> {
    if (path === '-') return this.io.readStdin();
    return new Uint8Array(readFileSync(path));
  }
}

/** JSON.stringify replacer: bigint → string, Uint8Array → hex. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  return value;
}
