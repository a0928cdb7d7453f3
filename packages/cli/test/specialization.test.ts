import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

describe('lsvm specialization', () => {
  const key = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

  test('pack, show, unpack; wrong key exits 1; bad key size exits 4', async () => {
    const t = tempDir();
    try {
      const p = (f: string) => join(t.path, f);
      mkdirSync(p('in'));
      writeFileSync(p('in/a.txt'), 'hello');
      writeFileSync(p('in/unattend.xml'), '<unattend/>');
      const pack = await lsvm([
        'specialization',
        'pack',
        p('in'),
        '--key-hex',
        key,
        '--out',
        p('specialization.aes'),
        '--json',
      ]);
      expect(pack.code).toBe(0);
      expect(JSON.parse(pack.stdout).files).toEqual(['unattend.xml', 'a.txt']);
      expect(pack.stdout).not.toContain(key);
      const show = JSON.parse(
        (await lsvm(['specialization', 'show', p('specialization.aes'), '--json'])).stdout,
      );
      expect(show).toMatchObject({ version: 1, mode: 2, ivOffset: 36, hmacOffset: 52, cipherOffset: 84 });
      writeFileSync(p('key.bin'), Buffer.from(key, 'hex'));
      const un = await lsvm([
        'specialization',
        'unpack',
        p('specialization.aes'),
        '--key-file',
        p('key.bin'),
        '--out',
        p('out'),
      ]);
      expect(un.code).toBe(0);
      expect(readFileSync(p('out/unattend.xml'), 'utf8')).toBe('<unattend/>');
      const wrong = await lsvm([
        'specialization',
        'unpack',
        p('specialization.aes'),
        '--key-hex',
        `ff${key.slice(2)}`,
        '--out',
        p('out2'),
      ]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/SPEC_HMAC/);
      expect(wrong.stderr).not.toContain(key.slice(2));
      expect(
        (await lsvm(['specialization', 'pack', p('in'), '--key-hex', key.repeat(2), '--out', p('x.aes')]))
          .code,
      ).toBe(4);
      expect((await lsvm(['specialization', 'pack', p('in'), '--out', p('x.aes')])).code).toBe(2);
    } finally {
      t.cleanup();
    }
  });
});
