import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SectorCipher } from '../src/index.js';

/**
 * The batched CBC paths of SectorCipher (block j of many sectors per ECB call when encrypting;
 * one native CBC call per 64 KiB with a per-sector fix-up of the first block when decrypting)
 * against node:crypto's own aes-*-cbc run sector by sector with the IV dm-crypt would use.
 */

const IV_KINDS = ['essiv:sha256', 'plain', 'plain64', 'plain64be', 'null'] as const;
const U64 = (1n << 64n) - 1n;

/** The IV dm-crypt gives the sector numbered `sector` (512-byte units), before ESSIV encryption. */
function dmCryptIv(kind: (typeof IV_KINDS)[number], sector: bigint, key: Uint8Array): Buffer {
  const iv = Buffer.alloc(16);
  const n = sector & U64;
  if (kind === 'plain') iv.writeUInt32LE(Number(n & 0xffffffffn));
  else if (kind === 'plain64' || kind === 'essiv:sha256') iv.writeBigUInt64LE(n);
  else if (kind === 'plain64be') iv.writeBigUInt64BE(n, 8);
  if (kind !== 'essiv:sha256') return iv;
  const salt = createHash('sha256').update(key).digest();
  return createCipheriv('aes-256-ecb', salt, null).setAutoPadding(false).update(iv);
}

function reference(
  kind: (typeof IV_KINDS)[number],
  key: Uint8Array,
  data: Uint8Array,
  firstIv: bigint,
  sectorSize: number,
): Buffer {
  const out = Buffer.alloc(data.length);
  for (let s = 0; s * sectorSize < data.length; s++) {
    const iv = dmCryptIv(kind, firstIv + BigInt((s * sectorSize) / 512), key);
    createCipheriv(`aes-${key.length * 8}-cbc`, key, iv)
      .setAutoPadding(false)
      .update(data.subarray(s * sectorSize, (s + 1) * sectorSize))
      .copy(out, s * sectorSize);
  }
  return out;
}

describe('CBC sector cipher', () => {
  test('property: encrypt matches per-sector node:crypto aes-*-cbc, decrypt inverts it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...IV_KINDS),
        fc.constantFrom(16, 24, 32),
        fc.constantFrom(512, 1024, 2048, 4096),
        fc.integer({ min: 1, max: 40 }),
        // Near 0, anywhere, and just below the 64-bit wrap of the sector counter.
        fc.oneof(
          fc.bigInt({ min: 0n, max: 1000n }),
          fc.bigInt({ min: 0n, max: U64 }),
          fc.bigInt({ min: U64 - 50n, max: U64 }),
        ),
        // An unaligned view exercises the copies around the 32-bit word passes.
        fc.integer({ min: 0, max: 3 }),
        (iv, keySize, sectorSize, sectors, firstIv, shift) => {
          const key = new Uint8Array(randomBytes(keySize));
          const plain = new Uint8Array(randomBytes(sectors * sectorSize));
          const backing = new Uint8Array(plain.length + shift);
          const ours = backing.subarray(shift);
          ours.set(plain);
          const c = new SectorCipher(`aes-cbc-${iv}`, key);
          c.encrypt(ours, firstIv, sectorSize);
          expect(Buffer.from(ours).equals(reference(iv, key, plain, firstIv, sectorSize))).toBe(true);
          c.decrypt(ours, firstIv, sectorSize);
          expect(Buffer.from(ours).equals(Buffer.from(plain))).toBe(true);
          c.destroy();
        },
      ),
      { numRuns: 150 },
    );
  });

  test('requests larger than one batch (several chunks) match the reference, both directions', () => {
    const key = new Uint8Array(randomBytes(32));
    for (const sectorSize of [512, 4096]) {
      // 1300 sectors: more than two 512-sector encryption rows, and several decryption chunks.
      const plain = new Uint8Array(randomBytes(1300 * sectorSize));
      const data = new Uint8Array(plain);
      const c = new SectorCipher('aes-cbc-essiv:sha256', key);
      c.encrypt(data, 12345n, sectorSize);
      const ref = reference('essiv:sha256', key, plain, 12345n, sectorSize);
      expect(Buffer.from(data).equals(ref)).toBe(true);
      // Decryption against node's own decipher, sector by sector.
      const back = Buffer.alloc(ref.length);
      for (let s = 0; s < 1300; s++) {
        const iv = dmCryptIv('essiv:sha256', 12345n + BigInt((s * sectorSize) / 512), key);
        createDecipheriv('aes-256-cbc', key, iv)
          .setAutoPadding(false)
          .update(ref.subarray(s * sectorSize, (s + 1) * sectorSize))
          .copy(back, s * sectorSize);
      }
      c.decrypt(data, 12345n, sectorSize);
      expect(Buffer.from(data).equals(back)).toBe(true);
      expect(Buffer.from(data).equals(Buffer.from(plain))).toBe(true);
    }
  });
});
