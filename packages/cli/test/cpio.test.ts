import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { directoryEntry, fileEntry, serializeCpio, symlinkEntry } from '@lsvm/cpio';
import { describeWithPeers, run, runBytes, sharedVectors, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/** `lsvm cpio …`: listing, extraction, edits, the lsvmload injection, exit codes. */

let tmp: { path: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('lsvm-cli-cpio-');
});
afterAll(() => tmp.cleanup());

const vectors = join(sharedVectors, 'lsvmtools');

describe('lsvm cpio', () => {
  test('ls --json gives segment, compression, path, mode and size', async () => {
    const r = await lsvm(['cpio', 'ls', join(vectors, 'c.cpio.gz'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { segments: unknown[]; entries: Record<string, unknown>[] };
    expect(j.segments).toEqual([expect.objectContaining({ index: 0, compression: 'gzip', entries: 7 })]);
    expect(j.entries).toContainEqual(
      expect.objectContaining({
        segment: 0,
        compression: 'gzip',
        path: 'dir2/file1',
        type: 'file',
        mode: '0100755',
        size: 1272,
      }),
    );
  });

  test('the malformed a.cpio is exit 3 with the error code', async () => {
    const r = await lsvm(['cpio', 'ls', join(vectors, 'a.cpio')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('CPIO_BAD_NAME');
  });

  test('extract writes files, modes and symlinks, and refuses to write through a symlink', async () => {
    const good = join(tmp.path, 'good.cpio');
    writeFileSync(
      good,
      serializeCpio([
        directoryEntry('etc'),
        fileEntry('etc/key', new TextEncoder().encode('k'), { mode: 0o100400, mtime: 1_500_000_000 }),
        symlinkEntry('etc/link', 'key'),
      ]),
    );
    const out = join(tmp.path, 'out');
    expect((await lsvm(['cpio', 'extract', good, out])).code).toBe(0);
    expect(lstatSync(join(out, 'etc/key')).mode).toBe(0o100400);
    expect(lstatSync(join(out, 'etc/link')).isSymbolicLink()).toBe(true);
    const evil = join(tmp.path, 'evil.cpio');
    writeFileSync(
      evil,
      serializeCpio([symlinkEntry('esc', tmp.path), fileEntry('esc/pwned', new Uint8Array(1))]),
    );
    const r = await lsvm(['cpio', 'extract', evil, join(tmp.path, 'out2')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CPIO_UNSAFE_PATH');
  });

  test('add, rm and inject-keys write new images; the keys never reach the output streams', async () => {
    const src = join(vectors, 'c.cpio.gz');
    const added = join(tmp.path, 'added.gz');
    const f = join(tmp.path, 'f.txt');
    writeFileSync(f, 'added\n');
    expect((await lsvm(['cpio', 'add', src, added, 'etc/f.txt', f, '--mode', '0600'])).code).toBe(0);
    const removed = join(tmp.path, 'removed.gz');
    expect((await lsvm(['cpio', 'rm', added, removed, 'dir2/file1', './dir3/file2'])).code).toBe(0);
    expect((await lsvm(['cpio', 'rm', added, removed, 'not/there'])).code).toBe(2);
    const bk = join(tmp.path, 'bk');
    writeFileSync(bk, 'S3cret-boot');
    const out = join(tmp.path, 'keyed.gz');
    const r = await lsvm(
      ['cpio', 'inject-keys', removed, out, '--boot-key', bk, '--root-key', '-', '--json'],
      {
        stdin: new TextEncoder().encode('S3cret-root'),
      },
    );
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('S3cret');
    const ls = JSON.parse((await lsvm(['cpio', 'ls', out, '--json'])).stdout) as {
      entries: { path: string; mode: string }[];
    };
    const paths = ls.entries.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(['etc/f.txt', 'etc/lsvmload/bootkey', 'etc/lsvmload/rootkey']),
    );
    expect(paths).not.toContain('dir2/file1');
    expect(ls.entries.find((e) => e.path === 'etc/lsvmload/rootkey')?.mode).toBe('0100400');
    expect(lstatSync(out).mode & 0o777).toBe(0o600);
  });
});

describeWithPeers(['cpio', 'gzip'], 'lsvm cpio inject-keys output read by gzip and GNU cpio', () => {
  test('lsvmload mode 0100755 and the key bytes as cpio -i sees them', async () => {
    const out = join(tmp.path, 'peer.gz');
    const bk = join(tmp.path, 'b');
    const rk = join(tmp.path, 'r');
    writeFileSync(bk, 'boot-pass');
    writeFileSync(rk, 'root-pass');
    const r = await lsvm([
      'cpio',
      'inject-keys',
      join(vectors, 'c.cpio.gz'),
      out,
      '--boot-key',
      bk,
      '--root-key',
      rk,
      '--key-mode',
      '100755',
    ]);
    expect(r.code).toBe(0);
    const plain = runBytes('gzip', ['-dc', out]);
    const listing = run('cpio', ['-tv', '--quiet'], { input: plain }).stdout;
    expect(listing).toMatch(/^-rwxr-xr-x .* etc\/lsvmload\/bootkey$/m);
    const dir = join(tmp.path, 'peer-x');
    run('mkdir', ['-p', dir]);
    expect(run('cpio', ['-id', '--quiet'], { input: plain, cwd: dir }).status).toBe(0);
    expect(readFileSync(join(dir, 'etc/lsvmload/rootkey'), 'utf8')).toBe('root-pass');
  });
});
