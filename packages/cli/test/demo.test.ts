import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

interface DemoJson {
  ok: boolean;
  swtpm: boolean;
  steps: { id: string; status: string; ms: number }[];
  skipped: string[];
  install?: string;
  kept?: string;
  ms: number;
}

describeWithPeers(['mke2fs'], 'lsvm demo', () => {
  describeWithPeers(['swtpm'], 'with swtpm', () => {
    it('runs every step, the three protections hold, within 60 s; --keep keeps the artifacts', async () => {
      const t = tempDir('lsvm-demo-test-');
      try {
        const keep = join(t.path, 'kept');
        const r = await lsvm(['demo', '--json', '--keep', keep], { env: { PATH: process.env.PATH ?? '' } });
        expect(r.code).toBe(0);
        const j = JSON.parse(r.stdout) as DemoJson;
        expect(j.swtpm).toBe(true);
        expect(j.skipped).toEqual([]);
        expect(j.steps.map((s) => [s.id, s.status])).toEqual(
          [
            'sample-template',
            'check-template',
            'protect-template',
            'shielding-data',
            'swtpm',
            'provision',
            'boot-unlock',
            'validate-boot-path',
            'tampered-template',
            'changed-db',
            'wrong-guardian',
          ].map((id) => [id, 'passed']),
        );
        expect(typeof j.ms).toBe('number'); // the duration is reported (the 60 s), never asserted
        expect(existsSync(join(keep, 'template.vhdx'))).toBe(true);
        expect(existsSync(join(keep, 'vm.vhdx'))).toBe(true);
      } finally {
        t.cleanup();
      }
    }, 120_000);
  });

  it('without swtpm on PATH: skips the TPM steps, names the install command, exits 0 (human summary)', async () => {
    const r = await lsvm(['demo'], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^step +result +time/m);
    for (const id of ['swtpm', 'provision', 'boot-unlock', 'changed-db'])
      expect(r.stdout).toMatch(new RegExp(`^${id} +skipped`, 'm'));
    for (const id of [
      'sample-template',
      'check-template',
      'protect-template',
      'validate-boot-path',
      'tampered-template',
      'wrong-guardian',
    ])
      expect(r.stdout).toMatch(new RegExp(`^${id} +ok`, 'm'));
    expect(r.stdout).toMatch(/install it with: sudo apt-get install swtpm swtpm-tools/);
    expect(r.stdout).toMatch(/all steps passed/);
  }, 120_000);
});
