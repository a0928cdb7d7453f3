import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deterministicRandom } from '../src/index.js';
import { fuzz as fsk } from '../fuzz/fsk.fuzz.js';
import { fuzz as keyProtector } from '../fuzz/key-protector.fuzz.js';
import { fuzz as pdk } from '../fuzz/pdk.fuzz.js';
import { fuzz as pkcs12 } from '../fuzz/pkcs12.fuzz.js';
import { fuzz as specialization } from '../fuzz/specialization.fuzz.js';

/**
 * A bounded, deterministic smoke run of every fuzz target: the corpus, then mutations (bit
 * flips, byte overwrites with boundary values, truncations, insertions). The long campaigns run
 * with `pnpm fuzz`; this keeps the targets and their contract from rotting.
 */
const targets: Record<string, (d: Buffer) => void | Promise<void>> = {
  pdk,
  'key-protector': keyProtector,
  fsk,
  specialization,
  pkcs12,
};

/** Mutations per target; a PKCS#12 run decodes twice and costs ~10 ms, so it gets fewer. */
const mutations: Record<string, number> = { pkcs12: 60 };

function mutate(seed: Uint8Array, rnd: (n: number) => Uint8Array): Buffer {
  const b = Buffer.from(seed);
  const r = rnd(8);
  const at = (r[0]! << 8) | r[1]!;
  const pos = b.length === 0 ? 0 : at % b.length;
  switch (r[2]! % 5) {
    case 0:
      b[pos]! ^= 1 << (r[3]! % 8);
      return b;
    case 1:
      b[pos] = [0x00, 0xff, 0x7f, 0x80, 0x18, 0x1b, 0x5b, 0x9f][r[3]! % 8]!;
      return b;
    case 2:
      return b.subarray(0, pos);
    case 3:
      return Buffer.concat([b.subarray(0, pos), Buffer.from(rnd(1 + (r[3]! % 8))), b.subarray(pos)]);
    default:
      if (b.length >= pos + 4) b.writeUInt32LE(Buffer.from(r).readUInt32LE(4), pos);
      return b;
  }
}

describe.each(Object.keys(targets))('fuzz target %s', (name) => {
  const dir = join(__dirname, '..', 'fuzz', 'corpus', name);
  const corpus = readdirSync(dir).map((f) => new Uint8Array(readFileSync(join(dir, f))));

  test('corpus and mutations: returns or throws only LsvmError', async () => {
    const run = targets[name]!;
    for (const c of corpus) await run(Buffer.from(c));
    const rnd = deterministicRandom(`fuzz ${name}`);
    for (let i = 0; i < (mutations[name] ?? 300); i++) await run(mutate(corpus[i % corpus.length]!, rnd));
    await run(Buffer.alloc(0));
  });
});
