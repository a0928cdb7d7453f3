import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '@lsvm/core';
import {
  type PdkInfo,
  type PdkPolicy,
  type PdkSecrets,
  createPdk,
  grantPdk,
  openPdk,
  parseViqSpec,
  readGuardianDir,
  readGuardianPublic,
  readPdk,
  revokePdk,
  zeroSecrets,
} from '@lsvm/shielding-data';
import type { CliGroup } from '../group.js';
import { safeText } from '../terminal-safe.js';
import { certView, readInput, writeFileAtomic } from './guardian.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * `lsvm pdk …` — shielding data files: create, show (clear parts; exit 1 if signatures fail),
 * open (secrets; exit 5 if the guardian is not authorised), grant and revoke guardians.
 */
export const pdkGroup: CliGroup = {
  name: 'pdk',
  description: 'shielding data files (.pdk): create, show, open, grant, revoke',
  register(cmd, ctx) {
    cmd
      .command('create')
      .description('create a shielding data file signed by the owner')
      .requiredOption('--owner <dir>', 'owner guardian directory (with private keys)')
      .option(
        '--guardian <file>',
        'guardian metadata (.json) or directory of a fabric allowed to run the VM (repeatable)',
        collect,
        [],
      )
      .option(
        '--viq <spec>',
        "VolumeIdQualifier 'name=PATTERN,version=V,rule=R,signer=THUMB' (repeatable)",
        collect,
        [],
      )
      .option('--answer-file <file>', 'answer file (cloud-init user-data, or the specialization agent file)')
      .option('--file <file>', 'another file to protect, ≤ 384 KiB (repeatable)', collect, [])
      .option(
        '--credential <user=file>',
        'account password for USER, first line of FILE (repeatable)',
        collect,
        [],
      )
      .option(
        '--ssh-key <user=file>',
        'authorise the SSH public key(s) in FILE for USER (repeatable)',
        collect,
        [],
      )
      .option('--policy <policy>', 'shielded | encryption-supported', 'shielded')
      .requiredOption('--out <file>', 'the .pdk file to write')
      .action(
        (o: {
          owner: string;
          guardian: string[];
          viq: string[];
          answerFile?: string;
          file: string[];
          sshKey: string[];
          credential: string[];
          policy: string;
          out: string;
        }) => {
          const policy = (
            { shielded: 'Shielded', 'encryption-supported': 'EncryptionSupported' } as Record<
              string,
              PdkPolicy
            >
          )[o.policy.toLowerCase()];
          if (!policy) throw new UsageError('USAGE', '--policy must be shielded or encryption-supported');
          const owner = readGuardianDir(o.owner);
          const secrets: PdkSecrets = {
            files: o.file.map((f) => ({ name: basename(f), data: readInput(f) })),
            credentials: o.credential.map((spec) => {
              const eq = spec.indexOf('=');
              if (eq <= 0) throw new UsageError('USAGE', `--credential wants USER=FILE, not "${spec}"`);
              const raw = readInput(spec.slice(eq + 1));
              const password = new TextDecoder().decode(raw).split(/\r?\n/)[0] ?? '';
              raw.fill(0);
              return { user: spec.slice(0, eq), password };
            }),
            sshKeys: o.sshKey.flatMap((spec) => {
              const eq = spec.indexOf('=');
              if (eq <= 0) throw new UsageError('USAGE', `--ssh-key wants USER=FILE, not "${spec}"`);
              const lines = new TextDecoder()
                .decode(readInput(spec.slice(eq + 1)))
                .split(/\r?\n/)
                .map((l) => l.trim());
              return lines
                .filter((l) => l.length > 0 && !l.startsWith('#'))
                .map((key) => ({ user: spec.slice(0, eq), key }));
            }),
          };
          if (o.answerFile)
            secrets.answerFile = { name: basename(o.answerFile), data: readInput(o.answerFile) };
          const bytes = createPdk({
            owner,
            guardians: o.guardian.map(readGuardianPublic),
            viqs: o.viq.map(parseViqSpec),
            policy,
            secrets,
          });
          zeroSecrets(secrets);
          writeFileAtomic(o.out, bytes);
          const info = readPdk(bytes).info!;
          ctx.result(
            { out: o.out, bytes: bytes.length, ...summary(info) },
            safeText`${o.out}: ${bytes.length} bytes, owner "${info.owner.name}", ${info.guardians.length - 1} fabric guardian(s), ${info.viqs.length} VIQ(s)`,
          );
        },
      );

    cmd
      .command('show')
      .argument('<pdk>', 'shielding data file')
      .option('--owner-id <sha256>', 'also require this owner (signing-certificate thumbprint)')
      .description('print the clear parts (no key needed); exit 1 if a signature does not verify')
      .action((path: string, o: { ownerId?: string }) => {
        const r = readPdk(readInput(path), o.ownerId ? { expectedOwner: o.ownerId } : {});
        if (r.problem) ctx.findings();
        const p = r.pdk;
        const guardians = p.keyProtector.wrappings.map((w, i) => ({
          index: i,
          name: w.guardian.name,
          algorithm: w.algorithm,
        }));
        const view = {
          verified: r.problem === undefined,
          ...(r.problem ? { problem: r.problem.toJSON() } : {}),
          version: p.version,
          created: new Date(p.created * 1000).toISOString(),
          policy: p.policy,
          ...(r.info ? summary(r.info) : { guardians }),
          viqs: p.viqs,
          encryptedBytes: p.encrypted.ciphertext.length,
        };
        ctx.result(view, () =>
          [
            safeText`shielding data file ${path}`,
            r.problem
              ? safeText`  signatures  DO NOT VERIFY: ${r.problem.code}: ${r.problem.message}`
              : '  signatures  verified (owner signature, certificate signatures)',
            safeText`  created     ${view.created}`,
            safeText`  policy      ${p.policy}`,
            ...(r.info ? [safeText`  owner       ${r.info.owner.name}  ${r.info.owner.id}`] : []),
            '  guardians',
            ...(r.info
              ? r.info.guardians.map(
                  (g, i) => safeText`    ${i === 0 ? 'owner ' : 'fabric'} ${g.name}  ${g.algorithm}  ${g.id}`,
                )
              : guardians.map((g) => safeText`    ${g.name}  ${g.algorithm}`)),
            `  volume id qualifiers${p.viqs.length === 0 ? ' (none: any template)' : ''}`,
            ...p.viqs.map((v) => safeText`    ${v.name}  ${v.rule} ${v.version}  signer ${v.signer}`),
            safeText`  encrypted   ${p.encrypted.ciphertext.length} bytes (AES-256-GCM)`,
          ].join('\n'),
        );
      });

    cmd
      .command('open')
      .argument('<pdk>', 'shielding data file')
      .requiredOption('--guardian-key <dir>', 'guardian directory with private keys')
      .requiredOption('--out <dir>', 'directory to write the secrets to (created, mode 0700)')
      .option('--owner-id <sha256>', 'also require this owner (signing-certificate thumbprint)')
      .description('decrypt the secrets with a guardian key; exit 5 if the guardian is not authorised')
      .action((path: string, o: { guardianKey: string; out: string; ownerId?: string }) => {
        const g = readGuardianDir(o.guardianKey);
        const { info, secrets } = openPdk(readInput(path), g, o.ownerId ? { expectedOwner: o.ownerId } : {});
        try {
          mkdirSync(o.out, { recursive: true, mode: 0o700 });
          const written: string[] = [];
          const put = (rel: string, data: Uint8Array) => {
            writeFileAtomic(join(o.out, rel), data, 0o600);
            written.push(rel);
          };
          if (secrets.answerFile) {
            mkdirSync(join(o.out, 'answer-file'), { recursive: true, mode: 0o700 });
            put(join('answer-file', secrets.answerFile.name), secrets.answerFile.data);
          }
          if (secrets.files.length > 0) mkdirSync(join(o.out, 'files'), { recursive: true, mode: 0o700 });
          for (const f of secrets.files) put(join('files', f.name), f.data);
          if (secrets.credentials.length > 0)
            put(
              'credentials.json',
              new TextEncoder().encode(`${JSON.stringify(secrets.credentials, null, 2)}\n`),
            );
          if (secrets.sshKeys.length > 0)
            put('ssh-keys.json', new TextEncoder().encode(`${JSON.stringify(secrets.sshKeys, null, 2)}\n`));
          // Only names are printed: the secrets themselves stay in the files.
          ctx.result(
            { out: o.out, owner: info.owner.name, files: written },
            [
              safeText`opened with guardian "${g.name}"; wrote ${written.length} file(s) to ${o.out}:`,
              ...written.map((w) => safeText`  ${w}`),
            ].join('\n'),
          );
        } finally {
          zeroSecrets(secrets);
        }
      });

    cmd
      .command('grant')
      .argument('<pdk>', 'shielding data file')
      .requiredOption('--owner <dir>', 'owner guardian directory (with private keys)')
      .requiredOption('--guardian <file>', 'guardian metadata (.json) or directory to authorise')
      .requiredOption('--out <file>', 'the new .pdk file')
      .description('authorise another guardian (owner only)')
      .action((path: string, o: { owner: string; guardian: string; out: string }) => {
        const g = readGuardianPublic(o.guardian);
        const bytes = grantPdk(readInput(path), readGuardianDir(o.owner), g);
        writeFileAtomic(o.out, bytes);
        ctx.result(
          { out: o.out, granted: g.name, ...summary(readPdk(bytes).info!) },
          safeText`granted "${g.name}"; wrote ${o.out}`,
        );
      });

    cmd
      .command('revoke')
      .argument('<pdk>', 'shielding data file')
      .requiredOption('--owner <dir>', 'owner guardian directory (with private keys)')
      .requiredOption('--guardian <name-or-id>', 'guardian name, id (sha256), or its metadata file')
      .requiredOption('--out <file>', 'the new .pdk file')
      .description('remove a guardian (owner only); re-encrypts the secrets under a new transport key')
      .action((path: string, o: { owner: string; guardian: string; out: string }) => {
        let which = o.guardian;
        if (/\.json$/i.test(which)) which = readGuardianPublic(which).name;
        const bytes = revokePdk(readInput(path), readGuardianDir(o.owner), which);
        writeFileAtomic(o.out, bytes);
        ctx.result(
          { out: o.out, revoked: which, ...summary(readPdk(bytes).info!) },
          safeText`revoked "${which}"; wrote ${o.out}`,
        );
      });
  },
};

function summary(info: PdkInfo): Record<string, unknown> {
  return {
    policy: info.policy,
    owner: { name: info.owner.name, id: info.owner.id },
    guardians: info.guardians.map((g) => ({
      name: g.name,
      id: g.id,
      algorithm: g.algorithm,
      signing: certView(g.signing),
      encryption: certView(g.encryption),
    })),
    viqs: info.viqs,
  };
}
