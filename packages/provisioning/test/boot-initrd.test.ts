import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describeWithPeers, tempDir } from '@lsvm/testkit';
import { injectInitrdKeys } from '../src/boot/initrd.js';

/** Runs a shell-free pipeline step: cmd with stdin bytes, returns stdout. */
function pipe(cmd: string, args: string[], input: Uint8Array | undefined, cwd: string): Buffer {
  const r = spawnSync(cmd, args, { cwd, input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

describeWithPeers(['cpio', 'gzip'], 'initrd key injection, checked with cpio', () => {
  it('adds bootkey and rootkey, removes specialize and hyperv-keyboard.ko; cpio extracts the keys', async () => {
    const t = tempDir();
    try {
      const root = join(t.path, 'root');
      mkdirSync(join(root, 'etc/lsvmload'), { recursive: true });
      mkdirSync(join(root, 'lib/modules/6.1.0/kernel/drivers/input/serio'), { recursive: true });
      writeFileSync(join(root, 'init'), '#!/bin/sh\necho hello\n');
      writeFileSync(join(root, 'etc/lsvmload/specialize'), 'first boot marker');
      writeFileSync(join(root, 'lib/modules/6.1.0/kernel/drivers/input/serio/hyperv-keyboard.ko'), 'module');
      const list = pipe('find', ['.', '-mindepth', '1'], undefined, root);
      const archive = pipe('cpio', ['-o', '-H', 'newc', '--quiet'], list, root);
      const initrd = new Uint8Array(pipe('gzip', ['-9', '-n'], archive, root));

      const bootKey = new TextEncoder().encode('boot-passphrase-0123');
      const rootKey = new TextEncoder().encode('root-passphrase-4567');
      const r = await injectInitrdKeys(initrd, { boot: bootKey, root: rootKey });
      expect(r.removed.sort()).toEqual(
        ['etc/lsvmload/specialize', 'lib/modules/6.1.0/kernel/drivers/input/serio/hyperv-keyboard.ko'].sort(),
      );
      expect(r.bytes[0]).toBe(0x1f); // still gzip
      const plain = gunzipSync(r.bytes);
      const names = pipe('cpio', ['-it', '--quiet'], plain, t.path).toString().split('\n').filter(Boolean);
      expect(names).toEqual(expect.arrayContaining(['init', 'etc/lsvmload/bootkey', 'etc/lsvmload/rootkey']));
      expect(names).not.toContain('etc/lsvmload/specialize');
      expect(names.some((n) => n.endsWith('hyperv-keyboard.ko'))).toBe(false);
      const out = join(t.path, 'out');
      mkdirSync(out);
      pipe('cpio', ['-id', '--quiet'], plain, out);
      expect(readFileSync(join(out, 'etc/lsvmload/bootkey'), 'utf8')).toBe('boot-passphrase-0123');
      expect(readFileSync(join(out, 'etc/lsvmload/rootkey'), 'utf8')).toBe('root-passphrase-4567');
      expect(statSync(join(out, 'etc/lsvmload/bootkey')).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(out, 'init'), 'utf8')).toContain('hello');
    } finally {
      t.cleanup();
    }
  });

  it('refuses an initrd that is not one, with a typed error', async () => {
    await expect(
      injectInitrdKeys(new TextEncoder().encode('not an initrd at all'), {
        boot: Uint8Array.of(1),
        root: Uint8Array.of(2),
      }),
    ).rejects.toMatchObject({ code: expect.any(String), kind: expect.any(String) });
  });
});
