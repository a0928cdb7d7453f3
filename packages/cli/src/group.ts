import type { Command } from 'commander';
import type { CliContext } from './context.js';

/**
 * A command group (`lsvm gpt …`, `lsvm luks …`). Each lives in `groups/<name>.ts`, parses
 * arguments and prints results, and calls only the public API of the format packages: no format
 * logic lives in the CLI.
 */
export interface CliGroup {
  /** Group name as typed: `gpt`, `vhdx`, `luks`… */
  name: string;
  /** One line for `lsvm --help`. */
  description: string;
  /** Adds the group's subcommands to `group` (already created with the name and description). */
  register(group: Command, ctx: CliContext): void;
}
