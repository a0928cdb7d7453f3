import { createHash, generateKeyPairSync } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, forEachChunk } from '@lsvm/core';
import { openGpt, usedPartitions } from '@lsvm/gpt';
import { openLuks } from '@lsvm/luks2';
import { type Certificate, createCertificate } from '@lsvm/pe-authenticode';
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
