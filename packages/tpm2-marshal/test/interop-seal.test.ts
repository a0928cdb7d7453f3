import { join } from 'node:path';
import { describeWithPeers, tempDir } from '@lsvm/testkit';
import {
  RC,
  SRK_PERSISTENT_HANDLE,
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  TPM_ALG,
  TpmError,
  type SwtpmInstance,
  marshal,
  parsePcrSelection,
  seal,
  startSwtpm,
  unmarshal,
  unseal,
  sealLsvmload,
  unsealLsvmload,
  serializeSealedKeys,
  parseSealedKeys,
  checkLsvmloadSealedKeys,
} from '../src/index.js';
import { dec, enc, readBytes, tools, toolsOk, writeBytes } from './helpers.js';

/**
 * Sealing interop with tpm2-tools on swtpm, both ways, under a persistent SRK at 0x81000001
 * made by tpm2-tools (as Windows and systemd provision it).
 */
describeWithPeers(['swtpm', 'tpm2_create', 'tpm2_unseal'], 'seal/unseal interop with tpm2-tools', () => {
  let sw: SwtpmInstance;
  let dir: { path: string; cleanup: () => void };
  const sel = parsePcrSelection('sha256:7,11');

  beforeAll(async () => {
    sw = await startSwtpm();
    dir = tempDir('lsvm-tpm2-');
    toolsOk(sw, 'tpm2_createprimary', ['-C', 'o', '-c', join(dir.path, 'srk.ctx'), '-Q']);
    toolsOk(sw, 'tpm2_evictcontrol', [
      '-C',
      'o',
      '-c',
      join(dir.path, 'srk.ctx'),
      String(SRK_PERSISTENT_HANDLE),
      '-Q',
    ]);
    toolsOk(sw, 'tpm2_flushcontext', ['-t']);
    // Give PCR 7 a non-zero value so the policy is not the trivial one.
    toolsOk(sw, 'tpm2_pcrextend', [`7:sha256=${'ab'.repeat(32)}`]);
  });
  afterAll(async () => {
    await sw?.stop();
    dir?.cleanup();
  });

  test('we seal, tpm2_load + tpm2_unseal -p pcr:… unseal; fails after a PCR change', async () => {
    const tpm = await sw.connect();
    const secret = enc('lsvm sealed secret 1');
    const sealed = await seal(tpm, secret, { pcrs: sel });
    await tpm.close();
    writeBytes(dir.path, 'a.pub', marshal(TPM2B_PUBLIC, sealed.public));
    writeBytes(dir.path, 'a.priv', marshal(TPM2B_PRIVATE, sealed.private));
    const ctx = join(dir.path, 'a.ctx');
    toolsOk(sw, 'tpm2_load', [
      '-C',
      String(SRK_PERSISTENT_HANDLE),
      '-u',
      join(dir.path, 'a.pub'),
      '-r',
      join(dir.path, 'a.priv'),
      '-c',
      ctx,
      '-Q',
    ]);
    const out = tools(sw, 'tpm2_unseal', ['-c', ctx, '-p', 'pcr:sha256:7,11']);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('lsvm sealed secret 1');
    toolsOk(sw, 'tpm2_pcrextend', [`11:sha256=${'01'.repeat(32)}`]);
    const bad = tools(sw, 'tpm2_unseal', ['-c', ctx, '-p', 'pcr:sha256:7,11']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/0x99d|policy check failed/);
    toolsOk(sw, 'tpm2_flushcontext', ['-t']);
  });

  test('tpm2_create -L policy -i - seals, we unseal; TPM_RC_POLICY_FAIL after a PCR change', async () => {
    const pol = join(dir.path, 'pcr.policy');
    toolsOk(sw, 'tpm2_startauthsession', ['-S', join(dir.path, 's.ctx')]);
    toolsOk(sw, 'tpm2_policypcr', ['-S', join(dir.path, 's.ctx'), '-l', 'sha256:7,11', '-L', pol, '-Q']);
    toolsOk(sw, 'tpm2_flushcontext', [join(dir.path, 's.ctx')]);
    toolsOk(
      sw,
      'tpm2_create',
      [
        '-C',
        String(SRK_PERSISTENT_HANDLE),
        '-L',
        pol,
        '-i',
        '-',
        '-u',
        join(dir.path, 'b.pub'),
        '-r',
        join(dir.path, 'b.priv'),
        '-Q',
      ],
      'sealed by tpm2-tools',
    );
    toolsOk(sw, 'tpm2_flushcontext', ['-t']);
    const sealed = {
      public: unmarshal(TPM2B_PUBLIC, readBytes(dir.path, 'b.pub')),
      private: unmarshal(TPM2B_PRIVATE, readBytes(dir.path, 'b.priv')),
    };
    expect(sealed.public.type).toBe(TPM_ALG.KEYEDHASH);
    const tpm = await sw.connect();
    try {
      expect(dec(await unseal(tpm, sealed, { pcrs: sel }))).toBe('sealed by tpm2-tools');
      await tpm.pcrExtend(7, [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(2) }]);
      const err = await unseal(tpm, sealed, { pcrs: sel }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TpmError);
      expect((err as TpmError).base).toBe(RC.POLICY_FAIL);
      expect((err as TpmError).message).toContain('TPM_RC_POLICY_FAIL (session 1)');
    } finally {
      await tpm.close();
    }
  });

  test('sealed with an authValue: tpm2-tools needs pcr + password; we unseal with PolicyAuthValue and PolicyPassword', async () => {
    const tpm = await sw.connect();
    const auth = enc('hunter2');
    const sealed = await seal(tpm, enc('with auth'), { pcrs: sel, authValue: auth });
    expect(dec(await unseal(tpm, sealed, { pcrs: sel, authValue: auth }))).toBe('with auth');
    expect(dec(await unseal(tpm, sealed, { pcrs: sel, authValue: auth, policyAuth: 'password' }))).toBe(
      'with auth',
    );
    const wrong = await unseal(tpm, sealed, { pcrs: sel, authValue: enc('wrong') }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(TpmError);
    expect((wrong as TpmError).kind).toBe('auth');
    await tpm.close();
    // tpm2-tools: a policy session doing PolicyPassword + PolicyPCR, then the password.
    writeBytes(dir.path, 'c.pub', marshal(TPM2B_PUBLIC, sealed.public));
    writeBytes(dir.path, 'c.priv', marshal(TPM2B_PRIVATE, sealed.private));
    const s = join(dir.path, 'ps.ctx');
    toolsOk(sw, 'tpm2_load', [
      '-C',
      String(SRK_PERSISTENT_HANDLE),
      '-u',
      join(dir.path, 'c.pub'),
      '-r',
      join(dir.path, 'c.priv'),
      '-c',
      join(dir.path, 'c.ctx'),
      '-Q',
    ]);
    toolsOk(sw, 'tpm2_startauthsession', ['--policy-session', '-S', s]);
    toolsOk(sw, 'tpm2_policypassword', ['-S', s, '-Q']);
    toolsOk(sw, 'tpm2_policypcr', ['-S', s, '-l', 'sha256:7,11', '-Q']);
    const out = tools(sw, 'tpm2_unseal', ['-c', join(dir.path, 'c.ctx'), '-p', `session:${s}+hunter2`]);
    expect(out.stdout).toBe('with auth');
    tools(sw, 'tpm2_flushcontext', [s]);
    toolsOk(sw, 'tpm2_flushcontext', ['-t']);
  });

  test('a transient SRK from our template is the key tpm2_createprimary -a …|noda derives', async () => {
    const tpm = await sw.connect();
    const sealed = await seal(tpm, enc('transient parent'), { pcrs: sel, parent: { template: 'rsa2048' } });
    await tpm.close();
    writeBytes(dir.path, 'd.pub', marshal(TPM2B_PUBLIC, sealed.public));
    writeBytes(dir.path, 'd.priv', marshal(TPM2B_PRIVATE, sealed.private));
    const p = join(dir.path, 'p.ctx');
    toolsOk(sw, 'tpm2_createprimary', [
      '-C',
      'o',
      '-G',
      'rsa2048:null:aes128cfb',
      '-a',
      'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt',
      '-c',
      p,
      '-Q',
    ]);
    toolsOk(sw, 'tpm2_load', [
      '-C',
      p,
      '-u',
      join(dir.path, 'd.pub'),
      '-r',
      join(dir.path, 'd.priv'),
      '-c',
      join(dir.path, 'd.ctx'),
      '-Q',
    ]);
    toolsOk(sw, 'tpm2_flushcontext', ['-t']);
    const u = tools(sw, 'tpm2_unseal', ['-c', join(dir.path, 'd.ctx'), '-p', 'pcr:sha256:7,11']);
    expect(u.stderr).toBe('');
    expect(u.stdout).toBe('transient parent');
    toolsOk(sw, 'tpm2_flushcontext', ['-t']);
  });

  test('lsvmload sealedkeys: seal by import (attributes 0), file round trip, unseal with PolicyPassword', async () => {
    const tpm = await sw.connect();
    try {
      const values = (await tpm.pcrRead(sel)).map((v) => v.value);
      for (const authValue of [undefined, enc('lsvm-pw')]) {
        const keys = await sealLsvmload(tpm, enc('lsvmload volume key'), {
          ...(authValue ? { authValue } : {}),
        });
        const file = serializeSealedKeys(keys);
        expect(Buffer.from(file.subarray(file.length - 4)).toString('hex')).toBe('03800800');
        const back = parseSealedKeys(file);
        checkLsvmloadSealedKeys(back, values);
        expect(dec(await unsealLsvmload(tpm, back, { ...(authValue ? { authValue } : {}) }))).toBe(
          'lsvmload volume key',
        );
      }
    } finally {
      await tpm.close();
    }
  });
});
