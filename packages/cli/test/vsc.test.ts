import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import { runCli } from '../src/index.js';
import { makePki, type TestPki } from '../../vsc/test/pki.js';

/**
 * `lsvm vsc create/show/verify` end to end, on a raw disk made with sgdisk and cryptsetup and on
 * the same disk converted to VHDX by qemu-img. The CLI runs in-process from its sources.
 */
async function lsvm(
  args: string[],
  input?: Uint8Array,
): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: {
      write: (s: string | Uint8Array) => (stdout += typeof s === 'string' ? s : Buffer.from(s).toString()),
    },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => input ?? new Uint8Array(0),
    env: {},
  };
  const status = await runCli(args, io);
  return { status, stdout, stderr };
}

describeWithPeers(['sgdisk', 'cryptsetup', 'qemu-img', 'openssl'], 'lsvm vsc (CLI)', () => {
  let tmp: { path: string; cleanup: () => void };
  let pki: TestPki;
  let raw: string;
  let vhdx: string;
  let vsc: string;
  let boot: number;
  let root: number;
  const p = (f: string): string => join(tmp.path, f);

  beforeAll(async () => {
    tmp = tempDir('lsvm-vsc-cli-');
    pki = makePki(tmp.path);
    raw = p('disk.raw');
    writeFileSync(raw, new Uint8Array(0));
    runOk('truncate', ['-s', '12M', raw]);
    runOk('sgdisk', [
      '-n',
      '1:2048:+2M',
      '-t',
      '1:ef00',
      '-n',
      '2:0:+3M',
      '-t',
      '2:8300',
      '-n',
      '3:0:+4M',
      '-t',
      '3:8300',
      raw,
    ]);
    writeFileSync(p('kf'), 'lsvm test key file');
    const starts: number[] = [];
    for (const [n, mib] of [
      [2, 3],
      [3, 4],
    ] as const) {
      const img = p(`p${n}.img`);
      runOk('truncate', ['-s', `${mib}M`, img]);
      runOk('cryptsetup', [
        'luksFormat',
        '--type',
        'luks2',
        '--pbkdf',
        'pbkdf2',
        '--pbkdf-force-iterations',
        '1000',
        '--luks2-metadata-size',
        '16k',
        '--luks2-keyslots-size',
        '1m',
        '--batch-mode',
        img,
        '--key-file',
        p('kf'),
      ]);
      const first = Number(/First sector:\s+(\d+)/.exec(runOk('sgdisk', ['-i', String(n), raw]))![1]);
      starts.push(first);
      runOk('dd', [`if=${img}`, `of=${raw}`, 'bs=512', `seek=${first}`, 'conv=notrunc', 'status=none']);
    }
    [boot, root] = starts as [number, number];
    vhdx = p('disk.vhdx');
    runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'subformat=dynamic', raw, vhdx]);
    vsc = p('disk.vsc');
    const r = await lsvm(
      [
        'vsc',
        'create',
        raw,
        '--cert',
        pki.p256.certPath,
        '--key',
        '-',
        '--name',
        'Ubuntu 24.04',
        '--template-version',
        '1.2.0.0',
        '--block-size',
        '64K',
        '--out',
        vsc,
        '--json',
      ],
      pki.p256.key,
    );
    if (r.status !== 0) throw new Error(`vsc create failed: ${r.stderr}`);
  });
  afterAll(() => tmp?.cleanup());

  it('create picks the LUKS partitions as boot and root; show prints them', async () => {
    const r = await lsvm(['vsc', 'show', vsc, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ name: 'Ubuntu 24.04', version: '1.2.0.0', targetType: 'PreprocessedLinux' });
    expect(j.signer.subject).toBe('CN=lsvm signer P-256');
    expect(
      j.volumes.map((v: { index: number; role: string; blockSize: number; algorithm: string }) => [
        v.index,
        v.role,
        v.blockSize,
        v.algorithm,
      ]),
    ).toEqual([
      [2, 'boot', 65536, 'sha256'],
      [3, 'root', 65536, 'sha256'],
    ]);
    expect(j.volumes[0].firstLba).toBe(boot);
    expect(j.volumes[0].rootHash).toMatch(/^[0-9a-f]{64}$/);
    const text = await lsvm(['vsc', 'show', vsc]);
    expect(text.stdout).toMatch(/volume 3 root/);
  });

  it('verify: raw and VHDX of the same disk both match (same hashes), exit 0', async () => {
    for (const disk of [raw, vhdx]) {
      const r = await lsvm(['vsc', 'verify', disk, vsc, '--trust', join(tmp.path, 'ca.pem'), '--json']);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ match: true, signature: { valid: true, reason: 'ok' } });
    }
    const fromVhdx = p('from-vhdx.vsc');
    expect(
      (
        await lsvm([
          'vsc',
          'create',
          vhdx,
          '--cert',
          pki.p256.certPath,
          '--key',
          pki.p256.keyPath,
          '--name',
          'Ubuntu 24.04',
          '--template-version',
          '1.2.0.0',
          '--block-size',
          '64K',
          '--out',
          fromVhdx,
        ])
      ).status,
    ).toBe(0);
    const vols = async (f: string): Promise<unknown> =>
      JSON.parse((await lsvm(['vsc', 'show', f, '--json'])).stdout).volumes;
    expect(await vols(fromVhdx)).toEqual(await vols(vsc));
  });

  it('verify names the changed partition and block (exit 1); a change in the ESP is ignored', async () => {
    const bytes = readFileSync(raw);
    const copy = p('changed.raw');
    const m = Buffer.from(bytes);
    m[root * 512 + 3 * 65536 + 17]! ^= 0xff;
    m[2048 * 512 + 1000]! ^= 0xff; // ESP
    writeFileSync(copy, m);
    const thumbprint = JSON.parse((await lsvm(['vsc', 'show', vsc, '--json'])).stdout).signer
      .thumbprint as string;
    const r = await lsvm(['vsc', 'verify', copy, vsc, '--signer-thumbprint', thumbprint, '--json']);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.signature.valid).toBe(true);
    expect(j.volumes[0]).toMatchObject({ index: 2, status: 'match' });
    expect(j.volumes[1]).toMatchObject({
      index: 3,
      status: 'changed',
      changed: [{ firstBlock: 3, lastBlock: 3, offset: 3 * 65536, length: 65536 }],
    });
    const text = await lsvm(['vsc', 'verify', copy, vsc, '--trust', join(tmp.path, 'ca.pem')]);
    expect(text.stdout).toMatch(/volume 3 \(root\): changed/);
    expect(text.stdout).toMatch(/changed block 3: bytes 196608\.\.262143/);
  });

  it('verify reports an untrusted signer and a tampered catalog as signature failures (exit 1)', async () => {
    const untrusted = await lsvm([
      'vsc',
      'verify',
      raw,
      vsc,
      '--trust',
      join(tmp.path, 'other-ca.pem'),
      '--json',
    ]);
    expect(untrusted.status).toBe(1);
    expect(JSON.parse(untrusted.stdout).signature).toMatchObject({ valid: false, reason: 'untrusted' });
    const bad = Buffer.from(readFileSync(vsc));
    bad[100]! ^= 1;
    writeFileSync(p('bad.vsc'), bad);
    const r = await lsvm(['vsc', 'verify', raw, p('bad.vsc'), '--trust', join(tmp.path, 'ca.pem'), '--json']);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).signature.valid).toBe(false);
  });

  it('usage errors exit 2, bad input 3', async () => {
    expect((await lsvm(['vsc', 'verify', raw, vsc])).status).toBe(2);
    expect(
      (
        await lsvm([
          'vsc',
          'create',
          raw,
          '--cert',
          pki.p256.certPath,
          '--key',
          pki.p256.keyPath,
          '--name',
          'x',
          '--template-version',
          '1.2.3',
          '--out',
          p('x.vsc'),
        ])
      ).status,
    ).toBe(3);
    expect(
      (
        await lsvm([
          'vsc',
          'create',
          raw,
          '--cert',
          pki.rsa.certPath,
          '--key',
          pki.p256.keyPath,
          '--name',
          'x',
          '--template-version',
          '1.0.0.0',
          '--out',
          p('x.vsc'),
        ])
      ).status,
    ).toBe(2);
    const r = await lsvm(['vsc', 'show', raw]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^lsvm: VSC_BAD_MAGIC/);
  });
});
