import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VhdxDevice } from '../src/index.js';
import { decodeSparse } from '../fuzz/sparse-image.js';
import { fuzz } from '../fuzz/vhdx.fuzz.js';

const dir = join(__dirname, '..', 'fuzz', 'corpus', 'vhdx');
const corpus = readdirSync(dir).map((n) => ({ name: n, data: readFileSync(join(dir, n)) }));

/** xorshift32: deterministic mutations, reproducible failures. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('fuzz target vhdx', () => {
  test('every corpus file is a real image that opens (not just a crash-free input)', async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(8);
    for (const c of corpus) {
      expect(c.data.length).toBeLessThan(256 * 1024);
      const dev = decodeSparse(c.data)!;
      const isChild = c.name.includes('differencing');
      const v = await VhdxDevice.open(
        dev,
        isChild ? { resolveParent: async () => new VhdxZero(), checkParentLinkage: false } : {},
      );
      expect(v.size).toBeGreaterThan(0);
      await fuzz(c.data);
    }
  });

  test('300 deterministic mutations of the corpus: only LsvmErrors', async () => {
    const r = rng(0x5eed);
    for (let i = 0; i < 300; i++) {
      const c = corpus[i % corpus.length]!;
      const b = Buffer.from(c.data);
      const n = 1 + Math.floor(r() * 8);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(r() * b.length);
        const kind = r();
        if (kind < 0.6) b[at] = Math.floor(r() * 256);
        else if (kind < 0.8) b[at] = (b[at] ?? 0) ^ (1 << Math.floor(r() * 8));
        else b.writeUInt32LE(Math.floor(r() * 2 ** 32), Math.min(at, b.length - 4));
      }
      try {
        await fuzz(b);
      } catch (e) {
        throw new Error(`mutation ${i} of ${c.name} escaped: ${String(e)}`);
      }
    }
  });
});

/** A zero parent for the corpus's differencing child. */
class VhdxZero {
  readonly size = 2 ** 40;
  readonly sectorSize = 512;
  readonly readOnly = true;
  async read(_o: number, n: number): Promise<Uint8Array> {
    return new Uint8Array(n);
  }
  async readInto(t: Uint8Array): Promise<void> {
    t.fill(0);
  }
  async write(): Promise<void> {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
