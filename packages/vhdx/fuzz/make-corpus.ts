/**
 * Regenerates fuzz/corpus/vhdx/ from real images: qemu-img made (dynamic, fixed), ours (dynamic,
 * fixed, 4 KiB sectors, differencing child, written through the log, dirty log). Each is stored in
 * the sparse form of sparse-image.ts. Run from the repository root:
 *   node --conditions=lsvm-source --import tsx packages/vhdx/fuzz/make-corpus.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
import { convertToVhdx, createVhdx, MemoryFile, VhdxDevice } from '../src/index.js';
import { dirtyImage } from '../test/helpers.js';
import { encodeSparse } from './sparse-image.js';

const MiB = 1 << 20;
const out = join(import.meta.dirname, 'corpus', 'vhdx');
const tmp = mkdtempSync(join(tmpdir(), 'vhdx-corpus-'));

function pattern(size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (const at of [0, 4096, MiB + 512, size - 512]) b.fill((at % 251) + 1, at, at + 512);
  return b;
}
function save(name: string, file: Uint8Array): void {
  const enc = encodeSparse(file);
  writeFileSync(join(out, name), enc);
  console.log(`${name}: ${file.length} → ${enc.length} bytes`);
}

try {
  writeFileSync(join(tmp, 'p.raw'), pattern(3 * MiB));
  for (const [name, opts] of [
    ['qemu-dynamic-1m', 'block_size=1M'],
    ['qemu-fixed-1m', 'subformat=fixed,block_size=1M'],
  ] as const) {
    execFileSync('qemu-img', [
      'convert',
      '-f',
      'raw',
      '-O',
      'vhdx',
      '-o',
      opts,
      join(tmp, 'p.raw'),
      join(tmp, `${name}.vhdx`),
    ]);
    save(name, readFileSync(join(tmp, `${name}.vhdx`)));
  }
  const dyn = new MemoryFile();
  await convertToVhdx(new MemoryDevice(pattern(3 * MiB)), dyn, { blockSize: MiB });
  save('lsvm-dynamic-1m', dyn.bytes);
  const k4 = new MemoryFile();
  await convertToVhdx(new MemoryDevice(pattern(3 * MiB)), k4, {
    blockSize: 2 * MiB,
    logicalSectorSize: 4096,
  });
  save('lsvm-dynamic-4k', k4.bytes);
  const fixed = new MemoryFile();
  await createVhdx(fixed, { size: 2 * MiB, type: 'fixed', blockSize: MiB });
  save('lsvm-fixed', fixed.bytes);
  const parent = await VhdxDevice.open(dyn);
  const child = new MemoryFile();
  await createVhdx(child, {
    parent: {
      dataWriteGuid: parent.dataWriteGuid,
      size: parent.size,
      logicalSectorSize: 512,
      physicalSectorSize: 4096,
      blockSize: MiB,
      relativePath: '.\\parent.vhdx',
    },
  });
  const c = await VhdxDevice.open(child, { readOnly: false, parent });
  await c.write(4096, new Uint8Array(1024).fill(9));
  await c.close();
  save('lsvm-differencing', child.bytes);
  const written = new MemoryFile();
  await createVhdx(written, { size: 3 * MiB, blockSize: MiB });
  const w = await VhdxDevice.open(written, { readOnly: false });
  await w.write(MiB + 4096, new Uint8Array(512).fill(5));
  await w.close();
  save('lsvm-written', written.bytes);
  save('lsvm-dirty-log', (await dirtyImage()).bytes);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
