/**
 * Provisioning a 1 GiB sample template: the whole flow (copy clone + keyslot re-key) with its
 * per-step times logged, then the steps that dominate side by side with their natural peers —
 * VSC verification of boot + root vs `sha256sum` over the same bytes, the copy clone vs
 * `cp --sparse=always`, re-encryption of the root volume vs the machine's bulk AES-XTS (OpenSSL
 * through node:crypto: read, decrypt, encrypt, write the same bytes, measured in the same run),
 * and sealing to swtpm (latency, no peer).
 */
import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FileDevice, forEachChunk } from '@lsvm/core';
import { openGpt, usedPartitions } from '@lsvm/gpt';
import { reencryptJournalSize } from '@lsvm/luks2';
import { createCertificate } from '@lsvm/pe-authenticode';
import { createPdk, exportGuardian, generateGuardian } from '@lsvm/shielding-data';
import { type SwtpmInstance, Tpm, openTcti, sealLsvmload, startSwtpm } from '@lsvm/tpm2-marshal';
import {
  cloneTemplate,
  encodeKeysPayload,
  makeSampleTemplate,
  newVolumePassphrase,
  protectTemplate,
  provision,
  reencryptVolume,
  verifyTemplate,
} from '@lsvm/provisioning';
import type { BenchCase, Benchmark } from '../harness.js';

const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;
let sw: SwtpmInstance | undefined;

async function extract(disk: string, index: number, out: string): Promise<number> {
  const d = await FileDevice.open(disk);
  const t = (await openGpt(d)).table!;
  const e = usedPartitions(t).find((p) => p.index === index)!;
  const len = (e.lastLba - e.firstLba + 1) * t.sectorSize;
  const o = await FileDevice.open(out, { create: true, size: len });
  await forEachChunk(d, (c, off) => o.write(off - e.firstLba * t.sectorSize, c), {
    start: e.firstLba * t.sectorSize,
    end: e.firstLba * t.sectorSize + len,
  });
  await o.close();
  await d.close();
  return len;
}

export const benchmark: Benchmark = {
  name: 'provisioning',
  description:
    'provision a 1 GiB sample template; VSC verify vs sha256sum, clone vs cp, reencrypt vs AES-XTS',
  async setup(ctx) {
    const template = join(ctx.dir, 'template.img');
    let t0 = Date.now();
    await makeSampleTemplate(template, { size: SIZE });
    ctx.log(`sample template: ${Date.now() - t0} ms`);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cert = createCertificate({
      subject: [['CN', 'bench signer']],
      publicKey: privateKey,
      issuerKey: privateKey,
    });
    t0 = Date.now();
    const p = await protectTemplate(template, {
      signer: { certificate: cert.der, privateKey },
      name: 'Bench',
      version: '1.0.0.0',
    });
    ctx.log(`protect: ${Date.now() - t0} ms`);
    const owner = generateGuardian('Owner', { algorithm: 'p256' });
    const fabric = generateGuardian('Fabric', { algorithm: 'p256' });
    const pdk = createPdk({
      owner,
      guardians: [exportGuardian(fabric)],
      policy: 'Shielded',
      viqs: [{ name: 'Bench', version: '1.0', rule: 'Equals', signer: p.signerThumbprint }],
      secrets: {
        answerFile: { name: 'user-data', data: new TextEncoder().encode('#cloud-config\n') },
        files: [],
        credentials: [],
        sshKeys: [],
      },
    });
    sw = await startSwtpm();
    const tcti = sw.tcti;

    const boot = join(ctx.dir, 'boot.raw');
    const root = join(ctx.dir, 'root.raw');
    const bootLen = await extract(template, 2, boot);
    const rootLen = await extract(template, 3, root);
    const work = join(ctx.dir, 'root.work');
    copyFileSync(root, work);
    const out = join(ctx.dir, 'vm.img');
    const clone = join(ctx.dir, 'clone.img');
    const journalPath = join(ctx.dir, 'journal');
    const xtsOut = join(ctx.dir, 'xts.out');
    const which = (t: string) => ctx.which(t);

    const cases: BenchCase[] = [
      {
        name: 'provision 1 GiB sample (copy + keyslot), whole flow',
        bytes: SIZE,
        ours: {
          kind: 'fn',
          run: async () => {
            const r = await provision(template, out, { pdk, guardian: fabric, tcti });
            ctx.log(`    steps: ${r.steps.map((s) => `${s.step} ${s.durationMs.toFixed(0)} ms`).join(', ')}`);
          },
        },
        peers: [],
        afterEach: async () => rmSync(out, { force: true }),
      },
      {
        name: `VSC verify of boot + root (${((bootLen + rootLen) / MiB).toFixed(0)} MiB)`,
        bytes: bootLen + rootLen,
        ours: {
          kind: 'fn',
          run: async () => void (await verifyTemplate(template, { signerThumbprint: p.signerThumbprint })),
        },
        peers: which('sha256sum')
          ? [{ name: 'sha256sum', runner: { kind: 'cmd', argv: ['sha256sum', boot, root] } }]
          : [{ name: 'sha256sum', missing: 'sha256sum not on PATH' }],
      },
      {
        name: 'clone (copy) of the 1 GiB sample, raw sparse',
        bytes: SIZE,
        ours: { kind: 'fn', run: async () => void (await cloneTemplate(template, clone, 'copy')) },
        peers: [
          {
            name: 'cp --sparse=always',
            runner: { kind: 'cmd', argv: ['cp', '--sparse=always', template, clone] },
          },
        ],
        afterEach: async () => rmSync(clone, { force: true }),
      },
      {
        name: `reencrypt root (${(rootLen / MiB).toFixed(0)} MiB, LUKS2 aes-xts-plain64 512-bit)`,
        bytes: rootLen,
        ours: {
          kind: 'fn',
          run: async () => {
            const dev = await FileDevice.open(work, { readOnly: false });
            const journal = await FileDevice.open(journalPath, {
              create: true,
              size: reencryptJournalSize(MiB),
            });
            try {
              await reencryptVolume(dev, new TextEncoder().encode('passphrase'), newVolumePassphrase(), {
                journal,
              });
            } finally {
              await journal.close();
              await dev.close();
            }
          },
        },
        peers: [
          {
            name: 'node:crypto aes-256-xts read+decrypt+encrypt+write',
            runner: {
              kind: 'fn',
              run: async () => {
                const src = await FileDevice.open(root);
                const dst = await FileDevice.open(xtsOut, { create: true, size: src.size });
                const k1 = randomBytes(64);
                const k2 = randomBytes(64);
                const iv = Buffer.alloc(16);
                // OpenSSL refuses one XTS update over 16 MiB: 4 MiB pieces, one tweak per piece
                // (the cost is the bulk cipher, which is what this peer measures).
                await forEachChunk(src, async (c, off) => {
                  iv.writeUInt32LE(off / 512, 0);
                  const d = createDecipheriv('aes-256-xts', k1, iv).update(c);
                  const e = createCipheriv('aes-256-xts', k2, iv).update(d);
                  await dst.write(off, e);
                });
                await dst.flush();
                await dst.close();
                await src.close();
              },
            },
          },
        ],
        afterEach: async () => {
          copyFileSync(root, work);
          rmSync(journalPath, { force: true });
        },
      },
      {
        name: 'seal the keys payload to swtpm (PolicyPassword + PolicyPCR 7, 11)',
        bytes: 0,
        ours: {
          kind: 'fn',
          run: async () => {
            const tpm = new Tpm(await openTcti(tcti));
            try {
              await sealLsvmload(
                tpm,
                encodeKeysPayload({ boot: newVolumePassphrase(), root: newVolumePassphrase() }),
                {
                  pcrValues: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)],
                },
              );
            } finally {
              await tpm.close();
            }
          },
        },
        peers: [],
      },
    ];
    writeFileSync(join(ctx.dir, 'README'), 'provisioning benchmark scratch\n');
    return cases;
  },
  async teardown() {
    await sw?.stop();
    sw = undefined;
  },
};
