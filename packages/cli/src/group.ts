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

/**
 * A group known by name and description only, loaded when the command line selects it. Loading
 * every group means loading every format package and its field libraries (pkijs, argon2, the
 * libext2fs WebAssembly…); `lsvm gpt show` needs none of that.
 */
export interface LazyCliGroup {
  name: string;
  description: string;
  load(): Promise<CliGroup>;
}

/** What `groups/index.ts` lists: a group, or a lazily loaded one. */
export type CliGroupEntry = CliGroup | LazyCliGroup;

/** True for an entry that must be loaded before it can register its commands. */
export function isLazyGroup(g: CliGroupEntry): g is LazyCliGroup {
  return typeof (g as LazyCliGroup).load === 'function';
}
