import { randomBytes } from 'node:crypto';
import { MemoryDevice } from '@lsvm/core';
import fc from 'fast-check';
import { LuksDevice } from '../src/index.js';

/**
 * Writes through LuksDevice go out in 1 MiB pieces from one reused buffer: writes at any offset
 * and length (edge sectors read, decrypted and overlaid) must leave exactly the bytes a plain
 * model holds, for both sector sizes and for CBC and XTS.
 */
describe('LuksDevice writes', () => {
  test('property: random writes match a plaintext model', async () => {
    const MiB = 1024 * 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('aes-cbc-essiv:sha256', 'aes-xts-plain64'),
        fc.constantFrom(512, 4096),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 * MiB - 1 }), fc.integer({ min: 1, max: 2.5 * MiB })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (encryption, sectorSize, writes) => {
          const size = 4 * MiB;
          const key = new Uint8Array(randomBytes(encryption.includes('xts') ? 64 : 32));
          const layout = { offset: 0, size, sectorSize, ivTweak: 7n, encryption };
          const dev = new LuksDevice(new MemoryDevice(size), layout, key);
          const model = new Uint8Array(size);
          await dev.write(0, model);
          for (const [at, len] of writes) {
            const n = Math.min(len, size - at);
            const data = new Uint8Array(randomBytes(n));
            await dev.write(at, data);
            model.set(data, at);
          }
          const back = await dev.read(0, size);
          expect(Buffer.compare(back, model)).toBe(0);
          await dev.close();
        },
      ),
      { numRuns: 12 },
    );
  });
});
