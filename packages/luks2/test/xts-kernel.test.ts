import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
import fc from 'fast-check';
import wabtInit from 'wabt';
import { LuksDevice, SectorCipher, XtsWorkerPool, formatLuks, openLuks } from '../src/index.js';
import { FAST_FORMAT, enc } from './helpers.js';
import { xorTweaks } from '../src/cipher.js';
import { XTS_PIECE, createXtsKernel, xtsKernelModule, xtsKernelPiece } from '../src/xts-kernel.js';
import { XTS_KERNEL_WASM_BASE64 } from '../src/xts-kernel-wasm.js';

jest.setTimeout(120_000);

const MASK64 = (1n << 64n) - 1n;

/** The 16-byte IV of dm-crypt's generator `iv` for sector number n (independent of cipher.ts). */
function ivBytes(iv: 'plain' | 'plain64' | 'plain64be', n: bigint): Buffer {
  const b = Buffer.alloc(16);
  const v = n & MASK64;
  if (iv === 'plain') b.writeUInt32LE(Number(v & 0xffffffffn));
  else if (iv === 'plain64be') b.writeBigUInt64BE(v, 8);
  else b.writeBigUInt64LE(v);
  return b;
}

/** XTS of whole sectors with node:crypto's own aes-256-xts, one cipher object per sector. */
function nodeXts(
  data: Uint8Array,
  key: Uint8Array,
  iv: 'plain' | 'plain64' | 'plain64be',
  firstIv: bigint,
  ss: number,
  enc: boolean,
): Buffer {
  const out = Buffer.alloc(data.length);
  for (let s = 0; s < data.length / ss; s++) {
    const ivb = ivBytes(iv, firstIv + BigInt((s * ss) / 512));
    const c = enc ? createCipheriv('aes-256-xts', key, ivb) : createDecipheriv('aes-256-xts', key, ivb);
    c.update(data.subarray(s * ss, (s + 1) * ss)).copy(out, s * ss);
  }
  return out;
}

/** A 512-bit XTS key whose halves differ (OpenSSL refuses equal halves). */
const xtsKey = fc.uint8Array({ minLength: 64, maxLength: 64 }).filter((k) => {
  for (let i = 0; i < 32; i++) if (k[i] !== k[i + 32]) return true;
  return false;
});

/** IV starts near 0, anywhere, and just below the 2^64 wrap. */
const firstIv = fc.oneof(
  fc.bigInt({ min: 0n, max: 1n << 20n }),
  fc.bigInt({ min: 0n, max: MASK64 }),
  fc.bigInt({ min: MASK64 - 300n, max: MASK64 }),
);

describe('XTS tweak kernel (WebAssembly SIMD)', () => {
  test('the embedded module is exactly wasm/xts-kernel.wat assembled', async () => {
    const wabt = await wabtInit();
    const wat = readFileSync(join(__dirname, '../wasm/xts-kernel.wat'), 'utf8');
    const mod = wabt.parseWat('xts-kernel.wat', wat, { simd: true });
    mod.validate();
    const { buffer } = mod.toBinary({ canonicalize_lebs: true });
    mod.destroy();
    expect(Buffer.from(buffer).toString('base64')).toBe(XTS_KERNEL_WASM_BASE64);
  });

  test('the kernel is available on this runtime (Node ≥ 16.4 has wasm SIMD)', () => {
    expect(xtsKernelModule()).toBeDefined();
    expect(new SectorCipher('aes-xts-plain64', randomBytes(64)).usesKernel).toBe(true);
    expect(new SectorCipher('aes-xts-plain64', randomBytes(64), { kernel: 'js' }).usesKernel).toBe(false);
    expect(new SectorCipher('aes-cbc-essiv:sha256', randomBytes(32)).usesKernel).toBe(false);
  });

  test('property: kernel and JavaScript paths equal node aes-256-xts per sector, both ways', () => {
    fc.assert(
      fc.property(
        xtsKey,
        fc.constantFrom('plain64', 'plain', 'plain64be') as fc.Arbitrary<'plain64' | 'plain' | 'plain64be'>,
        firstIv,
        fc.constantFrom(512, 1024, 2048, 4096),
        // up to 160 KiB: several 64 KiB kernel pieces, odd and even sector counts
        fc.integer({ min: 1, max: 160 * 1024 }),
        fc.boolean(),
        (key, iv, iv0, ss, bytes, enc) => {
          const n = Math.max(1, Math.floor(bytes / ss));
          const data = new Uint8Array(randomBytes(n * ss));
          const ref = nodeXts(data, key, iv, iv0, ss, enc);
          for (const kernel of ['wasm', 'js'] as const) {
            const c = new SectorCipher(`aes-xts-${iv}`, key, { kernel });
            const ours = new Uint8Array(data);
            if (enc) c.encrypt(ours, iv0, ss);
            else c.decrypt(ours, iv0, ss);
            expect(Buffer.from(ours).equals(ref)).toBe(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('property: xorTweaks and the kernel piece agree for any tweaks, sector count and placement', () => {
    const module = xtsKernelModule()!;
    const k = createXtsKernel(module, XTS_PIECE);
    fc.assert(
      fc.property(
        fc.constantFrom(512, 1024, 4096),
        fc.integer({ min: 1, max: XTS_PIECE / 512 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (ss, sectorsWanted, dstOffset) => {
          const n = Math.max(1, Math.min(sectorsWanted, XTS_PIECE / ss));
          const data = new Uint8Array(randomBytes(n * ss));
          const t0 = new Uint8Array(randomBytes(n * 16));
          // An "AES" returning zeros leaves exactly the tweak stream T_s ⊗ α^j ...
          const tweaks = new Uint8Array(data.length);
          xorTweaks(tweaks, tweaks, t0, ss);
          const zeros = xtsKernelPiece(k, data, t0, ss, (b) => new Uint8Array(b.length), dstOffset);
          expect(Buffer.from(zeros).equals(Buffer.from(tweaks))).toBe(true);
          // ... and an identity "AES" makes the two tweak passes cancel out.
          const same = xtsKernelPiece(k, data, t0, ss, (b) => new Uint8Array(b), dstOffset);
          expect(Buffer.from(same).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('data units larger than a kernel piece (128 KiB) grow the kernel and stay exact', () => {
    const key = new Uint8Array(randomBytes(64));
    key[0] = key[32]! ^ 1;
    const ss = 128 * 1024;
    const data = new Uint8Array(randomBytes(3 * ss));
    const ours = new Uint8Array(data);
    new SectorCipher('aes-xts-plain64', key).encrypt(ours, 40n, ss);
    expect(Buffer.from(ours).equals(nodeXts(data, key, 'plain64', 40n, ss, true))).toBe(true);
  });

  test('keys with equal halves (refused by OpenSSL XTS) give the same bytes on both paths', () => {
    const key = new Uint8Array(64).fill(7);
    const data = new Uint8Array(randomBytes(200 * 512));
    const a = new Uint8Array(data);
    const b = new Uint8Array(data);
    new SectorCipher('aes-xts-plain64', key, { kernel: 'wasm' }).encrypt(a, 3n, 512);
    new SectorCipher('aes-xts-plain64', key, { kernel: 'js' }).encrypt(b, 3n, 512);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(data))).toBe(false);
  });
});

describe('LuksDevice reads through the kernel', () => {
  const ss = 512;
  const key = new Uint8Array(randomBytes(64));
  const plain = new Uint8Array(randomBytes(6 * 1024 * 1024 + 7 * 512));
  const ct = nodeXts(plain, key, 'plain64', 9n, ss, true);
  const backing = new MemoryDevice(new Uint8Array(1024 + ct.length));
  backing.bytes.set(ct, 1024);
  const layout = {
    offset: 1024,
    size: ct.length,
    sectorSize: ss,
    ivTweak: 9n,
    encryption: 'aes-xts-plain64',
  };

  test('property: any single-thread read (edges, inside one sector, across read pieces) is the plaintext', async () => {
    const dev = new LuksDevice(backing, layout, key, { readOnly: true });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: ct.length - 1 }),
          fc.integer({ min: 1, max: 700 * 1024 }),
          fc.integer({ min: 0, max: 15 }),
          async (off, len, shift) => {
            const n = Math.min(len, ct.length - off);
            // a target at an arbitrary byteOffset (not 4-byte aligned when shift is odd)
            const target = new Uint8Array(n + shift).subarray(shift);
            await dev.readInto(target, off);
            expect(Buffer.from(target).equals(Buffer.from(plain.subarray(off, off + n)))).toBe(true);
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await dev.close();
    }
  });

  test('a parent read failing midway (after the first 256 KiB piece) reaches the caller', async () => {
    const failing = Object.create(backing) as MemoryDevice;
    failing.readInto = async (t: Uint8Array, o: number) => {
      if (o >= 1024 + 512 * 1024) throw new Error('disk gone');
      return backing.readInto(t, o);
    };
    const dev = new LuksDevice(failing, layout, key, { readOnly: true });
    await expect(dev.read(0, 1024 * 1024)).rejects.toThrow('disk gone');
    // what the failing device still serves reads fine
    const head = await dev.read(100, 300 * 1024);
    expect(Buffer.from(head).equals(Buffer.from(plain.subarray(100, 100 + head.length)))).toBe(true);
    await dev.close();
  });

  test('property: large reads split with a worker are the plaintext; concurrent reads do not mix', async () => {
    const dev = new LuksDevice(backing, layout, key, { readOnly: true, threads: 2 });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 2 * 1024 * 1024 }),
          fc.integer({ min: 4 * 1024 * 1024, max: ct.length }),
          async (off, len) => {
            const n = Math.min(len, ct.length - off);
            const [a, b] = await Promise.all([dev.read(off, n), dev.read(0, ct.length)]);
            expect(Buffer.from(a).equals(Buffer.from(plain.subarray(off, off + n)))).toBe(true);
            expect(Buffer.from(b).equals(Buffer.from(plain))).toBe(true);
          },
        ),
        { numRuns: 6 },
      );
    } finally {
      await dev.close();
    }
  });

  test('pieces the workers have not finished are taken over by the caller, whatever the race', async () => {
    const data = new Uint8Array(new SharedArrayBuffer(40 * XTS_PIECE));
    data.set(randomBytes(data.length));
    const input = Buffer.from(data);
    const ref = nodeXts(data, key, 'plain64', 7n, 4096, false);
    const pool = await XtsWorkerPool.create(key, 2);
    try {
      for (let round = 0; round < 5; round++) {
        const out = new Uint8Array(data.length);
        const seen = new Set<number>();
        const job = pool.start(new SectorCipher('aes-xts-plain64', key), data, 7n, 4096, false);
        // drain straight away: every piece is free, being worked on or done, in any mix
        job.drain((at, bytes) => {
          expect(seen.has(at)).toBe(false);
          seen.add(at);
          out.set(bytes, at);
        });
        expect(seen.size).toBe(40);
        expect(Buffer.from(out).equals(ref)).toBe(true);
        await job.settled;
        // the input is never written
        expect(Buffer.from(data).equals(input)).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });

  test('the worker pool gives the same bytes with and without the kernel', async () => {
    const data = new Uint8Array(new SharedArrayBuffer(3 * XTS_PIECE + 5 * 4096));
    data.set(randomBytes(data.length));
    const copy = Buffer.from(data);
    const ref = nodeXts(copy, key, 'plain64', 1234n, 4096, false);
    for (const kernel of ['wasm', 'js'] as const) {
      const pool = await XtsWorkerPool.create(key, 2, { kernel });
      try {
        data.set(copy);
        await pool.run(new SectorCipher('aes-xts-plain64', key, { kernel }), data, 1234n, 4096, false);
        expect(Buffer.from(data).equals(ref)).toBe(true);
      } finally {
        await pool.close();
      }
    }
  });

  test('openLuks passes threads on: a threaded volume reads what a single-thread one does', async () => {
    const d = new MemoryDevice(24 * 1024 * 1024);
    await formatLuks(d, enc('pw'), FAST_FORMAT);
    const data = new Uint8Array(randomBytes(6 * 1024 * 1024));
    const single = await openLuks(d, enc('pw'));
    await single.write(4096, data);
    // the option reaches the device (an invalid count is refused there)
    await expect(openLuks(d, enc('pw'), { threads: 0 })).rejects.toMatchObject({ code: 'LUKS_THREADS' });
    const threaded = await openLuks(d, enc('pw'), { threads: 2, readOnly: true });
    try {
      const got = await threaded.read(4096, data.length);
      expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
      expect(threaded.readOnly).toBe(true);
    } finally {
      await threaded.close();
      await single.close();
    }
  });
});
