import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isLsvmError } from '@lsvm/core';
import { fuzz as authenticodePkcs7 } from '../fuzz/authenticode-pkcs7.fuzz.js';
import { fuzz as peCertTable } from '../fuzz/pe-certtable.fuzz.js';
import { fuzz as pe } from '../fuzz/pe.fuzz.js';
import { fuzz as trustInput } from '../fuzz/trust-input.fuzz.js';
import { fuzz as uefiEsl } from '../fuzz/uefi-esl.fuzz.js';

/**
 * A bounded, seeded stand-in for the fuzz runner: replays each target's corpus and a few hundred
 * mutations of it (bit flips, byte sets, truncations, interesting integers). Any exception other
 * than an LsvmError fails the test with the offending input's recipe.
 */
const targets: [string, (d: Buffer) => void][] = [
  ['pe', pe],
  ['pe-certtable', peCertTable],
  ['authenticode-pkcs7', authenticodePkcs7],
  ['uefi-esl', uefiEsl],
  ['trust-input', trustInput],
];

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfe];

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = Math.floor(r() * b.length);
    const k = r();
    if (k < 0.4) b[at]! ^= 1 << Math.floor(r() * 8);
    else if (k < 0.7) b[at] = INTERESTING[Math.floor(r() * INTERESTING.length)]!;
    else if (k < 0.85 && at + 4 <= b.length)
      b.writeUInt32LE([0, 0xffffffff, 0x80000000, b.length, 8][Math.floor(r() * 5)]! >>> 0, at);
    else return b.subarray(0, at);
  }
  return b;
}

describe.each(targets)('fuzz target %s', (name, fn) => {
  const dir = join(__dirname, '..', 'fuzz', 'corpus', name);
  const corpus = readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))] as const);

  test('corpus replays', () => {
    expect(corpus.length).toBeGreaterThan(0);
    for (const [, data] of corpus) fn(data);
  });

  test('mutations only ever raise LsvmError', () => {
    const r = rng(0x5eed + name.length);
    const runs = Number(process.env.LSVM_FUZZ_RUNS ?? 500);
    for (let i = 0; i < runs; i++) {
      const [file, data] = corpus[i % corpus.length]!;
      const m = mutate(data, r);
      try {
        fn(m);
      } catch (e) {
        if (!isLsvmError(e))
          throw new Error(`${name}: mutation ${i} of ${file} raised ${String(e)}\n${(e as Error).stack}`);
      }
    }
  });
});
