import { streamChunksSync } from '../src/sync-stream.js';

describe('streamChunksSync', () => {
  test('reads then consumes every chunk in order, the last one short, and reports progress per slice', async () => {
    const order: string[] = [];
    const progress: number[] = [];
    await streamChunksSync({
      size: 100,
      chunkSize: 16,
      sliceBytes: 40,
      read: (off, buf) => {
        order.push(`r${off}:${buf.length}`);
        buf.fill(off);
      },
      consume: (off, data) => {
        expect(data.every((x) => x === off)).toBe(true);
        order.push(`c${off}`);
      },
      onProgress: (done, total) => {
        expect(total).toBe(100);
        progress.push(done);
      },
    });
    const offs = [0, 16, 32, 48, 64, 80, 96];
    expect(order).toEqual(offs.flatMap((o) => [`r${o}:${Math.min(16, 100 - o)}`, `c${o}`]));
    // Slices end at the first chunk boundary at or past each 40 bytes.
    expect(progress).toEqual([48, 96, 100]);
  });

  test('the event loop runs between slices: an abort from a timer stops the stream', async () => {
    const ac = new AbortController();
    let chunks = 0;
    setImmediate(() => ac.abort());
    await expect(
      streamChunksSync({
        size: 1 << 30,
        chunkSize: 1024,
        sliceBytes: 64 * 1024,
        read: () => undefined,
        consume: () => {
          chunks++;
        },
        signal: ac.signal,
      }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    // Stopped after a slice or two, not after the whole gigabyte.
    expect(chunks).toBeGreaterThan(0);
    expect(chunks).toBeLessThanOrEqual(3 * 64);
  });

  test('a failing read or consumer rejects the stream', async () => {
    const boom = new Error('disk full');
    await expect(
      streamChunksSync({
        size: 100,
        chunkSize: 10,
        read: () => undefined,
        consume: (off) => {
          if (off === 50) throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });
});
