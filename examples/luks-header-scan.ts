/**
 * luks-header-scan: finds LUKS1 and LUKS2 headers (primary "LUKS" and secondary "SKUL" copies)
 * anywhere in an image — a disk whose partition table is gone, a header backup, a raw dump — and
 * reports each with its offset, whether it validates there, its UUID and (LUKS2) sequence id.
 * Usage: pnpm example luks-header-scan <image> [--step BYTES]
 */
import { scanLuksHeaders } from '@lsvm/luks2';
import { openAnyDisk } from './open-disk.js';

export interface ScanLine {
  offset: number;
  kind: string;
  valid: boolean;
  uuid?: string;
  seqid?: string;
  problem?: string;
}

/** Returns one entry per header found, and prints-ready lines. */
export async function scan(path: string, step = 512): Promise<ScanLine[]> {
  const dev = await openAnyDisk(path);
  try {
    const found = await scanLuksHeaders(dev, { step, maxResults: 256 });
    return found.map((h) => ({
      offset: h.offset,
      kind: h.kind,
      valid: h.valid,
      ...(h.uuid ? { uuid: h.uuid } : {}),
      ...(h.seqid !== undefined ? { seqid: h.seqid.toString() } : {}),
      ...(h.problem ? { problem: `${h.problem.code}: ${h.problem.message}` } : {}),
    }));
  } finally {
    await dev.close();
  }
}

export async function main(args: string[]): Promise<string[]> {
  const path = args[0];
  if (!path) throw new Error('usage: luks-header-scan <image> [--step BYTES]');
  const i = args.indexOf('--step');
  const step = i >= 0 ? Number(args[i + 1]) : 512;
  const found = await scan(path, step);
  if (found.length === 0) return [`${path}: no LUKS header found`];
  return found.map(
    (h) =>
      `${String(h.offset).padStart(12)}  ${h.kind.padEnd(9)}  ${h.valid ? 'valid  ' : 'INVALID'}  ${h.uuid ?? ''}` +
      `${h.seqid ? `  seqid ${h.seqid}` : ''}${h.problem ? `  (${h.problem})` : ''}`,
  );
}
