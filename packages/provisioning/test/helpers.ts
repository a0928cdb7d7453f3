import { createHash, generateKeyPairSync } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, forEachChunk } from '@lsvm/core';
import { openGpt, usedPartitions } from '@lsvm/gpt';
import { openLuks } from '@lsvm/luks2';
import { type Certificate, createCertificate } from '@lsvm/pe-authenticode';
import { type RunResult, run, runOk } from '@lsvm/testkit';
import { LSVMLOAD_SCENARIO_EVENTS, type SwtpmInstance } from '@lsvm/tpm2-marshal';
import { openDisk } from '../src/disk.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A self-signed catalog signer (the template owner's signing key). */
export function templateSigner(cn = 'lsvm test template signer'): {
  certificate: Certificate;
  privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'];
} {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificate = createCertificate({
    subject: [['CN', cn]],
    publicKey: privateKey,
    issuerKey: privateKey,
  });
  return { certificate, privateKey };
}

/**
 * Writes partition `index` of a disk (raw or VHDX, read by lsvm) to `out`. For VHDX disks the
 * tests first convert with qemu-img where a peer should do the reading.
 */
export async function extractPartition(diskPath: string, index: number, out: string): Promise<void> {
  const d = await openDisk(diskPath);
  try {
    const gpt = await openGpt(d.disk);
    const e = usedPartitions(gpt.table!).find((p) => p.index === index)!;
    const ss = gpt.table!.sectorSize;
    const dst = await FileDevice.open(out, { create: true, size: (e.lastLba - e.firstLba + 1) * ss });
    await forEachChunk(
      d.disk,
      async (chunk, off) => {
        await dst.write(off - e.firstLba * ss, chunk);
      },
      { start: e.firstLba * ss, end: (e.lastLba + 1) * ss },
    );
    await dst.close();
  } finally {
    await d.close();
  }
}

/** Decrypts a LUKS image file (opened with `passphrase`) to `out` (through lsvm's LuksDevice). */
export async function decryptToFile(luksImage: string, passphrase: Uint8Array, out: string): Promise<void> {
  const src = await FileDevice.open(luksImage);
  const plain = await openLuks(src, passphrase);
  const dst = await FileDevice.open(out, { create: true, size: plain.size });
  await forEachChunk(plain, (chunk, off) => dst.write(off, chunk));
  await dst.close();
  await plain.close();
  await src.close();
}

/** SHA-256 of a file, hex. */
export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Flips one byte of a file at `offset`. */
export function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes to dir/name and returns the path. */
export function put(dir: string, name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** Runs a tpm2-tools command against a swtpm (TPM2TOOLS_TCTI), returning status and output. */
export function tpm2Tools(sw: SwtpmInstance, cmd: string, args: string[]): RunResult {
  return run(cmd, args, { env: { ...process.env, TPM2TOOLS_TCTI: sw.tcti } });
}

/** {@link tpm2Tools}, throwing with stderr on failure; returns stdout. */
export function tpm2ToolsOk(sw: SwtpmInstance, cmd: string, args: string[]): string {
  const r = tpm2Tools(sw, cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Brings a swtpm's PCRs 7 and 11 (at reset) to what firmware and lsvmload would leave, with
 * tpm2_pcrextend: the predicted PCR 7 events, then lsvmload's three PCR 11 scenario events.
 */
export function replayPredictedPcrs(sw: SwtpmInstance, pcr7Events: { digest: string }[]): void {
  for (const e of pcr7Events) tpm2ToolsOk(sw, 'tpm2_pcrextend', [`7:sha256=${e.digest}`]);
  for (const e of LSVMLOAD_SCENARIO_EVENTS)
    tpm2ToolsOk(sw, 'tpm2_pcrextend', [`11:sha256=${createHash('sha256').update(e).digest('hex')}`]);
}

/** The loader (`\EFI\boot\bootx64.efi`) of an extracted ESP image, read with mtools. */
export function readLoader(esp: string, tmp: string): Uint8Array {
  const p = join(tmp, 'loader.efi');
  runOk('mcopy', ['-o', '-i', esp, '::/EFI/boot/bootx64.efi', p]);
  return new Uint8Array(readFileSync(p));
}

/** Options of {@link tpm2ToolsUnseal}. */
export interface Tpm2ToolsUnsealOptions {
  /** TPM2B_PUBLIC and TPM2B_PRIVATE files' contents of the sealed object. */
  pub: Uint8Array;
  priv: Uint8Array;
  /** The parent as tpm2_createprimary makes it in the owner hierarchy: `-G` and `-a`. */
  primaryAlg: string;
  primaryAttributes: string;
  /** PolicyPassword before PolicyPCR (lsvmload's policy). */
  policyPassword?: boolean;
  /** Scratch directory. */
  dir: string;
}

/**
 * tpm2-tools' unseal of a sealed object, independent of lsvm's TPM code: the parent recreated
 * with tpm2_createprimary, the object loaded, [PolicyPassword +] PolicyPCR(sha256: 7, 11)
 * satisfied in a policy session, tpm2_unseal. Returns the secret (undefined when the TPM refuses)
 * and tpm2_unseal's stderr; every transient object and the session are flushed after.
 */
export function tpm2ToolsUnseal(
  sw: SwtpmInstance,
  o: Tpm2ToolsUnsealOptions,
): { secret?: Uint8Array; stderr: string } {
  const t = (f: string) => join(o.dir, f);
  writeFileSync(t('unseal.pub'), o.pub);
  writeFileSync(t('unseal.priv'), o.priv);
  const primary = ['-C', 'o', '-G', o.primaryAlg, '-a', o.primaryAttributes, '-c', t('parent.ctx'), '-Q'];
  tpm2ToolsOk(sw, 'tpm2_createprimary', primary);
  const load = [
    '-C',
    t('parent.ctx'),
    '-u',
    t('unseal.pub'),
    '-r',
    t('unseal.priv'),
    '-c',
    t('unseal.ctx'),
    '-Q',
  ];
  tpm2ToolsOk(sw, 'tpm2_load', load);
  tpm2ToolsOk(sw, 'tpm2_flushcontext', ['-t']);
  tpm2ToolsOk(sw, 'tpm2_startauthsession', ['--policy-session', '-S', t('unseal.session')]);
  try {
    if (o.policyPassword) tpm2ToolsOk(sw, 'tpm2_policypassword', ['-S', t('unseal.session'), '-Q']);
    tpm2ToolsOk(sw, 'tpm2_policypcr', ['-S', t('unseal.session'), '-l', 'sha256:7,11', '-Q']);
    const session = `session:${t('unseal.session')}`;
    const r = tpm2Tools(sw, 'tpm2_unseal', ['-c', t('unseal.ctx'), '-p', session, '-o', t('unsealed')]);
    if (r.status !== 0) return { stderr: r.stderr };
    const secret = new Uint8Array(readFileSync(t('unsealed')));
    writeFileSync(t('unsealed'), '');
    return { secret, stderr: r.stderr };
  } finally {
    tpm2Tools(sw, 'tpm2_flushcontext', [t('unseal.session')]);
    tpm2ToolsOk(sw, 'tpm2_flushcontext', ['-t']);
  }
}
