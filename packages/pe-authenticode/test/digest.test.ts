import { AbortedError, MemoryDevice } from '@lsvm/core';
import fc from 'fast-check';
import { authenticodeDigest, authenticodeDigestDevice, digestPlan, parsePeHeaders } from '../src/index.js';
import { makePe, pattern } from './helpers/make-pe.js';

describe('streamed digest', () => {
  // 20 MiB across three sections: several 8 MiB reads, pipelined across range boundaries.
  const big = makePe({
    sections: [
      { name: '.text', data: pattern(9 * 1024 * 1024 + 17, 1) },
      { name: '.data', data: pattern(3 * 1024 * 1024, 2) },
      { name: '.rsrc', data: pattern(8 * 1024 * 1024 - 5, 3) },
    ],
    overlay: pattern(1234, 4),
    trailingZeros: 3,
  });

  test('equals the in-memory digest for every algorithm, method and padding choice', async () => {
    const combos = [
      ...(['sha1', 'sha384', 'sha512'] as const).map((algorithm) => ({
        algorithm,
        method: 'sections' as const,
        padded: true,
      })),
      ...(['sections', 'linear'] as const).flatMap((method) =>
        [true, false].map((padded) => ({ algorithm: 'sha256' as const, method, padded })),
      ),
    ];
    for (const o of combos) {
      const mem = authenticodeDigest(big, o);
      const dev = await authenticodeDigestDevice(new MemoryDevice(big), o);
      expect({ ...o, digest: Buffer.from(dev).toString('hex') }).toEqual({
        ...o,
        digest: Buffer.from(mem).toString('hex'),
      });
    }
  });

  test('reports progress up to the hashed total and honours an AbortSignal', async () => {
    const seen: [number, number][] = [];
    await authenticodeDigestDevice(new MemoryDevice(big), { onProgress: (d, t) => seen.push([d, t]) });
    const last = seen[seen.length - 1]!;
    expect(last[0]).toBe(last[1]);
    const plan = digestPlan(parsePeHeaders(big), big.length);
    expect(last[1]).toBe(plan.reduce((n, s) => n + ('zeros' in s ? s.zeros : s.end - s.start), 0));
    const ac = new AbortController();
    ac.abort();
    await expect(
      authenticodeDigestDevice(new MemoryDevice(big), { signal: ac.signal }),
    ).rejects.toBeInstanceOf(AbortedError);
  });
});

test('digest plan covers the file exactly once outside the excluded fields (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 700 }),
      (sizes, overlay) => {
        const b = makePe({
          sections: sizes.map((n, i) => ({ name: `.s${i}`, data: pattern(n, i + 1) })),
          overlay: pattern(overlay, 9),
        });
        const h = parsePeHeaders(b);
        const plan = digestPlan(h, b.length, { padded: false });
        let covered = 0;
        let prev = 0;
        for (const s of plan) {
          if ('zeros' in s) continue;
          expect(s.start).toBeGreaterThanOrEqual(prev);
          prev = s.end;
          covered += s.end - s.start;
        }
        expect(covered).toBe(b.length - 4 - 8); // CheckSum and the certificate directory entry
        expect(authenticodeDigest(b, { method: 'linear', padded: false })).toEqual(
          authenticodeDigest(b, { padded: false }),
        );
      },
    ),
    { numRuns: 50 },
  );
});
