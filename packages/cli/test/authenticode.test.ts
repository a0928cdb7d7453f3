import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, sharedVectors, tempDir } from '@lsvm/testkit';
import { lsvm } from './helpers.js';

/**
 * `lsvm pe …`, `lsvm authenticode …`, `lsvm uefi …`: JSON shape, exit codes, and the peers' view
 * of what the commands write (sbverify, osslsigncode, efitools). Inputs are Debian's shim/grub
 * when installed, plus images we sign with a throwaway openssl PKI.
 */

const SHIM = '/usr/lib/shim/shimx64.efi';
const SHIM_SIGNED = '/usr/lib/shim/shimx64.efi.signed';
const MS_CA = join(sharedVectors, 'secureboot/microsoft-uefi-ca-2011.der');

describeWithPeers(
  ['openssl', 'sbverify', 'osslsigncode', 'cert-to-efi-sig-list'],
  'lsvm pe / authenticode / uefi',
  () => {
    let tmp: { path: string; cleanup: () => void };
    const f = (n: string): string => join(tmp.path, n);
    beforeAll(() => {
      tmp = tempDir('lsvm-cli-authenticode-');
      if (!existsSync(SHIM) || !existsSync(SHIM_SIGNED))
        throw new Error(`${SHIM} and ${SHIM_SIGNED} are needed (Debian shim-unsigned, shim-signed)`);
      const o = (...a: string[]): void => {
        runOk('openssl', a);
      };
      o(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        f('ca.key'),
        '-out',
        f('ca.pem'),
        '-days',
        '30',
        '-subj',
        '/CN=cli test CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      );
      o(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        f('other.key'),
        '-out',
        f('other.pem'),
        '-days',
        '30',
        '-subj',
        '/CN=cli other CA',
      );
      o(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        f('leaf.key'),
        '-out',
        f('leaf.csr'),
        '-subj',
        '/CN=cli signer',
      );
      writeFileSync(f('ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=codeSigning\n');
      o(
        'x509',
        '-req',
        '-in',
        f('leaf.csr'),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-out',
        f('leaf.pem'),
        '-days',
        '30',
        '-extfile',
        f('ext'),
      );
    });
    afterAll(() => tmp?.cleanup());

    test('pe info --json lists sections with resolved names, signatures, SBAT and checksum', async () => {
      const r = await lsvm(['pe', 'info', SHIM_SIGNED, '--json']);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.format).toBe('PE32+');
      expect(j.sections.map((s: { name: string }) => s.name)).toContain('.vendor_cert');
      expect(j.signatures).toHaveLength(2);
      expect(j.signatures[0].signer.subject).toContain('Microsoft Windows UEFI Driver Publisher');
      expect(j.signatures[0].signer.issuer).toContain('Microsoft Corporation UEFI CA 2011');
      expect(j.sbat[0][0]).toBe('sbat');
      expect(j.checksum.matches).toBe(true);
      const text = await lsvm(['pe', 'info', SHIM]);
      expect(text.stdout).toContain('.sbatlevel (/');
      expect(text.stdout).toContain('unpadded');
    });

    test('pe vendor-cert extracts the Debian CA', async () => {
      const r = await lsvm(['pe', 'vendor-cert', SHIM_SIGNED, f('vendor.der'), '--dbx', f('vendor-dbx.esl')]);
      expect(r.code).toBe(0);
      expect(
        runOk('openssl', ['x509', '-inform', 'DER', '-in', f('vendor.der'), '-noout', '-subject']),
      ).toContain('Debian Secure Boot CA');
      const dbx = await lsvm(['uefi', 'siglist', f('vendor-dbx.esl'), '--json']);
      expect(dbx.code).toBe(0);
    });

    test('authenticode digest: padded by default, --unpadded, --alg', async () => {
      const padded = await lsvm(['authenticode', 'digest', SHIM]);
      const signed = await lsvm(['authenticode', 'digest', SHIM_SIGNED]);
      expect(padded.stdout.trim()).toBe(signed.stdout.trim());
      const unpadded = await lsvm(['authenticode', 'digest', '--unpadded', SHIM]);
      const pesign = run('pesign', ['-h', '-i', SHIM]);
      if (pesign.status === 0) expect(pesign.stdout).toContain(unpadded.stdout.trim());
      expect((await lsvm(['authenticode', 'digest', '--alg', 'sha512', SHIM])).stdout.trim()).toHaveLength(
        128,
      );
      expect((await lsvm(['authenticode', 'digest', '--alg', 'md5', SHIM])).code).toBe(2);
    });

    test('authenticode verify: exit 0 trusted, 1 not trusted with reasons; ESL as trust; dbx', async () => {
      const ok = await lsvm(['authenticode', 'verify', SHIM_SIGNED, '--trust', MS_CA, '--json']);
      expect(ok.code).toBe(0);
      const j = JSON.parse(ok.stdout);
      expect(j.trusted).toBe(true);
      expect(j.signatures[1].failures[0].code).toBe('UNTRUSTED_CHAIN');
      const none = await lsvm(['authenticode', 'verify', SHIM_SIGNED]);
      expect(none.code).toBe(1);
      expect(none.stdout).toContain('NOT trusted');
      // The CA as a db ESL, and the image digest in dbx.
      runOk('openssl', ['x509', '-inform', 'DER', '-in', MS_CA, '-out', f('ms.pem')]);
      runOk('cert-to-efi-sig-list', [f('ms.pem'), f('db.esl')]);
      expect((await lsvm(['authenticode', 'verify', SHIM_SIGNED, '--trust', f('db.esl')])).code).toBe(0);
      const digest = (await lsvm(['authenticode', 'digest', SHIM_SIGNED])).stdout.trim();
      expect((await lsvm(['uefi', 'siglist-build', f('dbx.esl'), '--hash', digest])).code).toBe(0);
      const forbidden = await lsvm([
        'authenticode',
        'verify',
        SHIM_SIGNED,
        '--trust',
        f('db.esl'),
        '--dbx',
        f('dbx.esl'),
        '--json',
      ]);
      expect(forbidden.code).toBe(1);
      expect(JSON.parse(forbidden.stdout).reason.code).toBe('FORBIDDEN_BY_DBX');
      const missing = await lsvm(['authenticode', 'verify', f('nope.efi')]);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toContain('READ_FAILED');
    });

    test('authenticode sign / remove / extract round trip with the peers', async () => {
      const s = await lsvm([
        'authenticode',
        'sign',
        SHIM,
        f('signed.efi'),
        '--cert',
        f('leaf.pem'),
        '--key',
        f('leaf.key'),
      ]);
      expect(s.code).toBe(0);
      expect(run('sbverify', ['--cert', f('ca.pem'), f('signed.efi')]).stdout).toContain(
        'Signature verification OK',
      );
      expect(
        run('osslsigncode', ['verify', '-CAfile', f('ca.pem'), '-in', f('signed.efi')]).stdout,
      ).toContain('Signature verification: ok');
      expect((await lsvm(['authenticode', 'verify', f('signed.efi'), '--trust', f('ca.pem')])).code).toBe(0);
      expect((await lsvm(['authenticode', 'verify', f('signed.efi'), '--trust', f('other.pem')])).code).toBe(
        1,
      );
      expect((await lsvm(['authenticode', 'extract', f('signed.efi'), f('sig.p7')])).code).toBe(0);
      expect(
        runOk('openssl', ['pkcs7', '-inform', 'DER', '-in', f('sig.p7'), '-print_certs', '-noout']),
      ).toContain('cli signer');
      expect((await lsvm(['authenticode', 'remove', f('signed.efi'), f('unsigned.efi')])).code).toBe(0);
      const info = JSON.parse((await lsvm(['pe', 'info', f('unsigned.efi'), '--json'])).stdout);
      expect(info.signatures).toEqual([]);
      expect((await lsvm(['authenticode', 'remove', f('unsigned.efi'), f('x.efi')])).code).toBe(2);
      expect(
        (await lsvm(['authenticode', 'sign', SHIM, f('y.efi'), '--cert', f('leaf.pem'), '--key', f('ext')]))
          .code,
      ).toBe(3);
    });

    test('authenticode sign --pss writes an RSASSA-PSS signer that verifies with us', async () => {
      const s = await lsvm([
        'authenticode',
        'sign',
        SHIM,
        f('pss.efi'),
        '--cert',
        f('leaf.pem'),
        '--key',
        f('leaf.key'),
        '--pss',
      ]);
      expect(s.code).toBe(0);
      const v = await lsvm(['authenticode', 'verify', f('pss.efi'), '--trust', f('ca.pem'), '--json']);
      expect(v.code).toBe(0);
      expect(JSON.parse(v.stdout).signatures[0].failures).toEqual([]);
      expect((await lsvm(['authenticode', 'extract', f('pss.efi'), f('pss.p7')])).code).toBe(0);
      expect(runOk('openssl', ['asn1parse', '-inform', 'DER', '-in', f('pss.p7')])).toContain('rsassaPss');
    });

    test('uefi siglist-build signs an authenticated variable; siglist dumps ESLs and .auth files', async () => {
      const b = await lsvm([
        'uefi',
        'siglist-build',
        f('db.auth'),
        '--cert',
        f('ca.pem'),
        '--image',
        SHIM,
        '--sign-cert',
        f('leaf.pem'),
        '--sign-key',
        f('leaf.key'),
        '--var',
        'db',
      ]);
      expect(b.code).toBe(0);
      const d = await lsvm(['uefi', 'siglist', f('db.auth'), '--json']);
      expect(d.code).toBe(0);
      const j = JSON.parse(d.stdout);
      expect(j.authenticatedVariable.signer).toBe('CN=cli signer');
      expect(j.lists.map((l: { type: string }) => l.type)).toEqual(['x509', 'sha256']);
      expect(j.lists[0].signatures[0].subject).toBe('CN=cli test CA');
      expect((await lsvm(['uefi', 'verify', f('db.auth'), '--var', 'db', '--trust', f('ca.pem')])).code).toBe(
        0,
      );
      const wrongVar = await lsvm([
        'uefi',
        'verify',
        f('db.auth'),
        '--var',
        'KEK',
        '--trust',
        f('ca.pem'),
        '--json',
      ]);
      expect(wrongVar.code).toBe(1);
      expect(JSON.parse(wrongVar.stdout).failures[0].code).toBe('BAD_SIGNATURE');
      expect(
        (await lsvm(['uefi', 'verify', f('db.auth'), '--var', 'db', '--trust', f('other.pem')])).code,
      ).toBe(1);
      const dbx = await lsvm(['uefi', 'siglist', join(sharedVectors, 'lsvmtools/dbxupdate.bin')]);
      expect(dbx.stdout).toContain('77 entries');
      expect((await lsvm(['uefi', 'siglist', SHIM])).code).toBe(3);
    });
  },
);
