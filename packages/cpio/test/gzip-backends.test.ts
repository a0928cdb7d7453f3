import { LsvmError } from '@lsvm/core';
import { execFileSync } from 'node:child_process';
import { describeWithPeers } from '@lsvm/testkit';
import { gzipSync as fflateGzip } from 'fflate';
import fc from 'fast-check';
import { compress, decompressStream } from '../src/compression.js';
import { setNodeZlib } from '../src/gzip-zlib.js';

/**
 * gzip goes through Node's zlib when there is one and through fflate otherwise (browsers). Both
 * must agree exactly — same bytes out, same end of stream, same typed error — on every input, so
 * each case here runs through both.
 */

type Outcome = { data: string; consumed: number } | { code: string };

async function outcome(input: Uint8Array, max: number): Promise<Outcome> {
  try {
    const r = await decompressStream(input, 'gzip', max);
    return { data: Buffer.from(r.data).toString('base64'), consumed: r.consumed };
  } catch (e) {
    if (!(e instanceof LsvmError)) throw e;
    return { code: e.code };
  }
}

/**
 * Runs `input` through both paths. Whatever zlib decodes, fflate must decode identically. Damage
 * fails on zlib's path; with `strict` it must fail on fflate's with the same code. Random damage is
 * not strict: fflate may trip its trailer check before a header check, and it does not check a
 * stored block's NLEN against LEN (RFC 1951 §3.2.4), which zlib does — so a flipped NLEN bit
 * still decodes there, to the right bytes (the CRC-32 and ISIZE still match).
 */
async function both(input: Uint8Array, max = 1 << 26, strict = true): Promise<Outcome> {
  setNodeZlib(undefined);
  const native = await outcome(input, max);
  setNodeZlib(null);
  let portable: Outcome;
  try {
    portable = await outcome(input, max);
  } finally {
    setNodeZlib(undefined);
  }
  if (strict || !('code' in native)) expect(portable).toEqual(native);
  return native;
}

const gz = (data: Uint8Array, args: string[] = []): Uint8Array =>
  new Uint8Array(execFileSync('gzip', ['-c', ...args], { input: data }));

describeWithPeers(['gzip'], 'gzip: zlib and fflate paths agree', () => {
  const text = new TextEncoder().encode('070701 initramfs '.repeat(5000));

  it('one member, with the name and comment fields gzip -N writes, then the next segment', async () => {
    const member = fflateGzip(text, { mtime: 0, filename: 'init.cpio' });
    const next = new TextEncoder().encode('070701…next segment');
    const input = new Uint8Array([...member, ...next]);
    expect(await both(input)).toEqual({
      data: Buffer.from(text).toString('base64'),
      consumed: member.length,
    });
  });

  it('concatenated members are one stream, as gzip -d reads them', async () => {
    const a = gz(text.subarray(0, 1000));
    const b = gz(text.subarray(1000), ['-9']);
    const r = await both(new Uint8Array([...a, ...b, 0, 0, 0, 0]));
    expect(r).toEqual({ data: Buffer.from(text).toString('base64'), consumed: a.length + b.length });
  });

  it('a wrong CRC, a wrong ISIZE, a truncated body and a bomb give the same typed errors', async () => {
    const m = gz(text);
    const crc = m.slice();
    crc[m.length - 8]! ^= 1;
    expect(await both(crc)).toEqual({ code: 'CPIO_GZIP_CRC' });
    const size = m.slice();
    size[m.length - 1]! ^= 1;
    expect(await both(size)).toEqual({ code: 'CPIO_GZIP_CRC' });
    expect(await both(m.subarray(0, m.length - 20))).toHaveProperty('code');
    expect(await both(m, text.length - 1)).toEqual({ code: 'CPIO_LIMIT_EXPANDED' });
    expect(await both(m, text.length)).toHaveProperty('consumed', m.length);
  });

  it('random data and random damage: same result either way', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 0, max: 9 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 2 }),
        async (data, level, flips) => {
          const m = fflateGzip(data, { level: level as 0, mtime: 0 });
          for (const [at, x] of flips) m[at % m.length]! ^= x;
          const r = await both(m, 1 << 26, false);
          if (flips.length === 0)
            expect(r).toEqual({ data: Buffer.from(data).toString('base64'), consumed: m.length });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('what we compress, gzip -d reads back', async () => {
    const packed = await compress(text, 'gzip');
    expect(new Uint8Array(execFileSync('gzip', ['-dc'], { input: packed }))).toEqual(text);
    expect(Buffer.from(packed.subarray(4, 8)).readUInt32LE(0)).toBe(0); // MTIME 0: reproducible
  });
});

describe('gzip through zlib: limits', () => {
  const text = new TextEncoder().encode('limits');
  it('a limit beyond what one Buffer holds (or none) still decodes', async () => {
    const m = fflateGzip(text, { mtime: 0 });
    for (const max of [2 ** 40, Number.MAX_SAFE_INTEGER]) {
      expect((await decompressStream(m, 'gzip', max)).data).toEqual(text);
    }
  });
  it('a stream of tens of thousands of empty members is a LimitError', async () => {
    const empty = fflateGzip(new Uint8Array(0), { mtime: 0 });
    const many = new Uint8Array(empty.length * 70_000);
    for (let i = 0; i < 70_000; i++) many.set(empty, i * empty.length);
    await expect(decompressStream(many, 'gzip', 1 << 20)).rejects.toMatchObject({
      code: 'CPIO_LIMIT_MEMBERS',
    });
  });
});
