import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isLsvmError } from '@lsvm/core';
import { fuzz } from '../fuzz/gpt.fuzz.js';

/**
 * A bounded replay of the fuzz target (the real campaign is `pnpm fuzz --target gpt`): every
 * corpus file, then deterministic mutations aimed at the header and array fields of the small
 * ones. The contract: the target returns or throws an LsvmError, nothing else.
 */
const dir = join(__dirname, '..', 'fuzz', 'corpus', 'gpt');
const corpus = readdirSync(dir).map((f) => ({ name: f, bytes: readFileSync(join(dir, f)) }));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

async function expectContract(bytes: Buffer): Promise<void> {
  try {
    await fuzz(bytes);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}

describe('fuzz target gpt', () => {
  it.each(corpus.map((c) => [c.name, c] as const))('corpus %s', async (_n, c) => {
    await expectContract(c.bytes);
  });

  it('survives 250 targeted mutations of the small tables', async () => {
    const rand = rng(20261126);
    const small = corpus.filter((c) => c.bytes.length <= 8192);
    const interesting = [0, 1, 0x7f, 0x80, 0xff, 0xfe];
    for (let i = 0; i < 250; i++) {
      const base = small[i % small.length]!.bytes;
      const b = Buffer.from(base);
      const edits = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < edits; k++) {
        // Mostly hit the primary/backup header and the first entries, sometimes anywhere.
        const zones = [512, 1024, b.length - 512, b.length - 1024, 446];
        const at =
          rand() < 0.8
            ? zones[Math.floor(rand() * zones.length)]! + Math.floor(rand() * 96)
            : Math.floor(rand() * b.length);
        b[at % b.length] =
          rand() < 0.5 ? interesting[Math.floor(rand() * interesting.length)]! : Math.floor(rand() * 256);
      }
      await expectContract(b);
    }
  });
});
