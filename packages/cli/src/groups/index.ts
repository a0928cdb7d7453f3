import type { CliGroup } from '../group.js';
import { demoGroup } from './demo.js';
// group imports: one line per group, keep alphabetical

/** Every group `lsvm --help` lists, in the order shown. */
export const groups: CliGroup[] = [
  // group entries: one line per group
  demoGroup,
];
