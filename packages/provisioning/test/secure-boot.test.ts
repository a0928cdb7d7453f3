import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@lsvm/core';
import {
  authenticodeDigest,
  buildSignatureList,
  parsePe,
  parseSignatureLists,
  peChecksum,
  signImage,
} from '@lsvm/pe-authenticode';
import { EFI_GLOBAL_VARIABLE, uefiVariableData } from '@lsvm/tpm2-marshal';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import {
  LSVM_TEST_OWNER_GUID,
  TEST_DB_CERT_BASE64,
  TEST_DB_KEY_PEM,
  defaultSecureBootVars,
  findLoaderAuthority,
  makeEfiApplication,
  predictPcr7,
  predictPcr11,
  readSecureBootVarsDir,
  testDbSigner,
} from '../src/index.js';
import { templateSigner } from './helpers.js';

const signedSampleLoader = (): Uint8Array => {
  const s = testDbSigner();
  return signImage(makeEfiApplication({ marker: 'lsvm sample loader (stands in for lsvmload)' }), {
    certificate: s.certificate,
    key: s.key,
  });
};

describe('makeEfiApplication', () => {
  test('a PE32+ EFI application with a valid checksum and the marker in .text', () => {
    const img = makeEfiApplication({ marker: 'hello' });
    const pe = parsePe(img);
    expect(pe.optional.magic).toBe(0x20b);
    expect(pe.optional.subsystem).toBe(10);
    expect(pe.coff.machine).toBe(0x8664);
    expect(pe.optional.addressOfEntryPoint).toBe(0x1000);
    expect(pe.sections.map((s) => s.name)).toEqual(['.text']);
    const v = new DataView(img.buffer, img.byteOffset);
    expect(v.getUint32(0x58 + 64, true)).toBe(peChecksum(img, 0x58 + 64));
    expect(Buffer.from(img).indexOf('hello')).toBe(0x203);
    expect(() => makeEfiApplication({ marker: 'x'.repeat(5000) })).toThrow(/marker/);
  });
});

describeWithPeers(
  ['sbsign', 'sbverify', 'objdump'],
  'makeEfiApplication with sbsigntools and binutils',
  () => {
    test('objdump reads it as pei-x86-64; sbsign signs it and sbverify accepts it', () => {
      const t = tempDir();
      try {
        const img = join(t.path, 'app.efi');
        writeFileSync(img, makeEfiApplication());
        expect(runOk('objdump', ['-f', img])).toMatch(/file format pei-x86-64/);
        const cert = join(t.path, 'db.pem');
        writeFileSync(
          cert,
          `-----BEGIN CERTIFICATE-----\n${TEST_DB_CERT_BASE64.replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`,
        );
        const key = join(t.path, 'db.key');
        writeFileSync(key, TEST_DB_KEY_PEM);
        runOk('sbsign', ['--key', key, '--cert', cert, '--output', join(t.path, 'app.signed'), img]);
        expect(run('sbverify', ['--cert', cert, join(t.path, 'app.signed')]).status).toBe(0);
      } finally {
        t.cleanup();
      }
    });
  },
);

describe('Secure Boot variables and PCR 7', () => {
  test('the default set is identical on every call, with one entry per variable', () => {
    const a = defaultSecureBootVars();
    const b = defaultSecureBootVars();
    expect(a).toEqual(b);
    expect(a.secureBoot).toBe(1);
    for (const n of ['PK', 'KEK', 'db'] as const) {
      const lists = parseSignatureLists(a[n]);
      expect(lists.map((l) => l.typeName)).toEqual(['x509']);
      expect(lists[0]!.signatures[0]!.owner).toBe(LSVM_TEST_OWNER_GUID);
    }
    expect(parseSignatureLists(a.dbx).map((l) => l.typeName)).toEqual(['sha256']);
  });

  test('PCR 7 prediction for the sample loader is pinned (changing it breaks provisioned VMs)', () => {
    const p = predictPcr7(defaultSecureBootVars(), signedSampleLoader());
    expect(p.events.map((e) => `${e.type}:${e.name}`)).toEqual([
      'EV_EFI_VARIABLE_DRIVER_CONFIG:SecureBoot',
      'EV_EFI_VARIABLE_DRIVER_CONFIG:PK',
      'EV_EFI_VARIABLE_DRIVER_CONFIG:KEK',
      'EV_EFI_VARIABLE_DRIVER_CONFIG:db',
      'EV_EFI_VARIABLE_DRIVER_CONFIG:dbx',
      'EV_SEPARATOR:separator',
      'EV_EFI_VARIABLE_AUTHORITY:db',
    ]);
    expect(p.events[0]!.digest).toBe(
      toHex(
        createHash('sha256')
          .update(uefiVariableData(EFI_GLOBAL_VARIABLE, 'SecureBoot', Uint8Array.of(1)))
          .digest(),
      ),
    );
    expect(p.events[5]!.digest).toBe(toHex(createHash('sha256').update(new Uint8Array(4)).digest()));
    expect(p.authority).toMatchObject({
      kind: 'certificate',
      subject: expect.stringContaining('lsvm test db'),
    });
    expect(toHex(p.value)).toBe(PINNED_PCR7);
    expect(toHex(predictPcr11())).toBe('bbaaa2f220764900a38d39cce9168412ae4d6974dc3e0be5f3d1a22bfd7a51fc');
  });

  test('Secure Boot off: no authority event, no loader needed', () => {
    const p = predictPcr7({ ...defaultSecureBootVars(), secureBoot: 0 });
    expect(p.events).toHaveLength(6);
    expect(p.authority).toBeUndefined();
  });

  test('a loader db does not allow is refused; a db hash entry allows it by digest', () => {
    const other = templateSigner('not in db');
    const foreign = signImage(makeEfiApplication(), {
      certificate: other.certificate,
      key: other.privateKey,
    });
    expect(() => predictPcr7(defaultSecureBootVars(), foreign)).toThrow(
      expect.objectContaining({ code: 'SB_LOADER_NOT_TRUSTED' }),
    );
    expect(() => predictPcr7(defaultSecureBootVars())).toThrow(
      expect.objectContaining({ code: 'SB_LOADER_REQUIRED' }),
    );
    const digest = authenticodeDigest(foreign, { algorithm: 'sha256' });
    const vars = {
      ...defaultSecureBootVars(),
      db: buildSignatureList({ type: 'sha256', signatures: [{ owner: LSVM_TEST_OWNER_GUID, data: digest }] }),
    };
    expect(findLoaderAuthority(vars, foreign)).toMatchObject({ kind: 'hash' });
    expect(predictPcr7(vars, foreign).events).toHaveLength(7);
  });

  test('readSecureBootVarsDir: files as written, efivarfs attribute prefixes, malformed lists', () => {
    const t = tempDir();
    try {
      const d = defaultSecureBootVars();
      const dir = join(t.path, 'vars');
      mkdirSync(dir);
      writeFileSync(join(dir, 'SecureBoot'), Uint8Array.of(1));
      for (const n of ['PK', 'KEK', 'db', 'dbx'] as const) writeFileSync(join(dir, n), d[n]);
      expect(readSecureBootVarsDir(dir)).toEqual(d);
      // efivarfs form: 4-byte attributes before the data.
      const attr = Uint8Array.of(0x27, 0, 0, 0);
      writeFileSync(join(dir, 'SecureBoot'), Buffer.concat([Uint8Array.of(6, 0, 0, 0), Uint8Array.of(1)]));
      writeFileSync(join(dir, 'db'), Buffer.concat([attr, d.db]));
      expect(readSecureBootVarsDir(dir)).toEqual(d);
      writeFileSync(join(dir, 'dbx'), d.dbx.subarray(0, 40));
      expect(() => readSecureBootVarsDir(dir)).toThrow(expect.objectContaining({ code: 'SB_VARS_INVALID' }));
      writeFileSync(join(dir, 'dbx'), d.dbx);
      writeFileSync(join(dir, 'SecureBoot'), Uint8Array.of(1, 1));
      expect(() => readSecureBootVarsDir(dir)).toThrow(expect.objectContaining({ code: 'SB_VARS_INVALID' }));
      expect(() => readSecureBootVarsDir(join(t.path, 'nope'))).toThrow(
        expect.objectContaining({ code: 'SB_VARS_MISSING' }),
      );
      expect(readFileSync(join(dir, 'PK')).length).toBeGreaterThan(0);
    } finally {
      t.cleanup();
    }
  });
});

/** PCR 7 for the default set and the sample loader signed by the test db key. */
const PINNED_PCR7 = '0db6f93fd092d31e5d7571890ec577772738ce8dd6951f0bf45a57075df845c5';
