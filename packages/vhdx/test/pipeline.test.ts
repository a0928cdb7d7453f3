import { pipelineChunks } from '../src/pipeline.js';

/** A promise with its resolve/reject exposed. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pipelineChunks', () => {
  test('held writes overlap: the stream consumes the next chunks while earlier writes are pending', async () => {
    const writes: ReturnType<typeof deferred>[] = [];
    const consumed: number[] = [];
    const done = pipelineChunks({
      size: 8 * 16,
      chunkSize: 16,
      depth: 4,
      isHole: () => false,
      read: async (off, buf) => {
        buf.fill(off / 16);
      },
      consume: (off, data, hold) => {
        expect(data?.[0]).toBe(off / 16); // a buffer is never reused while its write is pending
        consumed.push(off);
        const w = deferred();
        writes.push(w);
        hold(w.promise);
        return undefined;
      },
    });
    for (let i = 0; i < 20; i++) await tick();
    // Four buffers: four chunks consumed with none of their writes finished.
    expect(consumed).toEqual([0, 16, 32, 48]);
    for (let k = 0; k < 8; k++) {
      for (let i = 0; i < 10; i++) await tick();
      writes[k]?.resolve();
    }
    await done;
    expect(consumed).toEqual([0, 16, 32, 48, 64, 80, 96, 112]);
  });

  test('writes of holes hold no buffer but are still bounded', async () => {
    let pending = 0;
    let peak = 0;
    await pipelineChunks({
      size: 1000,
      chunkSize: 10,
      depth: 3,
      isHole: () => true,
      read: async () => undefined,
      consume: (_off, data, hold) => {
        expect(data).toBeNull();
        pending++;
        peak = Math.max(peak, pending);
        hold(
          tick().then(() => {
            pending--;
          }),
        );
        return undefined;
      },
    });
    expect(pending).toBe(0);
    expect(peak).toBeLessThanOrEqual(4);
  });

  test('a failed held write rejects the stream', async () => {
    const boom = new Error('disk full');
    await expect(
      pipelineChunks({
        size: 100,
        chunkSize: 10,
        depth: 2,
        isHole: () => false,
        read: async () => undefined,
        consume: (off, _data, hold) => {
          hold(off === 20 ? Promise.reject(boom) : Promise.resolve());
          return undefined;
        },
      }),
    ).rejects.toBe(boom);
  });

  test('a failing consumer returns only once the reads and writes in flight have settled', async () => {
    let inFlight = 0;
    const slow = (): Promise<void> => {
      inFlight++;
      return new Promise<void>((r) => setTimeout(r, 5)).finally(() => void inFlight--);
    };
    const boom = new Error('consumer failed');
    await expect(
      pipelineChunks({
        size: 16 * 16,
        chunkSize: 16,
        depth: 4,
        isHole: () => false,
        read: () => slow(),
        consume: (off, _data, hold) => {
          if (off === 2 * 16) throw boom;
          hold(slow());
        },
      }),
    ).rejects.toBe(boom);
    expect(inFlight).toBe(0);
  });
});
