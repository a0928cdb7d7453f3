import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LsvmError } from '@lsvm/core';
import { fuzz as command } from '../fuzz/tpm2-command.fuzz.js';
import { fuzz as priv } from '../fuzz/tpm2-private.fuzz.js';
import { fuzz as pub } from '../fuzz/tpm2-public.fuzz.js';
import { fuzz as response } from '../fuzz/tpm2-response.fuzz.js';
import { fuzz as sealedkeys } from '../fuzz/tpm2-sealedkeys.fuzz.js';

/** Replays each corpus and a bounded, seeded set of mutations: only LsvmErrors may escape. */
const targets: [string, (b: Buffer) => void][] = [
  ['tpm2-command', command],
  ['tpm2-private', priv],
  ['tpm2-public', pub],
  ['tpm2-response', response],
  ['tpm2-sealedkeys', sealedkeys],
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe.each(targets)('fuzz target %s', (name, target) => {
  const dir = join(__dirname, '..', 'fuzz', 'corpus', name);
  const corpus = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
  const call = (b: Buffer): void => {
    try {
      target(b);
    } catch (e) {
      if (!(e instanceof LsvmError)) throw e;
    }
  };
  test('corpus replays; seeds parse', () => {
    expect(corpus.length).toBeGreaterThan(0);
    let ok = 0;
    for (const b of corpus) {
      try {
        target(b);
        ok++;
      } catch (e) {
        if (!(e instanceof LsvmError)) throw e;
      }
    }
    expect(ok).toBeGreaterThan(0);
  });
  test('1500 mutations', () => {
    const r = rng(name.length * 7919);
    for (let i = 0; i < 1500; i++) {
      const b = Buffer.from(corpus[Math.floor(r() * corpus.length)]!);
      const n = 1 + Math.floor(r() * 4);
      for (let k = 0; k < n; k++) {
        const op = r();
        const at = Math.floor(r() * b.length);
        if (op < 0.6) b[at] = Math.floor(r() * 256);
        else if (op < 0.8) b[at] = 0xff;
      }
      const cut = r() < 0.2 ? b.subarray(0, Math.floor(r() * b.length)) : b;
      call(cut);
    }
  });
});
