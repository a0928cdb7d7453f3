import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { type BlockDevice, FileDevice, forEachChunk } from '@lsvm/core';
import { partitionSlice, readGpt } from '@lsvm/gpt';
import { createCertificate } from '@lsvm/pe-authenticode';
import { createPdk, exportGuardian, generateGuardian } from '@lsvm/shielding-data';
import { type SwtpmInstance, type Tpm, rebootSwtpm } from '@lsvm/tpm2-marshal';
import { certificateThumbprint } from '@lsvm/vsc';
import { makeSampleTemplate, protectTemplate, provision } from '../src/index.js';

/**
 * A provisioned sample VM disk for the boot tests, made with the package's own flows exactly as a
 * user would: sample template → protect → shielding data for a fabric guardian → provision on a
 * swtpm. Raw images keep the peer checks simple (partitions are extracted with plain reads).
 */
export interface ProvisionedFixture {
  template: string;
  vm: string;
  answerFile: string;
  extraFile: { name: string; data: Uint8Array };
}

export async function provisionFixture(dir: string, sw: SwtpmInstance): Promise<ProvisionedFixture> {
  const template = join(dir, 'template.img');
  const vm = join(dir, 'vm.img');
  await makeSampleTemplate(template, { size: 128 * 1024 * 1024 });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificate = createCertificate({
    subject: [['CN', 'boot test template signer']],
    publicKey: privateKey,
    issuerKey: privateKey,
  });
  await protectTemplate(template, {
    signer: { certificate: certificate.der, privateKey },
    name: 'Sample',
    version: '1.0.0.0',
  });
  const owner = generateGuardian('Owner', { algorithm: 'p256' });
  const fabric = generateGuardian('Fabric', { algorithm: 'p256' });
  const answerFile = '<unattend>hostname=@ComputerName@</unattend>';
  const extraFile = { name: 'motd.txt', data: new TextEncoder().encode('shielded\n') };
  const pdk = createPdk({
    owner,
    guardians: [exportGuardian(fabric)],
    viqs: [
      {
        name: 'Sample',
        version: '1.0.0.0',
        rule: 'GreaterThanOrEquals',
        signer: certificateThumbprint(certificate.der),
      },
    ],
    secrets: {
      answerFile: { name: 'unattend.xml', data: new TextEncoder().encode(answerFile) },
      files: [extraFile],
      credentials: [],
      sshKeys: [],
    },
  });
  await provision(template, vm, { pdk, guardian: fabric, tcti: sw.tcti, clone: 'copy' });
  return { template, vm, answerFile, extraFile };
}

/** Copies GPT partition `index` of a raw or VHDX-opened disk to a file. */
export async function extractPartition(disk: BlockDevice, index: number, out: string): Promise<void> {
  const { table } = await readGpt(disk);
  const part = partitionSlice(disk, table, index, { readOnly: true });
  const dst = await FileDevice.open(out, { create: true, size: part.size });
  try {
    await forEachChunk(part, (chunk, off) => dst.write(off, chunk));
  } finally {
    await dst.close();
  }
}

/**
 * Power-cycles a swtpm (CMD_INIT, then TPM2_Startup(CLEAR)): PCRs back to zero, seeds and the
 * sealed keys' parent unchanged — a VM reboot — and clears the dictionary-attack counter (the
 * sealed object is DA-protected, and the cap's proof and the negative tests count as failures).
 */
export const reboot = (sw: SwtpmInstance): Promise<Tpm> => rebootSwtpm(sw);
