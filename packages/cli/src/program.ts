import { Command, CommanderError, Option } from 'commander';
import { type LsvmError, UsageError, isLsvmError } from '@lsvm/core';
import { CliContext, type CliIo, ExitCode, exitCodeFor } from './context.js';
import { type CliGroupEntry, isLazyGroup } from './group.js';
import { groups } from './groups/index.js';
import { terminalSafe, terminalSafeText } from './terminal-safe.js';
import { VERSION } from './version.js';

/**
 * Builds the `lsvm` program. Every group appears (name and description); groups listed lazily are
 * loaded and get their subcommands only when named in `load` — or all of them with `'all'`.
 */
export async function buildProgram(
  io: CliIo,
  load: 'all' | readonly string[] = 'all',
  entries: readonly CliGroupEntry[] = groups,
): Promise<{ program: Command; ctx: CliContext }> {
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
  for (const entry of entries) {
    const cmd = program.command(entry.name).description(entry.description);
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    if (isLazyGroup(entry) && load !== 'all' && !load.includes(entry.name)) continue;
    const g = isLazyGroup(entry) ? await entry.load() : entry;
    cmd.description(g.description);
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
  let built: { program: Command; ctx: CliContext };
  try {
    built = await buildProgram(io, selectedGroups(argv));
  } catch (e) {
    reportError(e, io);
    return exitCodeFor(e);
  }
  const { program, ctx } = built;
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

/** The group(s) a command line names: the first positional word, or the word after `help`. */
export function selectedGroups(argv: readonly string[]): string[] {
  const words = argv.filter((a) => !a.startsWith('-'));
  const first = words[0];
  if (first === undefined) return [];
  if (first === 'help') return words[1] === undefined ? [] : [words[1]];
  return [first];
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

/**
 * One line on stderr: `lsvm: <CODE>: <message>`; the stack only with LSVM_DEBUG=1. Messages often
 * quote what a hostile file held (a name, a path), so the line is made terminal-safe, newlines in
 * it included: it stays one line.
 */
export function reportError(e: unknown, io: CliIo): void {
  const debug = io.env.LSVM_DEBUG === '1';
  const line = (code: string, message: string): void => {
    io.stderr.write(`lsvm: ${terminalSafe(code)}: ${terminalSafe(message)}\n`);
  };
  if (isLsvmError(e)) {
    line((e as LsvmError).code, (e as LsvmError).message);
  } else if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    line(typeof code === 'string' ? code : 'INTERNAL', e.message);
  } else {
    line('INTERNAL', String(e));
  }
  // The stack's first line repeats the message: escaped the same way.
  if (debug && e instanceof Error && e.stack) io.stderr.write(`${terminalSafeText(e.stack)}\n`);
}

/** Throws a usage error (exit 2) — for argument checks commander cannot express. */
export function usage(message: string): never {
  throw new UsageError('USAGE', message);
}
