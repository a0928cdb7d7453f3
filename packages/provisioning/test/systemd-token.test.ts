import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FileDevice, isLsvmError } from '@lsvm/core';
import { type SystemdTpm2Token, readLuks, systemdTpm2TokenJson, unlockLuks } from '@lsvm/luks2';
import { type GuardianKeys, createPdk, exportGuardian, generateGuardian } from '@lsvm/shielding-data';
import { type RunResult, describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  SYSTEMD_PRIMARY_ATTRIBUTES,
  SYSTEMD_SEALED_ATTRIBUTES,
  type SwtpmInstance,
  TPMT_PUBLIC,
  TPM_ALG,
  type Tpm,
  marshal,
  parseSystemdTpm2Blob,
  sealPolicy,
  sealSystemdTpm2,
  sealedDataTemplate,
  startSwtpm,
  systemdPrimaryTemplate,
  systemdTpm2Blob,
  unsealSystemdTpm2,
} from '@lsvm/tpm2-marshal';
import {
  SYSTEMD_TOKEN_KDF,
  defaultSecureBootVars,
  enrollSystemdTpm2Token,
  makeSampleTemplate,
  predictPcr7,
  protectTemplate,
  provision,
  systemdTokenPassphrase,
  systemdTpm2Tokens,
  unsealSystemdTpm2Token,
} from '../src/index.js';
import {
  enc,
  extractPartition,
  readLoader,
  replayPredictedPcrs,
  templateSigner,
  tpm2ToolsOk,
  tpm2ToolsUnseal,
} from './helpers.js';

// systemd-cryptsetup is systemd's libexec binary (the tool crypttab units run), not on PATH.
process.env.PATH = `${process.env.PATH ?? ''}:/usr/lib/systemd`;

const MiB = 1024 * 1024;
const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A small LUKS2 image (PBKDF2, 1000 iterations) opened by `pass`, made by cryptsetup. */
function luks2Image(path: string, passFile: string): void {
  runOk('truncate', ['-s', '20M', path]);
  runOk('cryptsetup', [
    'luksFormat',
    '--batch-mode',
    '--type',
    'luks2',
    '--pbkdf',
    'pbkdf2',
    '--pbkdf-force-iterations',
    '1000',
    '--key-file',
    passFile,
    path,
  ]);
}

/** The LUKS2 JSON metadata cryptsetup reads from `image`. */
function luksJson(image: string): {
  keyslots: Record<string, { kdf: { type: string; hash?: string; iterations?: number } }>;
  tokens: Record<string, Record<string, unknown>>;
} {
  return JSON.parse(runOk('cryptsetup', ['luksDump', '--dump-json-metadata', image]));
}

/** The one systemd-tpm2 token of a LUKS2 image, read by lsvm. */
async function onlyToken(image: string): Promise<SystemdTpm2Token> {
  const dev = await FileDevice.open(image);
  try {
    const tokens = systemdTpm2Tokens(await readLuks(dev));
    expect(tokens).toHaveLength(1);
    return tokens[0]!.token;
  } finally {
    await dev.close();
  }
}

/** `cryptsetup open --test-passphrase` of one keyslot with the passphrase in a file. */
function opensKeyslot(image: string, keyslot: number, passphrase: Uint8Array, dir: string): boolean {
  const f = join(dir, 'token-pass');
  writeFileSync(f, passphrase);
  const r = run('cryptsetup', [
    'open',
    '--test-passphrase',
    '--key-slot',
    String(keyslot),
    '--key-file',
    f,
    image,
  ]);
  writeFileSync(f, '');
  return r.status === 0;
}

/**
 * systemd's own unlock path: `systemd-cryptsetup attach` with the swtpm as TPM2 device, debug
 * logging on. Without device-mapper (as here) activation fails after the unseal; with it the
 * volume is activated and detached again. Returns the log and whether systemd unsealed the token.
 */
function systemdCryptsetup(
  sw: SwtpmInstance,
  image: string,
): { unsealed: boolean; keyslot?: number; log: string } {
  const name = `lsvm-sdtest-${process.pid}`;
  const r: RunResult = run(
    'systemd-cryptsetup',
    ['attach', name, image, '-', `tpm2-device=swtpm:port=${sw.port},headless`],
    { env: { ...process.env, SYSTEMD_LOG_LEVEL: 'debug' }, timeoutMs: 60_000 },
  );
  if (r.status === 0) run('systemd-cryptsetup', ['detach', name]);
  // No resource manager stands between systemd and the swtpm (the kernel's tpmrm would flush a
  // process's handles when it exits), and systemd 252 leaves its primary, key and sessions loaded
  // when the policy check fails: flush them so the next client finds free slots.
  tpm2ToolsOk(sw, 'tpm2_flushcontext', ['-t']);
  tpm2ToolsOk(sw, 'tpm2_flushcontext', ['-l']);
  const log = r.stdout + r.stderr;
  const m = /Activating volume \S+ \[keyslot (\d+)\] using passphrase/.exec(log);
  return {
    unsealed: /Completed TPM2 key unsealing/.test(log),
    ...(m ? { keyslot: Number(m[1]) } : {}),
    log,
  };
}

/**
 * tpm2-tools' unseal of a `tpm2-blob` (see {@link tpm2ToolsUnseal}): the blob cut at the
 * TPM2B_PRIVATE's size, under systemd's ECC primary (the storage template without noDA).
 */
function unsealBlobWithTools(sw: SwtpmInstance, blob: Uint8Array, dir: string): Uint8Array | undefined {
  const privEnd = 2 + ((blob[0]! << 8) | blob[1]!);
  return tpm2ToolsUnseal(sw, {
    priv: blob.subarray(0, privEnd),
    pub: blob.subarray(privEnd),
    primaryAlg: 'ecc256:null:aes128cfb',
    primaryAttributes: 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt',
    dir,
  }).secret;
}

describe('systemd-tpm2 pieces without a TPM', () => {
  test('our primary template is the one systemd recreates (no noDA, 0x00030072)', () => {
    expect(SYSTEMD_PRIMARY_ATTRIBUTES).toBe(0x00030072);
    expect(SYSTEMD_SEALED_ATTRIBUTES).toBe(0x12);
    expect(systemdPrimaryTemplate('rsa').type).toBe(TPM_ALG.RSA);
  });

  test('the passphrase is the padded standard base64 of the secret, as systemd base64mem makes it', () => {
    const secret = new Uint8Array(32).map((_, i) => 0xf0 + (i % 16));
    const pass = new TextDecoder().decode(systemdTokenPassphrase(secret));
    expect(pass).toHaveLength(44);
    expect(pass).toBe(Buffer.from(secret).toString('base64'));
    expect(pass.endsWith('=')).toBe(true);
    expect(pass).toMatch(/[+/]/); // not base64url
  });

  test('tpm2-blob: private ‖ public round-trips; any other byte string is only ever an LsvmError', () => {
    const pub = {
      ...sealedDataTemplate(new Uint8Array(32).fill(7), SYSTEMD_SEALED_ATTRIBUTES),
      unique: new Uint8Array(32).fill(9),
    };
    const priv = new Uint8Array(126).fill(3);
    const blob = systemdTpm2Blob(priv, pub);
    expect(blob.length).toBe(2 + 126 + 2 + marshal(TPMT_PUBLIC, pub).length);
    const back = parseSystemdTpm2Blob(blob);
    expect(Buffer.from(back.private).equals(Buffer.from(priv))).toBe(true);
    expect(marshal(TPMT_PUBLIC, back.public)).toEqual(marshal(TPMT_PUBLIC, pub));
    expect(() => parseSystemdTpm2Blob(new Uint8Array([...blob, 0]))).toThrow(
      expect.objectContaining({ code: 'SYSTEMD_TPM2_BLOB', kind: 'format' }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(blob.length), (junk, cut) => {
        for (const b of [junk, blob.subarray(0, cut), new Uint8Array([...blob.subarray(0, cut), ...junk])]) {
          try {
            parseSystemdTpm2Blob(b);
          } catch (e) {
            expect(isLsvmError(e)).toBe(true);
          }
        }
      }),
    );
  });

  test('tokens this version cannot unseal are refused before the TPM is touched', async () => {
    const tpm = {} as Tpm; // any call on it would throw a TypeError
    const base = { blob: new Uint8Array(4), pcrs: [7] };
    await expect(unsealSystemdTpm2(tpm, { ...base, pin: true })).rejects.toMatchObject({
      code: 'SYSTEMD_TPM2_PIN',
      kind: 'unsupported',
    });
    await expect(unsealSystemdTpm2(tpm, { ...base, pubkeyPcrs: [7] })).rejects.toMatchObject({
      code: 'SYSTEMD_TPM2_SIGNED_POLICY',
    });
    await expect(unsealSystemdTpm2(tpm, { ...base, primaryAlg: 'ecc384' })).rejects.toMatchObject({
      code: 'SYSTEMD_TPM2_PRIMARY_ALG',
    });
    await expect(unsealSystemdTpm2(tpm, { ...base, pcrBank: 'sha384' })).rejects.toMatchObject({
      code: 'SYSTEMD_TPM2_BANK',
    });
    await expect(sealSystemdTpm2(tpm, { pcrs: [] })).rejects.toMatchObject({ code: 'SYSTEMD_TPM2_PCRS' });
    await expect(sealSystemdTpm2(tpm, { pcrs: [24] })).rejects.toMatchObject({ code: 'SYSTEMD_TPM2_PCRS' });
  });
});

describeWithPeers(
  ['swtpm', 'cryptsetup', 'systemd-cryptenroll', 'systemd-cryptsetup', 'tpm2_unseal', 'truncate'],
  'systemd-tpm2 tokens interoperate with systemd (252 here) both ways',
  () => {
    const dir = tempDir('lsvm-sdtoken-');
    const p = (f: string) => join(dir.path, f);
    let sw: SwtpmInstance;
    beforeEach(async () => {
      sw = await startSwtpm();
      writeFileSync(p('pw'), 'template-pass');
    });
    afterEach(async () => {
      await sw?.stop();
    });
    afterAll(() => dir.cleanup());

    test('a token systemd-cryptenroll enrolls: our parser reads it, our writer reproduces its JSON, our client unseals it', async () => {
      const img = p('sd.img');
      luks2Image(img, p('pw'));
      const e = run('systemd-cryptenroll', [`--tpm2-device=${sw.tcti}`, '--tpm2-pcrs=7+11', img], {
        env: { ...process.env, PASSWORD: 'template-pass' },
      });
      expect(e.stderr).toMatch(/New TPM2 token enrolled as key slot 1/);
      expect(e.status).toBe(0);

      const json = luksJson(img);
      // systemd's keyslot KDF is the one we use for ours.
      expect(json.keyslots['1']!.kdf).toMatchObject({
        type: SYSTEMD_TOKEN_KDF.type,
        hash: SYSTEMD_TOKEN_KDF.hash,
        iterations: SYSTEMD_TOKEN_KDF.iterations,
      });
      const dev = await FileDevice.open(img);
      const volume = await readLuks(dev);
      const tokens = systemdTpm2Tokens(volume);
      expect(tokens).toHaveLength(1);
      const { id, token } = tokens[0]!;
      expect(id).toBe(0);
      expect(token).toMatchObject({
        keyslots: [1],
        pcrs: [7, 11],
        pcrBank: 'sha256',
        primaryAlg: 'ecc',
        pin: false,
      });
      // Same fields, same order, same values as systemd wrote.
      expect(JSON.stringify(systemdTpm2TokenJson(token))).toBe(JSON.stringify(json.tokens['0']));
      // The sealed object's public area, and the policy: PolicyPCR over the PCRs as they are (reset).
      const blob = parseSystemdTpm2Blob(token.blob);
      expect(blob.public.objectAttributes).toBe(SYSTEMD_SEALED_ATTRIBUTES);
      expect(blob.public.type).toBe(TPM_ALG.KEYEDHASH);
      const sel = [{ hash: TPM_ALG.SHA256, pcrs: [7, 11] }];
      const atReset = sealPolicy(sel, [new Uint8Array(32), new Uint8Array(32)], false);
      expect(hex(token.policyHash)).toBe(hex(atReset));
      expect(hex(blob.public.authPolicy)).toBe(hex(atReset));

      const tpm = await sw.connect();
      const { passphrase, keyslots } = await unsealSystemdTpm2Token(tpm, token);
      await tpm.close();
      expect(passphrase).toHaveLength(44); // base64 of 32 bytes
      expect(opensKeyslot(img, keyslots[0]!, passphrase, dir.path)).toBe(true);
      const opened = await unlockLuks(dev, volume, passphrase);
      expect(opened.keyslot).toBe(1);
      await dev.close();
    });

    test('a token we enroll: cryptsetup dumps it, systemd-cryptsetup and tpm2-tools unseal it only at the bound PCRs', async () => {
      const img = p('ours.img');
      luks2Image(img, p('pw'));
      // Bound to values the PCRs do not hold yet: one extend of each, predicted offline.
      const e7 = sha256(enc('lsvm systemd-token test: PCR 7'));
      const e11 = sha256(enc('lsvm systemd-token test: PCR 11'));
      const zero = new Uint8Array(32);
      const predicted = [sha256(zero, e7), sha256(zero, e11)];
      const dev = await FileDevice.open(img, { readOnly: false });
      let tpm = await sw.connect();
      const r = await enrollSystemdTpm2Token(dev, enc('template-pass'), tpm, {
        pcrs: [7, 11],
        pcrValues: predicted,
      });
      await tpm.close();
      await dev.close();
      expect(r).toMatchObject({
        tokenId: 0,
        keyslot: 1,
        pcrs: [7, 11],
        pcrBank: 'sha256',
        primaryAlg: 'ecc',
      });
      expect(r.policyHash).toBe(hex(sealPolicy([{ hash: TPM_ALG.SHA256, pcrs: [7, 11] }], predicted, false)));

      // cryptsetup's own reading (with systemd's token plugin): a systemd-tpm2 token on keyslot 1.
      const dump = runOk('cryptsetup', ['luksDump', img]);
      expect(dump).toMatch(/Tokens:\s+0: systemd-tpm2[\s\S]*tpm2-hash-pcrs:\s+7\+11[\s\S]*Keyslot:\s+1/);
      const json = luksJson(img);
      expect(json.keyslots['1']!.kdf).toMatchObject({ type: 'pbkdf2', hash: 'sha512', iterations: 1000 });
      expect(Object.keys(json.tokens['0']!)).toEqual([
        'type',
        'keyslots',
        'tpm2-blob',
        'tpm2-pcrs',
        'tpm2-pcr-bank',
        'tpm2-primary-alg',
        'tpm2-policy-hash',
        'tpm2-pin',
      ]);
      const token = await onlyToken(img);

      // PCRs at reset: nobody unseals.
      const early = systemdCryptsetup(sw, img);
      expect(early.unsealed).toBe(false);
      expect(early.log).toMatch(/policy digest does not match|TPM2 operation failed/i);
      expect(unsealBlobWithTools(sw, token.blob, dir.path)).toBeUndefined();
      tpm = await sw.connect();
      await expect(unsealSystemdTpm2Token(tpm, token)).rejects.toMatchObject({
        code: 'SYSTEMD_TPM2_POLICY_MISMATCH',
        kind: 'auth',
      });
      await tpm.close();

      // The bound values: systemd unseals and uses keyslot 1; tpm2-tools' secret, base64, opens it.
      tpm2ToolsOk(sw, 'tpm2_pcrextend', [`7:sha256=${hex(e7)}`, `11:sha256=${hex(e11)}`]);
      const late = systemdCryptsetup(sw, img);
      expect(late.unsealed).toBe(true);
      expect(late.keyslot).toBe(1);
      const secret = unsealBlobWithTools(sw, token.blob, dir.path);
      expect(secret).toHaveLength(32);
      expect(opensKeyslot(img, 1, systemdTokenPassphrase(secret!), dir.path)).toBe(true);
      expect(opensKeyslot(img, 1, enc(Buffer.from(secret!).toString('hex')), dir.path)).toBe(false);
    });
  },
);

describeWithPeers(
  ['mke2fs', 'swtpm', 'cryptsetup', 'tpm2_unseal', 'tpm2_pcrextend', 'mcopy', 'systemd-cryptsetup'],
  'provision --systemd-token',
  () => {
    const dir = tempDir('lsvm-prov-sdtoken-');
    const p = (f: string) => join(dir.path, f);
    let sw: SwtpmInstance;
    let fabric: GuardianKeys;
    let pdk: Uint8Array;
    beforeAll(async () => {
      await makeSampleTemplate(p('template.vhdx'), { size: 128 * MiB });
      const signer = templateSigner();
      const prot = await protectTemplate(p('template.vhdx'), {
        signer: { certificate: signer.certificate.der, privateKey: signer.privateKey },
        name: 'Sample Linux',
        version: '1.0.0.0',
        workers: 0,
      });
      const owner = generateGuardian('Owner', { algorithm: 'p256' });
      fabric = generateGuardian('Fabric', { algorithm: 'p256' });
      pdk = createPdk({
        owner,
        guardians: [exportGuardian(fabric)],
        policy: 'Shielded',
        viqs: [
          { name: 'Sample *', version: '1.0', rule: 'GreaterThanOrEquals', signer: prot.signerThumbprint },
        ],
        secrets: { files: [], credentials: [], sshKeys: [] },
      });
      sw = await startSwtpm();
    });
    afterAll(async () => {
      await sw?.stop();
      dir.cleanup();
    });

    test('root gets a systemd-tpm2 token bound to the predicted PCRs 7 and 11, which systemd and tpm2-tools unseal', async () => {
      const vm = p('vm.vhdx');
      const r = await provision(p('template.vhdx'), vm, {
        pdk,
        guardian: fabric,
        tcti: sw.tcti,
        clone: 'differencing',
        systemdToken: true,
      });
      expect(r.steps.map((s) => s.step)).toEqual([
        'shielding-data',
        'verify-template',
        'clone',
        'verify-volumes',
        'rekey',
        'seal',
        'systemd-token',
        'specialization',
        'lsvmconf',
      ]);
      const rekeyed = r.steps.find((s) => s.step === 'rekey')!.details as { root: { addedKeyslot: number } };
      const st = r.systemdToken!;
      expect(st).toMatchObject({ tokenId: 0, pcrs: [7, 11], pcrBank: 'sha256', primaryAlg: 'ecc' });
      expect(st.keyslot).not.toBe(rekeyed.root.addedKeyslot);
      expect(r.steps.find((s) => s.step === 'systemd-token')!.details).toEqual(st);
      // The same predicted PCR values as sealedkeys.
      const bound = [Buffer.from(r.pcrs![7], 'hex'), Buffer.from(r.pcrs![11], 'hex')].map(
        (b) => new Uint8Array(b),
      );
      expect(st.policyHash).toBe(hex(sealPolicy([{ hash: TPM_ALG.SHA256, pcrs: [7, 11] }], bound, false)));

      const root = p('vm-root');
      const esp = p('vm-esp');
      await extractPartition(vm, 3, root);
      await extractPartition(vm, 1, esp);
      const dump = runOk('cryptsetup', ['luksDump', root]);
      expect(dump).toMatch(new RegExp(`Tokens:\\s+0: systemd-tpm2[\\s\\S]*Keyslot:\\s+${st.keyslot}\\n`));
      const json = luksJson(root);
      expect(Object.keys(json.keyslots).sort()).toEqual(
        [String(rekeyed.root.addedKeyslot), String(st.keyslot)].sort(),
      );
      expect(json.tokens['0']).toMatchObject({
        type: 'systemd-tpm2',
        keyslots: [String(st.keyslot)],
        'tpm2-pcrs': [7, 11],
      });
      const token = await onlyToken(root);

      // At reset neither systemd nor tpm2-tools unseals; after the boot's events both do.
      expect(systemdCryptsetup(sw, root).unsealed).toBe(false);
      expect(unsealBlobWithTools(sw, token.blob, dir.path)).toBeUndefined();
      replayPredictedPcrs(sw, predictPcr7(defaultSecureBootVars(), readLoader(esp, dir.path)).events);
      const sd = systemdCryptsetup(sw, root);
      expect(sd.unsealed).toBe(true);
      expect(sd.keyslot).toBe(st.keyslot);
      const secret = unsealBlobWithTools(sw, token.blob, dir.path)!;
      expect(secret).toHaveLength(32);
      const passphrase = systemdTokenPassphrase(secret);
      expect(opensKeyslot(root, st.keyslot, passphrase, dir.path)).toBe(true);
      // No secret in the report.
      const report = JSON.stringify(r);
      expect(report).not.toContain(Buffer.from(passphrase).toString('latin1'));
      expect(report).not.toContain(hex(secret));
    });

    test('a LUKS1 root is refused before anything is written', async () => {
      const template = p('luks1-root.img');
      await makeSampleTemplate(template, { size: 128 * MiB, rootLuksVersion: 1 });
      await extractPartition(template, 3, p('luks1-root'));
      expect(runOk('cryptsetup', ['luksDump', p('luks1-root')])).toMatch(/Version:\s+1\n/);
      const vm = p('luks1-vm.img');
      const err = await provision(template, vm, {
        pdk,
        guardian: fabric,
        tcti: sw.tcti,
        systemdToken: true,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PROVISION_SYSTEMD_TOKEN_LUKS1', kind: 'usage' });
      expect((err as Error).message).toMatch(/root volume is LUKS1/);
      expect(
        (err as { steps: { step: string; status: string }[] }).steps.map((s) => `${s.step}:${s.status}`),
      ).toEqual(['shielding-data:ok', 'verify-template:failed']);
      expect(existsSync(vm)).toBe(false);
    });
  },
);
