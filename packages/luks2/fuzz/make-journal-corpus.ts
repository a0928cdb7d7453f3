/**
 * Regenerates the `reencrypt-journal` seed corpus (`node --conditions=lsvm-source --import tsx
 * fuzz/make-journal-corpus.ts` from packages/luks2): the journal of a small run stopped after
 * its second chunk, and the JSON of its header block and of a record.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
import { formatLuks, openLuks, reencryptJournalSize, reencryptLuks } from '../src/index.js';

const dir = join(import.meta.dirname, 'corpus', 'reencrypt-journal');
mkdirSync(dir, { recursive: true });
const pass = new TextEncoder().encode('fuzz');
const kdf = { type: 'pbkdf2' as const, iterations: 1 };
const d = new MemoryDevice(32768 + 64 * 1024 + 16384);
await formatLuks(d, pass, {
  kdf,
  digestIterations: 1,
  cipher: 'aes-cbc-essiv:sha256',
  keySizeBits: 128,
  keyslotsSize: 64 * 1024,
});
const p = await openLuks(d, pass);
await p.write(0, new Uint8Array(16384).fill(0x41));
await p.close();
const journal = new MemoryDevice(reencryptJournalSize(4096, 16));
const ac = new AbortController();
let n = 0;
await reencryptLuks(d, {
  key: pass,
  kdf,
  digestIterations: 1,
  chunkSize: 4096,
  journal,
  signal: ac.signal,
  onProgress: () => ++n === 2 && ac.abort(),
}).catch(() => undefined);
writeFileSync(join(dir, 'stopped-run.journal'), journal.bytes);
const json = (at: number): Uint8Array => {
  const len = new DataView(journal.bytes.buffer).getUint32(at + 8, true);
  return journal.bytes.slice(at + 12, at + 12 + len);
};
writeFileSync(join(dir, 'header.json'), json(0));
writeFileSync(join(dir, 'record.json'), json(4096 + 65536));
