import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, forEachChunk, toHex } from '@lsvm/core';
import { openGpt } from '@lsvm/gpt';
import { openLuks, readLuks, unlockLuks } from '@lsvm/luks2';
import {
  type GuardianKeys,
  createFsk,
  createPdk,
  exportGuardian,
  generateGuardian,
  unpackSpecialization,
} from '@lsvm/shielding-data';
import { describeWithPeers, requirePeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  type SwtpmInstance,
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  checkLsvmloadSealedKeys,
  marshal,
  parseSealedKeys,
  startSwtpm,
  unsealLsvmload,
} from '@lsvm/tpm2-marshal';
import { certificateThumbprint } from '@lsvm/vsc';
import { createHash } from 'node:crypto';
import {
  type ProvisionReport,
  SEALEDKEYS_PATH,
  SPECIALIZATION_PATH,
  LSVMCONF_PATH,
  WELL_KNOWN_PASSPHRASE,
  decodeKeysPayload,
  defaultSecureBootVars,
  makeSampleTemplate,
  parseLsvmConf,
  predictPcr7,
  protectTemplate,
  provision,
} from '../src/index.js';
import { openDisk } from '../src/disk.js';
import {
  decryptToFile,
  enc,
  extractPartition,
  flipByte,
  readLoader,
  replayPredictedPcrs,
  sha256File,
  templateSigner,
  tpm2ToolsOk,
  tpm2ToolsUnseal,
} from './helpers.js';

const MiB = 1024 * 1024;

describeWithPeers(
  [
    'mke2fs',
    'swtpm',
    'tpm2_unseal',
    'tpm2_pcrextend',
    'cryptsetup',
    'qemu-img',
    'e2fsck',
    'mcopy',
    'vhdiinfo',
  ],
  'provision a VM disk from a protected sample template',
  () => {
    let dir: { path: string; cleanup: () => void };
    let sw: SwtpmInstance;
    let template: string;
    let templateHash: string;
    let fabric: GuardianKeys;
    let owner: GuardianKeys;
    let thumb: string;
    let pdk: Uint8Array;
    const answer = '#cloud-config\nhostname: @ComputerName@\n';
    const viq = (over: Partial<{ name: string; version: string; rule: string; signer: string }> = {}) => ({
      name: 'Sample *',
      version: '1.0',
      rule: 'GreaterThanOrEquals' as const,
      signer: thumb,
      ...over,
    });
    const makePdk = (viqs: ReturnType<typeof viq>[]): Uint8Array =>
      createPdk({
        owner,
        guardians: [exportGuardian(fabric)],
        policy: 'Shielded',
        viqs: viqs as Parameters<typeof createPdk>[0]['viqs'],
        secrets: {
          answerFile: { name: 'user-data', data: enc(answer) },
          files: [{ name: 'motd', data: enc('welcome\n') }],
          credentials: [],
          sshKeys: [],
        },
      });

    beforeAll(async () => {
      dir = tempDir('lsvm-prov-');
      template = join(dir.path, 'template.vhdx');
      await makeSampleTemplate(template, { size: 128 * MiB });
      const signer = templateSigner();
      const p = await protectTemplate(template, {
        signer: { certificate: signer.certificate.der, privateKey: signer.privateKey },
        name: 'Sample Linux',
        version: '1.2.0.0',
        workers: 0,
      });
      thumb = p.signerThumbprint;
      expect(thumb).toBe(certificateThumbprint(signer.certificate.der));
      templateHash = sha256File(template);
      expect(run('qemu-img', ['check', template]).status).toBe(0);
      owner = generateGuardian('Owner', { algorithm: 'p256' });
      fabric = generateGuardian('Fabric', { algorithm: 'p256' });
      pdk = makePdk([viq({ name: 'Other*' }), viq()]);
      sw = await startSwtpm();
    });
    afterAll(async () => {
      await sw?.stop();
      dir?.cleanup();
    });

    test('copy + keyslot: peers confirm re-keying, sealing, specialization and lsvmconf', async () => {
      const vm = join(dir.path, 'vm.vhdx');
      const fsk = createFsk([{ name: '@ComputerName@', value: 'vm-01' }]);
      const seen: string[] = [];
      const r: ProvisionReport = await provision(template, vm, {
        pdk,
        guardian: fabric,
        tcti: sw.tcti,
        fsk,
        onStep: (s) => seen.push(`${s.step}:${s.status}`),
      });
      expect(seen).toEqual([
        'shielding-data:ok',
        'verify-template:ok',
        'clone:ok',
        'verify-volumes:ok',
        'rekey:ok',
        'seal:ok',
        'specialization:ok',
        'lsvmconf:ok',
      ]);
      expect(r.steps[1]!.details.qualifier).toMatchObject({ name: 'Sample *' });
      expect(sha256File(template)).toBe(templateHash);
      expect(run('qemu-img', ['check', vm]).status).toBe(0);

      // Read the VM disk through qemu-img, then judge the volumes with cryptsetup.
      const raw = join(dir.path, 'vm.raw');
      runOk('qemu-img', ['convert', '-O', 'raw', vm, raw]);
      const [esp, boot, root] = ['esp', 'boot', 'root'].map((n) => join(dir.path, `vm-${n}`)) as [
        string,
        string,
        string,
      ];
      await extractPartition(raw, 1, esp);
      await extractPartition(raw, 2, boot);
      await extractPartition(raw, 3, root);
      const wk = join(dir.path, 'wellknown');
      writeFileSync(wk, WELL_KNOWN_PASSPHRASE);
      for (const v of [boot, root])
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', wk, v]).status).not.toBe(0);

      // lsvmconf names the volumes' real UUIDs and partition GUIDs.
      const conf = parseLsvmConf(runOk('mtype', ['-i', esp, `::${LSVMCONF_PATH}`]));
      expect(conf).toEqual(r.lsvmconf);
      expect(runOk('cryptsetup', ['luksUUID', boot]).trim()).toBe(conf.bootDeviceLuks);
      expect(runOk('cryptsetup', ['luksUUID', root]).trim()).toBe(conf.rootDeviceLuks);
      const rawDev = await FileDevice.open(raw);
      const table = (await openGpt(rawDev)).table!;
      await rawDev.close();
      expect(table.entries[1]!.uniqueGuid).toBe(conf.bootDevice);
      expect(table.entries[2]!.uniqueGuid).toBe(conf.rootDevice);

      // sealedkeys: bound to the predicted PCRs 7 and 11.
      const skPath = join(dir.path, 'sealedkeys');
      runOk('mcopy', ['-i', esp, `::${SEALEDKEYS_PATH}`, skPath]);
      const sk = parseSealedKeys(new Uint8Array(readFileSync(skPath)));
      const p7 = predictPcr7(defaultSecureBootVars(), await readLoader(esp, dir.path));
      expect(r.pcrs![7]).toBe(toHex(p7.value));
      checkLsvmloadSealedKeys(sk, [p7.value, hexBytes(r.pcrs![11])]);
      // PCRs still at reset: unsealing is refused.
      let tpm = await sw.connect();
      await expect(unsealLsvmload(tpm, sk)).rejects.toThrow(/POLICY_FAIL|0x99d/);
      await tpm.close();
      // Replay firmware's PCR 7 events and lsvmload's PCR 11 events with tpm2-tools.
      setPredictedPcrs(sw, p7.events);
      const pcrs = tpm2ToolsOk(sw, 'tpm2_pcrread', ['sha256:7,11']);
      expect(pcrs.toLowerCase()).toContain(r.pcrs![7]);
      expect(pcrs.toLowerCase()).toContain(r.pcrs![11]);
      tpm = await sw.connect();
      const payload = await unsealLsvmload(tpm, sk);
      await tpm.close();
      const keys = decodeKeysPayload(payload);
      // No secret in the report.
      const report = JSON.stringify(r);
      for (const k of [keys.boot, keys.root]) expect(report).not.toContain(Buffer.from(k).toString('latin1'));
      const bootKey = join(dir.path, 'bootkey');
      const rootKey = join(dir.path, 'rootkey');
      writeFileSync(bootKey, keys.boot);
      writeFileSync(rootKey, keys.root);
      expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', bootKey, boot]).status).toBe(0);
      expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', rootKey, root]).status).toBe(0);
      expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', rootKey, boot]).status).not.toBe(
        0,
      );

      // tpm2-tools unseals the same object with PolicyPassword + PolicyPCR.
      const out = tpm2ToolsUnseal(sw, {
        pub: marshal(TPM2B_PUBLIC, sk.public),
        priv: marshal(TPM2B_PRIVATE, sk.private),
        primaryAlg: 'rsa2048:null:aes128cfb',
        primaryAttributes: 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt',
        policyPassword: true,
        dir: dir.path,
      });
      expect(out.stderr).toBe('');
      expect(Buffer.from(out.secret!).equals(Buffer.from(payload))).toBe(true);

      // specialization.aes decrypts under the boot volume key to the PDK's files, FSK applied.
      const bootDev = await FileDevice.open(boot);
      const { volumeKey } = await unlockLuks(bootDev, await readLuks(bootDev), keys.boot);
      await bootDev.close();
      expect(volumeKey.length).toBe(32);
      const specPath = join(dir.path, 'specialization.aes');
      runOk('mcopy', ['-i', esp, `::${SPECIALIZATION_PATH}`, specPath]);
      const spec = unpackSpecialization(new Uint8Array(readFileSync(specPath)), volumeKey);
      expect(spec.files.map((f) => [f.name, new TextDecoder().decode(f.data)])).toEqual([
        ['unattend.xml', '#cloud-config\nhostname: vm-01\n'],
        ['motd', 'welcome\n'],
      ]);

      // The decrypted file systems are clean.
      await decryptToFile(boot, keys.boot, join(dir.path, 'boot.ext'));
      await decryptToFile(root, keys.root, join(dir.path, 'root.ext'));
      expect(run('e2fsck', ['-fn', join(dir.path, 'boot.ext')]).status).toBe(0);
      expect(run('e2fsck', ['-fn', join(dir.path, 'root.ext')]).status).toBe(0);
    });

    test('differencing clone: a VHDX child libvhdi reads through to the template as lsvm does', async () => {
      const vm = join(dir.path, 'child.vhdx');
      const r = await provision(template, vm, {
        pdk,
        guardian: fabric,
        tcti: sw.tcti,
        clone: 'differencing',
      });
      expect(r.steps.find((s) => s.step === 'clone')!.details).toMatchObject({
        mode: 'differencing',
        bytesCopied: 0,
      });
      expect(sha256File(template)).toBe(templateHash);
      // qemu-img does not open differencing VHDX at all ("Operation not supported"): libvhdi judges.
      expect(runOk('vhdiinfo', [vm])).toMatch(/Disk type\s+: Differential/);
      const py =
        'import sys, pyvhdi, hashlib\nf=pyvhdi.file(); f.open(sys.argv[1]); p=pyvhdi.file(); p.open(sys.argv[2]); f.set_parent(p)\n' +
        'h=hashlib.sha256(); s=f.get_media_size(); o=0\nwhile o<s:\n  n=min(4<<20,s-o); h.update(f.read_buffer_at_offset(n,o)); o+=n\nprint(h.hexdigest())';
      const lib = run('/usr/bin/python3', ['-c', py, vm, template]);
      if (lib.status !== 0 && !requirePeers && /No module named 'pyvhdi'/.test(lib.stderr)) {
        console.warn('python3-libvhdi missing: child not read through libvhdi');
        return;
      }
      expect(lib.stderr).toBe('');
      const d = await openDisk(vm);
      const h = createHash('sha256');
      await forEachChunk(d.disk, (c) => {
        h.update(c);
      });
      await d.close();
      expect(lib.stdout.trim()).toBe(h.digest('hex'));
    });

    test('reencrypt: new volume keys (cryptsetup dumps them), same plaintext, boot stays LUKS1 256-bit', async () => {
      const vm = join(dir.path, 'vm-re.vhdx');
      const r = await provision(template, vm, {
        pdk,
        guardian: fabric,
        tcti: sw.tcti,
        clone: 'differencing',
        rekey: 'reencrypt',
        reencryptChunkSize: 4 * MiB,
      });
      const rk = r.steps.find((s) => s.step === 'rekey')!.details;
      expect(rk).toMatchObject({ mode: 'reencrypt', volumeKeysChanged: true });
      expect((rk.boot as { reencrypted: unknown }).reencrypted).toMatchObject({
        cipher: 'aes-xts-plain64',
        keySizeBits: 256,
      });
      expect(existsSync(`${vm}.reencrypt-journal`)).toBe(false);
      expect(sha256File(template)).toBe(templateHash);
      // Keys: reseal is not needed here; read them back through the PCR-free path (our unlock).
      const wk = join(dir.path, 'wk');
      writeFileSync(wk, WELL_KNOWN_PASSPHRASE);
      for (const [idx, name] of [
        [2, 'boot'],
        [3, 'root'],
      ] as const) {
        const vmPart = join(dir.path, `re-${name}`);
        const tplPart = join(dir.path, `tpl-${name}`);
        await extractPartition(vm, idx, vmPart);
        await extractPartition(template, idx, tplPart);
        expect(run('cryptsetup', ['open', '--test-passphrase', '--key-file', wk, vmPart]).status).not.toBe(0);
        const tplKey = dumpKey(tplPart, wk);
        expect(tplKey).toMatch(/^[0-9a-f ]+$/);
        // The VM volume opens only with the sealed passphrase; recover it from the keys payload.
        const pass = await passphraseFromVm(vm, name, dir.path, sw);
        const keyFile = join(dir.path, `re-${name}.key`);
        writeFileSync(keyFile, pass);
        const vmKey = dumpKey(vmPart, keyFile);
        expect(vmKey).not.toBe(tplKey);
        if (name === 'boot') {
          expect(runOk('cryptsetup', ['luksDump', vmPart])).toMatch(/Version:\s+1[\s\S]*MK bits:\s+256/);
          expect(vmKey.replace(/ /g, '')).toHaveLength(64);
        }
        // Same plaintext under the new key.
        expect(await plainHash(vmPart, pass)).toBe(await plainHash(tplPart, enc(WELL_KNOWN_PASSPHRASE)));
      }
    });

    test('refusals name the qualifier field or the changed range, and leave no VM disk', async () => {
      const vm = join(dir.path, 'refused.vhdx');
      const cases: [ReturnType<typeof viq>, RegExp][] = [
        [viq({ name: 'Ubuntu*' }), /name: template name "Sample Linux" does not match "Ubuntu\*"/],
        [
          viq({ version: '1.2', rule: 'GreaterThan' }),
          /version: version 1\.2\.0\.0 is not greater than 1\.2\.0\.0/,
        ],
        [viq({ signer: 'ab'.repeat(32) }), /signer/],
      ];
      for (const [q, reason] of cases) {
        const err = await provision(template, vm, {
          pdk: makePdk([q]),
          guardian: fabric,
          tcti: sw.tcti,
        }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'PROVISION_QUALIFIER_MISMATCH', kind: 'verification' });
        expect((err as Error).message).toMatch(reason);
        expect((err as { steps: { status: string }[] }).steps.map((s) => s.status)).toEqual([
          'ok',
          'refused',
        ]);
        expect(existsSync(vm)).toBe(false);
      }
      // A byte flipped in root of a copy of the protected template.
      const tampered = join(dir.path, 'tampered.img');
      runOk('qemu-img', ['convert', '-O', 'raw', template, tampered]);
      const d = await FileDevice.open(tampered);
      const rootStart = (await openGpt(d)).table!.entries[2]!.firstLba * 512;
      await d.close();
      flipByte(tampered, rootStart + 3 * MiB + 1);
      const err = await provision(tampered, vm, { pdk, guardian: fabric, tcti: sw.tcti }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'PROVISION_TEMPLATE_CHANGED', kind: 'verification' });
      expect(
        (err as { steps: { step: string; status: string }[] }).steps.map((x) => `${x.step}:${x.status}`),
      ).toEqual(['shielding-data:ok', 'verify-template:ok', 'clone:ok', 'verify-volumes:refused']);
      expect((err as Error).message).toContain(
        `root (partition 3): bytes ${3 * MiB}..${4 * MiB - 1} changed`,
      );
      expect(existsSync(vm)).toBe(false);
      // Not a guardian of this PDK.
      const stranger = generateGuardian('Stranger', { algorithm: 'p256' });
      await expect(provision(template, vm, { pdk, guardian: stranger, tcti: sw.tcti })).rejects.toMatchObject(
        {
          kind: 'auth',
        },
      );
      expect(existsSync(vm)).toBe(false);
      expect(sha256File(template)).toBe(templateHash);
    });

    test('a failure after cloning (TPM unreachable) removes the VM disk', async () => {
      const vm = join(dir.path, 'notpm.vhdx');
      const err = await provision(template, vm, {
        pdk,
        guardian: fabric,
        tcti: 'swtpm:host=127.0.0.1,port=1',
      }).catch((e: unknown) => e);
      expect((err as { steps: { step: string; status: string }[] }).steps.at(-1)).toMatchObject({
        step: 'seal',
        status: 'failed',
      });
      expect(existsSync(vm)).toBe(false);
    });

    test('an existing VM disk, or the template given as the VM disk, is refused and left in place', async () => {
      const existing = join(dir.path, 'existing.vhdx');
      writeFileSync(existing, 'not mine to delete');
      const templateHash = sha256File(template);
      for (const target of [existing, template]) {
        await expect(
          provision(template, target, { pdk, guardian: fabric, tcti: sw.tcti }),
        ).rejects.toMatchObject({
          code: 'PROVISION_OUTPUT_EXISTS',
        });
      }
      expect(readFileSync(existing, 'utf8')).toBe('not mine to delete');
      expect(sha256File(template)).toBe(templateHash);
    });
  },
);

function hexBytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}

/** `cryptsetup luksDump --dump-volume-key`'s key, as printed (hex pairs). */
function dumpKey(image: string, keyFile: string): string {
  const out = runOk('cryptsetup', [
    'luksDump',
    '--dump-volume-key',
    '--batch-mode',
    '--key-file',
    keyFile,
    image,
  ]);
  const m = /(?:MK dump|Volume key):\s*([0-9a-f ]+(?:\n\s+[0-9a-f ]+)*)/i.exec(out);
  if (!m) throw new Error(`no key in cryptsetup output: ${out}`);
  return m[1]!.replace(/\s+/g, ' ').trim();
}

let pcrsSet = false;

/**
 * Brings the suite's swtpm PCRs 7 and 11 (at reset) to what firmware and lsvmload would leave:
 * replays the predicted PCR 7 events and lsvmload's three PCR 11 events with tpm2_pcrextend. Once.
 */
function setPredictedPcrs(sw: SwtpmInstance, events: { digest: string }[]): void {
  if (pcrsSet) return;
  replayPredictedPcrs(sw, events);
  pcrsSet = true;
}

/** The passphrase of a provisioned VM's volume: its sealed keys unsealed on the suite's swtpm. */
async function passphraseFromVm(
  vm: string,
  which: 'boot' | 'root',
  tmp: string,
  sw: SwtpmInstance,
): Promise<Uint8Array> {
  const esp = join(tmp, 'pp-esp');
  await extractPartition(vm, 1, esp);
  const skPath = join(tmp, 'pp-sealedkeys');
  runOk('mcopy', ['-o', '-i', esp, `::${SEALEDKEYS_PATH}`, skPath]);
  const sk = parseSealedKeys(new Uint8Array(readFileSync(skPath)));
  setPredictedPcrs(sw, predictPcr7(defaultSecureBootVars(), await readLoader(esp, tmp)).events);
  const tpm = await sw.connect();
  try {
    const keys = decodeKeysPayload(await unsealLsvmload(tpm, sk));
    return keys[which];
  } finally {
    await tpm.close();
  }
}

/** SHA-256 of a LUKS image's decrypted data segment (through lsvm's LuksDevice). */
async function plainHash(image: string, passphrase: Uint8Array): Promise<string> {
  const dev = await FileDevice.open(image);
  const plain = await openLuks(dev, passphrase);
  const h = createHash('sha256');
  await forEachChunk(plain, (c) => {
    h.update(c);
  });
  await plain.close();
  await dev.close();
  return h.digest('hex');
}
