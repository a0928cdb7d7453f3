import { createFsk, parseFsk, parseFskAssignment, readGuardianDir, verifyFsk } from '@lsvm/shielding-data';
import { isLsvmError } from '@lsvm/core';
import type { CliGroup } from '../group.js';
import { safeText } from '../terminal-safe.js';
import { certView, readInput, writeFileAtomic } from './guardian.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** `lsvm fsk …` — specialization data files: ordered `@Name@` → value pairs, optionally signed. */
export const fskGroup: CliGroup = {
  name: 'fsk',
  description: 'specialization data files (.fsk): create, show',
  register(cmd, ctx) {
    cmd
      .command('create')
      .description('create an FSK from @Name@=value pairs, in the order given')
      .option('--set <pair>', "'@Name@=value', e.g. '@ComputerName@=vm1' (repeatable)", collect, [])
      .option('--sign <dir>', 'sign with this guardian directory’s signing key')
      .requiredOption('--out <file>', 'the .fsk file to write')
      .action((o: { set: string[]; sign?: string; out: string }) => {
        const pairs = o.set.map(parseFskAssignment);
        const bytes = createFsk(pairs, o.sign ? { signer: readGuardianDir(o.sign) } : {});
        writeFileAtomic(o.out, bytes);
        ctx.result(
          { out: o.out, pairs: pairs.length, signed: o.sign !== undefined },
          safeText`${o.out}: ${pairs.length} pair(s)${o.sign ? ', signed' : ''}`,
        );
      });

    cmd
      .command('show')
      .argument('<fsk>', 'specialization data file')
      .option('--signer-id <sha256>', 'require this signer (signing-certificate thumbprint)')
      .description('print the pairs; exit 1 if the signature does not verify')
      .action((path: string, o: { signerId?: string }) => {
        const fsk = parseFsk(readInput(path));
        let signer: ReturnType<typeof verifyFsk>;
        let problem: string | undefined;
        try {
          signer = verifyFsk(fsk, o.signerId ? { expectedSigner: o.signerId } : {});
        } catch (e) {
          if (!isLsvmError(e) || e.kind !== 'verification') throw e;
          problem = `${e.code}: ${e.message}`;
          ctx.findings();
        }
        const view = {
          signed: fsk.signature !== undefined,
          verified: fsk.signature !== undefined && problem === undefined,
          ...(problem ? { problem } : {}),
          ...(signer ? { signer: certView(signer) } : {}),
          pairs: fsk.pairs,
        };
        ctx.result(view, () =>
          [
            safeText`specialization data ${path}`,
            !fsk.signature
              ? '  signature  none'
              : problem
                ? safeText`  signature  DOES NOT VERIFY: ${problem}`
                : safeText`  signature  verified, ${signer!.subject} ${signer!.thumbprint}`,
            ...fsk.pairs.map((p) => safeText`  ${p.name} = ${p.value}`),
          ].join('\n'),
        );
      });
  },
};
