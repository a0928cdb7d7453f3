/**
 * TPM 2.0: unsealing a PCR-bound secret, computing a PolicyPCR digest and decoding a public area
 * with @lsvm/tpm2-marshal, side by side with tpm2-tools 5 on the same swtpm.
 *
 * Unseal: ours does Load + a salted, response-encrypted policy session + PolicyPCR + Unseal in one
 * process and one connection; tpm2-tools needs one process per step (tpm2_load,
 * tpm2_startauthsession, tpm2_policypcr, tpm2_unseal, tpm2_flushcontext) and no salt — so the
 * ratio is mostly process start-up, which is what a provisioning flow pays. Policy digest: ours is
 * offline; tpm2-tools computes it in a trial session on the TPM. Decode: the library against
 * tpm2_print (a process). The `lsvm` CLI run from sources pays ~5 s of tsx start-up on this
 * machine, which would swamp every case, so the CLI is not timed here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  PolicyCalculator,
  SRK_PERSISTENT_HANDLE,
  type SwtpmInstance,
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  TPM_ALG,
  parsePcrSelection,
  startSwtpm,
  objectName,
  unmarshal,
  unseal,
} from '../../packages/tpm2-marshal/src/index.js';
import { readFileSync } from 'node:fs';
import type { BenchCase, Benchmark } from '../harness.js';

let sw: SwtpmInstance | undefined;

export const benchmark: Benchmark = {
  name: 'tpm2',
  description:
    'TPM2 unseal / PolicyPCR digest / TPM2B_PUBLIC decode: @lsvm/tpm2-marshal vs tpm2-tools on swtpm',
  async setup(ctx) {
    const need = ['swtpm', 'tpm2_load', 'tpm2_unseal', 'tpm2_policypcr', 'tpm2_print', 'sh'];
    const missing = need.filter((t) => !ctx.which(t));
    sw = await startSwtpm();
    const env = { ...process.env, TPM2TOOLS_TCTI: sw.tcti } as Record<string, string>;
    const f = (n: string): string => join(ctx.dir, n);
    const t = (cmd: string, args: string[], input?: string): void => {
      execFileSync(cmd, args, { env, input, stdio: ['pipe', 'ignore', 'pipe'] });
    };
    t('tpm2_createprimary', ['-C', 'o', '-c', f('srk.ctx'), '-Q']);
    t('tpm2_evictcontrol', ['-C', 'o', '-c', f('srk.ctx'), String(SRK_PERSISTENT_HANDLE), '-Q']);
    t('tpm2_flushcontext', ['-t']);
    t('tpm2_startauthsession', ['-S', f('s.ctx')]);
    t('tpm2_policypcr', ['-S', f('s.ctx'), '-l', 'sha256:7,11', '-L', f('pol'), '-Q']);
    t('tpm2_flushcontext', [f('s.ctx')]);
    t(
      'tpm2_create',
      [
        '-C',
        String(SRK_PERSISTENT_HANDLE),
        '-L',
        f('pol'),
        '-i',
        '-',
        '-u',
        f('o.pub'),
        '-r',
        f('o.priv'),
        '-Q',
      ],
      'benchmark secret 32 bytes long!!',
    );
    t('tpm2_flushcontext', ['-t']);
    t('tpm2_readpublic', ['-c', String(SRK_PERSISTENT_HANDLE), '-o', f('srk.pub'), '-Q']);
    ctx.log(`swtpm on port ${sw.port}`);
    const sealed = {
      public: unmarshal(TPM2B_PUBLIC, new Uint8Array(readFileSync(f('o.pub')))),
      private: unmarshal(TPM2B_PRIVATE, new Uint8Array(readFileSync(f('o.priv')))),
    };
    const sel = parsePcrSelection('sha256:7,11');
    const inst = sw;
    const script = [
      `tpm2_load -C ${SRK_PERSISTENT_HANDLE} -u ${f('o.pub')} -r ${f('o.priv')} -c ${f('o.ctx')} -Q`,
      `tpm2_flushcontext -t`,
      `tpm2_startauthsession --policy-session -S ${f('p.ctx')}`,
      `tpm2_policypcr -S ${f('p.ctx')} -l sha256:7,11 -Q`,
      `tpm2_unseal -c ${f('o.ctx')} -p session:${f('p.ctx')} > /dev/null`,
      `tpm2_flushcontext ${f('p.ctx')}`,
      `tpm2_flushcontext -t`,
    ].join(' && ');
    const trial = [
      `tpm2_startauthsession -S ${f('t.ctx')}`,
      `tpm2_policypcr -S ${f('t.ctx')} -l sha256:7,11 -L ${f('t.pol')} -Q`,
      `tpm2_flushcontext ${f('t.ctx')}`,
    ].join(' && ');
    const peerOr = (name: string, argv: string[]) =>
      missing.length > 0
        ? { name, missing: `missing ${missing.join(', ')}` }
        : { name, runner: { kind: 'cmd' as const, argv, env } };
    const cases: BenchCase[] = [
      {
        name: 'unseal PolicyPCR(sha256:7,11) under 0x81000001 (library, salted + encrypted)',
        bytes: 0,
        ours: {
          kind: 'fn',
          run: async () => {
            const tpm = await inst.connect();
            try {
              await unseal(tpm, sealed, { pcrs: sel, parent: SRK_PERSISTENT_HANDLE });
            } finally {
              await tpm.close();
            }
          },
        },
        peers: [peerOr('tpm2-tools (5 processes, unsalted)', ['sh', '-c', script])],
      },
      {
        name: 'PolicyPCR digest, sha256:7,11 (ours offline, with a PCR read)',
        bytes: 0,
        ours: {
          kind: 'fn',
          run: async () => {
            const tpm = await inst.connect();
            try {
              const v = (await tpm.pcrRead(sel)).map((x) => x.value);
              new PolicyCalculator(TPM_ALG.SHA256).policyPcr(sel, v);
            } finally {
              await tpm.close();
            }
          },
        },
        peers: [peerOr('tpm2-tools trial session', ['sh', '-c', trial])],
      },
      {
        name: 'decode TPM2B_PUBLIC (RSA-2048 SRK): library in-process vs tpm2_print process',
        bytes: 0,
        ours: {
          kind: 'fn',
          run: async () => {
            const p = unmarshal(TPM2B_PUBLIC, new Uint8Array(readFileSync(f('srk.pub'))));
            objectName(p);
          },
        },
        peers: [
          ctx.which('tpm2_print')
            ? {
                name: 'tpm2_print',
                runner: { kind: 'cmd', argv: ['tpm2_print', '-t', 'TPM2B_PUBLIC', f('srk.pub')] },
              }
            : { name: 'tpm2_print', missing: 'tpm2-tools not installed' },
        ],
      },
    ];
    return cases;
  },
  async teardown() {
    await sw?.stop();
    sw = undefined;
  },
};
