/**
 * @lsvm/cli — the `lsvm` command. Importable so other tools can embed it or test against it.
 * @packageDocumentation
 */
export { runCli, buildProgram, reportError, usage } from './program.js';
export {
  CliContext,
  ExitCode,
  exitCodeFor,
  jsonReplacer,
  type CliIo,
  type GlobalOptions,
} from './context.js';
export { type CliGroup, type LazyCliGroup, type CliGroupEntry, isLazyGroup } from './group.js';
export { VERSION } from './version.js';
