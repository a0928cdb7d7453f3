import type { CliGroup } from '../group.js';
import { authenticodeGroup } from './authenticode.js';
import { cpioGroup } from './cpio.js';
import { demoGroup } from './demo.js';
import { fatGroup } from './fat.js';
import { fskGroup } from './fsk.js';
import { gptGroup } from './gpt.js';
import { guardianGroup } from './guardian.js';
import { luksGroup } from './luks.js';
import { pdkGroup } from './pdk.js';
import { peGroup } from './pe.js';
import { specializationGroup } from './specialization.js';
import { tpm2Group } from './tpm2.js';
import { uefiGroup } from './uefi.js';
import { vhdxGroup } from './vhdx.js';
// group imports: one line per group, keep alphabetical

/** Every group `lsvm --help` lists, in the order shown: the disk stack bottom-up, then trust. */
export const groups: CliGroup[] = [
  vhdxGroup,
  gptGroup,
  luksGroup,
  fatGroup,
  cpioGroup,
  tpm2Group,
  peGroup,
  authenticodeGroup,
  uefiGroup,
  guardianGroup,
  pdkGroup,
  fskGroup,
  specializationGroup,
  // group entries: one line per group
  demoGroup,
];
