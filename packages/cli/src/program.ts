import { Command, CommanderError, Option } from 'commander';
import { type LsvmError, UsageError, isLsvmError } from '@lsvm/core';
import { CliContext, type CliIo, ExitCode, exitCodeFor } from './context.js';
import { groups } from './groups/index.js';
import { VERSION } from './version.js';

/** Builds the `lsvm` program with every group registered. */
export function buildProgram(io: CliIo): { program: Command; ctx: CliContext } {
  const program = new Command('lsvm');
  const ctx = new CliContext(io, () => {
    const o = program.opts<{ json?: boolean; quiet?: boolean }>();
    return { json: o.json === true, quiet: o.quiet === true };
  });
  program
    .description(
      'Formats of Linux Shielded VMs: VHDX, GPT, LUKS, FAT, cpio, TPM 2.0, Authenticode, catalogs, shielding data.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--json', 'machine-readable result on stdout (and nothing else on stdout)'))
    .addOption(new Option('-q, --quiet', 'print only errors'))
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  for (const g of groups) {
    const cmd = program.command(g.name).description(g.description);
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    g.register(cmd, ctx);
    // Global flags are accepted after the subcommand too (`lsvm gpt show x --json`).
    applyGlobals(cmd);
  }
  return { program, ctx };
}

function applyGlobals(cmd: Command): void {
  for (const sub of cmd.commands) {
    sub.exitOverride();
    if (!sub.options.some((o) => o.long === '--json')) sub.addOption(new Option('--json').hideHelp());
    if (!sub.options.some((o) => o.long === '--quiet')) sub.addOption(new Option('-q, --quiet').hideHelp());
    applyGlobals(sub);
  }
}

/**
 * Runs the CLI with `argv` (without the node and script entries) and returns the exit code.
 * Never throws and never calls `process.exit`: the binary does that.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const { program, ctx } = buildProgram(io);
  // Let subcommand-level --json/--quiet reach the root options.
  const lifted = liftGlobalFlags(argv);
  try {
    await program.parseAsync(lifted, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return ExitCode.Ok;
      // Commander already printed its message.
      return ExitCode.Usage;
    }
    reportError(e, io);
    return exitCodeFor(e);
  }
}

function liftGlobalFlags(argv: string[]): string[] {
  const globals: string[] = argv.filter((a) => a === '--json' || a === '--quiet' || a === '-q');
  if (globals.length === 0) return argv;
  const dd = argv.indexOf('--');
  const rest = argv.filter(
    (a, i) => !((a === '--json' || a === '--quiet' || a === '-q') && (dd < 0 || i < dd)),
  );
  return [...new Set(globals)].concat(rest);
}

/** One line on stderr: `lsvm: <CODE>: <message>`; the stack only with LSVM_DEBUG=1. */
export function reportError(e: unknown, io: CliIo): void {
  const debug = io.env.LSVM_DEBUG === '1';
  if (isLsvmError(e)) {
    io.stderr.write(`lsvm: ${(e as LsvmError).code}: ${(e as LsvmError).message}\n`);
  } else if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    io.stderr.write(`lsvm: ${typeof code === 'string' ? code : 'INTERNAL'}: ${e.message}\n`);
  } else {
    io.stderr.write(`lsvm: INTERNAL: ${String(e)}\n`);
  }
  if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
}

/** Throws a usage error (exit 2) — for argument checks commander cannot express. */
export function usage(message: string): never {
  throw new UsageError('USAGE', message);
}
