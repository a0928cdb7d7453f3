import { join } from 'node:path';
import { VerificationError, toHex } from '@lsvm/core';
import { describeWithPeers, tempDir } from '@lsvm/testkit';
import {
  PcrBank,
  PolicyCalculator,
  RC,
  TPMA_NV,
  TPMA_SESSION,
  TPM_ALG,
  TPM_CAP,
  TPM_PT,
  TPM_RH,
  Tpm,
  TpmError,
  type SwtpmInstance,
  type TpmTransport,
  SwtpmTransport,
  capLsvmload,
  createImportBlob,
  extendLsvmloadScenario,
  hash,
  importSealed,
  parsePcrSelection,
  readParentPublic,
  seal,
  srkTemplateEcc,
  startSwtpm,
  uefiVariableData,
  unseal,
  EFI_GLOBAL_VARIABLE,
  nvName,
  sealedDataTemplate,
  srkTemplateRsa,
  TPMA_OBJECT,
} from '../src/index.js';
import { contains, dec, enc, readBytes, toolsOk } from './helpers.js';

/** Runs f while capturing the wire, and checks the unsealed text never appears on it. */
async function withTapCheck(tpm: Tpm, f: () => Promise<void>): Promise<void> {
  const seen: Uint8Array[] = [];
  tpm.onWire = (_d, b) => seen.push(b.slice());
  try {
    await f();
  } finally {
    tpm.onWire = undefined;
  }
  expect(contains(new Uint8Array(Buffer.concat(seen)), enc('hmac-authorized'))).toBe(false);
}

/** A transport that records every byte and can tamper with responses. */
class Tap implements TpmTransport {
  sent: Uint8Array[] = [];
  received: Uint8Array[] = [];
  tamper: ((resp: Uint8Array) => Uint8Array) | undefined;
  constructor(private readonly inner: TpmTransport) {}
  async send(c: Uint8Array): Promise<Uint8Array> {
    this.sent.push(c.slice());
    let r = await this.inner.send(c);
    if (this.tamper) r = this.tamper(r);
    this.received.push(r.slice());
    return r;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  all(): Uint8Array {
    return new Uint8Array(Buffer.concat([...this.sent, ...this.received]));
  }
}

describeWithPeers(['swtpm', 'tpm2_policypcr', 'tpm2_pcrread'], 'sessions, policies and PCRs on swtpm', () => {
  let sw: SwtpmInstance;
  let dir: { path: string; cleanup: () => void };
  beforeAll(async () => {
    sw = await startSwtpm();
    dir = tempDir('lsvm-tpm2s-');
  });
  afterAll(async () => {
    await sw?.stop();
    dir?.cleanup();
  });
  async function withTap<T>(f: (tpm: Tpm, tap: Tap) => Promise<T>): Promise<T> {
    const tap = new Tap(await SwtpmTransport.connect({ port: sw.port }));
    const tpm = new Tpm(tap);
    try {
      return await f(tpm, tap);
    } finally {
      await tpm.close();
    }
  }

  test('offline PolicyPCR digest equals tpm2_policypcr in a trial session, and our own trial session', async () => {
    toolsOk(sw, 'tpm2_pcrextend', [`16:sha256=${'5a'.repeat(32)}`, `7:sha256=${'07'.repeat(32)}`]);
    const sel = parsePcrSelection('sha256:7,16');
    const policyFile = join(dir.path, 'p.bin');
    toolsOk(sw, 'tpm2_startauthsession', ['-S', join(dir.path, 't.ctx')]);
    toolsOk(sw, 'tpm2_policypcr', [
      '-S',
      join(dir.path, 't.ctx'),
      '-l',
      'sha256:7,16',
      '-L',
      policyFile,
      '-Q',
    ]);
    toolsOk(sw, 'tpm2_flushcontext', [join(dir.path, 't.ctx')]);
    const theirs = toHex(readBytes(dir.path, 'p.bin'));
    await withTap(async (tpm) => {
      const values = (await tpm.pcrRead(sel)).map((v) => v.value);
      const ours = new PolicyCalculator(TPM_ALG.SHA256).policyPcr(sel, values).digest;
      expect(toHex(ours)).toBe(theirs);
      const trial = await tpm.startAuthSession({ type: 'trial' });
      await tpm.policyPCR(trial, sel);
      expect(toHex(await tpm.policyGetDigest(trial))).toBe(theirs);
      // PolicyAuthValue + PolicyOR + PolicyAuthorize in a trial session agree with the calculator.
      await tpm.policyRestart(trial);
      await tpm.policyAuthValue(trial);
      const calc = new PolicyCalculator(TPM_ALG.SHA256).policyAuthValue();
      expect(toHex(await tpm.policyGetDigest(trial))).toBe(toHex(calc.digest));
      const other = new PolicyCalculator(TPM_ALG.SHA256).policyPassword().policyCommandCode(0x15e).digest;
      await tpm.policyOR(trial, [calc.digest, other]);
      calc.policyOr([calc.digest, other]);
      expect(toHex(await tpm.policyGetDigest(trial))).toBe(toHex(calc.digest));
      await tpm.flushContext(trial);
    });
  });

  test('PCR prediction (UEFI variable, lsvmload scenario and cap) equals the TPM after the same extends', async () => {
    const secureBoot = uefiVariableData(EFI_GLOBAL_VARIABLE, 'SecureBoot', new Uint8Array([1]));
    await withTap(async (tpm) => {
      await tpm.pcrReset(16);
      const start = (await tpm.pcrRead(parsePcrSelection('sha256:11+sha1:11'))).map((v) => v.value);
      const bank = new PcrBank(TPM_ALG.SHA256, { 11: start[0]!, 16: new Uint8Array(32) });
      const bank1 = new PcrBank(TPM_ALG.SHA1, { 11: start[1]! });
      bank.measure(16, secureBoot);
      extendLsvmloadScenario(bank);
      extendLsvmloadScenario(bank1);
      capLsvmload(bank);
      capLsvmload(bank1);
      // The same events through the TPM: ours for PCR 16, tpm2_pcrextend for PCR 11 (both banks).
      await tpm.pcrExtend(16, [{ hashAlg: TPM_ALG.SHA256, digest: hash(TPM_ALG.SHA256, secureBoot) }]);
      await tpm.close();
      const events = [
        new Uint8Array([0x10, 0, 0, 0]),
        new Uint8Array([0x02, 0, 0xf0, 0]),
        new Uint8Array([0x01, 0, 0, 0]),
        new Uint8Array(20),
      ];
      for (const e of events)
        toolsOk(sw, 'tpm2_pcrextend', [
          `11:sha256=${toHex(hash(TPM_ALG.SHA256, e))},sha1=${toHex(hash(TPM_ALG.SHA1, e))}`,
        ]);
      const y = toolsOk(sw, 'tpm2_pcrread', ['sha256:11,16+sha1:11']);
      expect(y.toLowerCase()).toContain(`11: 0x${toHex(bank.get(11))}`);
      expect(y.toLowerCase()).toContain(`16: 0x${toHex(bank.get(16))}`);
      expect(y.toLowerCase()).toContain(`11: 0x${toHex(bank1.get(11))}`);
    });
  });

  test('salted + encrypted sessions: the secret never crosses the wire; it does without encryption', async () => {
    const secret = enc('THE-SEALED-SECRET-0123456789');
    const sel = parsePcrSelection('sha256:0');
    const sealed = await withTap(async (tpm, tap) => {
      const s = await seal(tpm, secret, { pcrs: sel });
      expect(contains(tap.all(), secret)).toBe(false);
      return s;
    });
    await withTap(async (tpm, tap) => {
      expect(dec(await unseal(tpm, sealed, { pcrs: sel }))).toBe(dec(secret));
      expect(contains(tap.all(), secret)).toBe(false);
    });
    // Control: a plain (unsalted, unencrypted) policy session shows the secret in the capture.
    await withTap(async (tpm, tap) => {
      const parent = await tpm.createPrimary(TPM_RH.OWNER, {
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: (await import('../src/index.js')).srkTemplateRsa(),
      });
      const item = await tpm.load(parent.handle, sealed.private, sealed.public);
      const ps = await tpm.startAuthSession({ type: 'policy' });
      await tpm.policyPCR(ps, sel);
      expect(dec(await tpm.unseal(item.handle, { auth: [{ session: ps }] }))).toBe(dec(secret));
      expect(contains(tap.all(), secret)).toBe(true);
      await tpm.flushContext(ps);
      await tpm.flushContext(item.handle);
      await tpm.flushContext(parent.handle);
    });
  });

  test('a tampered response HMAC or encrypted parameter is rejected', async () => {
    await withTap(async (tpm, tap) => {
      const primary = await tpm.createPrimary(TPM_RH.OWNER, {
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: srkTemplateEcc(),
      });
      const s = await tpm.startAuthSession({
        salt: { handle: primary.handle, public: primary.outPublic },
        attributes: TPMA_SESSION.continueSession | TPMA_SESSION.encrypt,
      });
      expect((await tpm.getRandom(16, { extra: [s] })).length).toBe(16);
      // Flip the last byte (inside the response HMAC).
      tap.tamper = (r) => {
        const c = r.slice();
        c[c.length - 1]! ^= 1;
        return c;
      };
      await expect(tpm.getRandom(16, { extra: [s] })).rejects.toBeInstanceOf(VerificationError);
      // Flip a byte of the encrypted random bytes (parameter area): the HMAC covers it too.
      tap.tamper = (r) => {
        const c = r.slice();
        c[16]! ^= 0x80;
        return c;
      };
      await expect(tpm.getRandom(16, { extra: [s] })).rejects.toMatchObject({ code: 'TPM2_RESPONSE_HMAC' });
      tap.tamper = undefined;
      await tpm.flushContext(s).catch(() => undefined);
      await tpm.flushContext(primary.handle);
    });
  });

  test('createImportBlob → Import + Load + Unseal (RSA and ECC parents)', async () => {
    for (const template of ['rsa2048', 'eccp256'] as const) {
      await withTap(async (tpm) => {
        const parentPublic = await readParentPublic(tpm, { template });
        const sel = parsePcrSelection('sha256:7,11');
        const values = (await tpm.pcrRead(sel)).map((v) => v.value);
        const policy = new PolicyCalculator(TPM_ALG.SHA256).policyPassword().policyPcr(sel, values).digest;
        const auth = enc('import-pw');
        const blob = createImportBlob(parentPublic, enc(`imported via ${template}`), policy, {
          authValue: auth,
        });
        expect(blob.public.objectAttributes).toBe(0);
        const imported = await importSealed(tpm, blob, { template });
        expect(dec(await unseal(tpm, imported, { pcrs: sel, authValue: auth, parent: { template } }))).toBe(
          `imported via ${template}`,
        );
      });
    }
  });

  test('bound HMAC session, ECC-salted session, NV define/write/read, context save/load, capabilities, DA', async () => {
    await withTap(async (tpm) => {
      const props = await tpm.getProperties(TPM_PT.FAMILY_INDICATOR);
      expect(props.find((p) => p.property === TPM_PT.FAMILY_INDICATOR)?.value).toBe(0x322e3000);
      const banks = await tpm.getPcrBanks();
      expect(banks.map((b) => b.hash)).toContain(TPM_ALG.SHA256);
      const algs = await tpm.getCapability(TPM_CAP.ALGS, 0, 64);
      expect(algs.capabilityData.capability).toBe(TPM_CAP.ALGS);

      const nvIndex = 0x01500016;
      const nvAuth = enc('nv-secret');
      await tpm.nvDefineSpace(nvAuth, {
        nvIndex,
        nameAlg: TPM_ALG.SHA256,
        attributes: TPMA_NV.AUTHWRITE | TPMA_NV.AUTHREAD,
        authPolicy: new Uint8Array(0),
        dataSize: 32,
      });
      const pub = await tpm.nvReadPublic(nvIndex);
      expect(toHex(nvName(pub.nvPublic))).toBe(toHex(pub.nvName));
      // An HMAC session bound to the index (authValue then only in the session key).
      const bound = await tpm.startAuthSession({
        bind: { handle: nvIndex, authValue: nvAuth },
        attributes: TPMA_SESSION.continueSession | TPMA_SESSION.decrypt,
      });
      await tpm.nvWrite(nvIndex, enc('written through a bound session'), 0, {
        auth: [{ session: bound, authValue: nvAuth }],
      });
      await tpm.flushContext(bound);
      // Read back over an ECC-salted session with response encryption.
      const primary = await tpm.createPrimary(TPM_RH.OWNER, {
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: srkTemplateEcc(),
      });
      const salted = await tpm.startAuthSession({
        salt: { handle: primary.handle, public: primary.outPublic },
        attributes: TPMA_SESSION.continueSession | TPMA_SESSION.encrypt,
      });
      const back = await tpm.nvRead(nvIndex, 31, 0, { auth: [{ session: salted, authValue: nvAuth }] });
      expect(dec(back)).toBe('written through a bound session');
      const bad = await tpm.nvRead(nvIndex, 4, 0, { auth: [enc('wrong')] }).catch((e: unknown) => e);
      expect((bad as TpmError).base).toBe(RC.AUTH_FAIL);
      await tpm.dictionaryAttackParameters(32, 1, 1);
      await tpm.dictionaryAttackLockReset();
      await tpm.nvUndefineSpace(nvIndex);
      // Context save / flush / load keeps the object usable under the same name.
      const ctx = await tpm.contextSave(primary.handle);
      await tpm.flushContext(primary.handle);
      const h = await tpm.contextLoad(ctx);
      const rp = await tpm.readPublic(h);
      expect(toHex(rp.name)).toBe(toHex(primary.name));
      // EvictControl to a persistent handle and back.
      await tpm.evictControl(h, 0x81000010);
      expect(await tpm.getHandles(0x81000000)).toContain(0x81000010);
      await tpm.evictControl(0x81000010, 0x81000010);
      await tpm.flushContext(h);
      await tpm.flushContext(salted);
    });
  });

  test('HMAC sessions (unsalted, bound to the object, RSA-salted) authorize Unseal with the object name in cpHash', async () => {
    await withTap(async (tpm) => {
      const srk = await tpm.createPrimary(TPM_RH.OWNER, {
        inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
        inPublic: srkTemplateRsa(),
      });
      const auth = enc('object-auth');
      const created = await tpm.create(srk.handle, {
        inSensitive: { userAuth: auth, data: enc('hmac-authorized') },
        inPublic: sealedDataTemplate(
          new Uint8Array(0),
          TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.noDA,
        ),
      });
      const item = await tpm.load(srk.handle, created.outPrivate, created.outPublic);
      const plain = await tpm.startAuthSession({ symmetric: { algorithm: TPM_ALG.NULL } });
      expect(dec(await tpm.unseal(item.handle, { auth: [{ session: plain, authValue: auth }] }))).toBe(
        'hmac-authorized',
      );
      const wrong = await tpm
        .unseal(item.handle, { auth: [{ session: plain, authValue: enc('nope') }] })
        .catch((e: unknown) => e);
      expect((wrong as TpmError).base).toBe(RC.BAD_AUTH); // noDA object: BAD_AUTH, not AUTH_FAIL
      await tpm.flushContext(plain).catch(() => undefined);
      const bound = await tpm.startAuthSession({ bind: { handle: item.handle, authValue: auth } });
      expect(dec(await tpm.unseal(item.handle, { auth: [{ session: bound, authValue: auth }] }))).toBe(
        'hmac-authorized',
      );
      await tpm.flushContext(bound);
      const salted = await tpm.startAuthSession({
        salt: { handle: srk.handle, public: srk.outPublic },
        attributes: TPMA_SESSION.continueSession | TPMA_SESSION.encrypt,
      });
      expect(dec(await tpm.unseal(item.handle, { auth: [{ session: salted, authValue: auth }] }))).toBe(
        'hmac-authorized',
      );
      // Authorization in session 1, response encryption by a second, salted session: session 1's
      // HMAC must cover the encrypt session's nonceTPM (nonceTPMencrypt, Part 1 §19.6.5).
      const auth1 = await tpm.startAuthSession({ symmetric: { algorithm: TPM_ALG.NULL } });
      const enc2 = await tpm.startAuthSession({
        salt: { handle: srk.handle, public: srk.outPublic },
        attributes: TPMA_SESSION.continueSession | TPMA_SESSION.encrypt,
      });
      await withTapCheck(tpm, async () => {
        expect(
          dec(await tpm.unseal(item.handle, { auth: [{ session: auth1, authValue: auth }], extra: [enc2] })),
        ).toBe('hmac-authorized');
      });
      await tpm.flushContext(auth1);
      await tpm.flushContext(enc2);
      await tpm.flushContext(salted);
      await tpm.flushContext(item.handle);
      await tpm.flushContext(srk.handle);
    });
  });

  test('TPM errors carry the decoded code: ReadPublic of an unloaded handle is TPM_RC_VALUE (handle 1)', async () => {
    await withTap(async (tpm) => {
      const e = (await tpm.readPublic(0x80ffffff).catch((x: unknown) => x)) as TpmError;
      expect(e).toBeInstanceOf(TpmError);
      expect(e.code).toBe('TPM2_RC_VALUE');
      expect(e.rc.subject).toEqual({ type: 'handle', index: 1 });
      expect(e.message).toMatch(/^TPM_RC_VALUE \(handle 1\): value is out of range/);
      expect(e.structure).toBe('TPM2_ReadPublic');
    });
  });
});
