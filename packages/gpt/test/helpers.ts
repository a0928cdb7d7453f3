import { readFileSync, writeFileSync } from 'node:fs';
import { MemoryDevice, NIL_GUID } from '@lsvm/core';
import { run, runOk } from '@lsvm/testkit';
import type { GptEntry, GptTable } from '../src/index.js';
import { formatAttributes, isUsedEntry } from '../src/index.js';

/** A partition as sfdisk --json reports it, and as we compare our reading with it. */
export interface SfdiskPartition {
  index: number;
  start: number;
  size: number;
  type: string;
  uuid: string;
  name: string;
  attrs: string;
}

/** Runs `sfdisk --json` on an image or device and normalises the partitions. */
export function sfdiskJson(path: string): {
  id: string;
  firstlba: number;
  lastlba: number;
  sectorsize: number;
  partitions: SfdiskPartition[];
} {
  const pt = JSON.parse(runOk('sfdisk', ['--json', path])).partitiontable;
  return {
    id: pt.id,
    firstlba: pt.firstlba,
    lastlba: pt.lastlba,
    sectorsize: pt.sectorsize,
    partitions: (pt.partitions ?? []).map((p: Record<string, unknown>) => ({
      index: Number(/(\d+)$/.exec(String(p.node))![1]),
      start: p.start as number,
      size: p.size as number,
      type: String(p.type),
      uuid: String(p.uuid),
      name: (p.name as string | undefined) ?? '',
      attrs: (p.attrs as string | undefined) ?? '',
    })),
  };
}

/** Our entries in sfdisk's terms (attribute word in util-linux's spelling). */
export function asSfdisk(table: GptTable): SfdiskPartition[] {
  return table.entries.filter(isUsedEntry).map((e) => ({
    index: e.index,
    start: e.firstLba,
    size: e.lastLba - e.firstLba + 1,
    type: e.typeGuid.toUpperCase(),
    uuid: e.uniqueGuid.toUpperCase(),
    name: e.name,
    attrs: sfdiskAttrs(e),
  }));
}

/** util-linux's attribute spelling (libfdisk gpt.c): named bits 0-2, then `GUID:n,m` for 48-63. */
export function sfdiskAttrs(e: GptEntry): string {
  const words: string[] = [];
  if (e.attributes & 1n) words.push('RequiredPartition');
  if (e.attributes & 2n) words.push('NoBlockIOProtocol');
  if (e.attributes & 4n) words.push('LegacyBIOSBootable');
  const bits: number[] = [];
  for (let b = 48; b < 64; b++) if ((e.attributes >> BigInt(b)) & 1n) bits.push(b);
  if (bits.length) words.push(`GUID:${bits.join(',')}`);
  return words.join(' ');
}

/** `sgdisk -v` output (stdout + stderr) — it exits 0 even when it finds problems. */
export function sgdiskVerify(path: string): string {
  const r = run('sgdisk', ['-v', path], { input: '' });
  return r.stdout + r.stderr;
}

/** True when sgdisk -v reports no problem. */
export function sgdiskClean(path: string): boolean {
  const out = sgdiskVerify(path);
  return out.includes('No problems found') && !/ERROR/.test(out) && !/Problem:/.test(out);
}

/** A file-backed image as a MemoryDevice (tests work on copies; small images only). */
export function loadImage(path: string, sectorSize = 512): MemoryDevice {
  return new MemoryDevice(new Uint8Array(readFileSync(path)), { sectorSize });
}

export function saveImage(path: string, dev: MemoryDevice): void {
  writeFileSync(path, dev.bytes);
}

/** Runs `fn` with a loop device of `sectorSize`-byte sectors over `file`; always detaches. */
export function withLoop<T>(file: string, sectorSize: number, fn: (dev: string) => T): T {
  const dev = runOk('losetup', ['-f', '--show', '-b', String(sectorSize), file]).trim();
  try {
    return fn(dev);
  } finally {
    run('losetup', ['-d', dev]);
  }
}

export { NIL_GUID, formatAttributes };
