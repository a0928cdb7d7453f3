import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  authenticodeDigest,
  buildSignatureList,
  parseCertificate,
  parseSignatureLists,
  signImage,
  signatureDatabase,
} from '@lsvm/pe-authenticode';
import { peer, requirePeers, runOk, sharedVectors } from '@lsvm/testkit';
import { verifyBootChain, verifyLink } from '../src/boot/chain.js';
import { microsoftUefiCa2011 } from '../src/boot/microsoft-ca.js';
import { makeEfiApplication } from '../src/efi-app.js';
import { TEST_DB_CERT_BASE64, TEST_DB_KEY_PEM } from '../src/test-keys.js';

const SHIM = '/usr/lib/shim/shimx64.efi.signed';
const GRUB = '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed';
const haveDebianBinaries = (() => {
  try {
    readFileSync(SHIM);
    readFileSync(GRUB);
    return true;
  } catch {
    return false;
  }
})();

const dbCert = parseCertificate(new Uint8Array(Buffer.from(TEST_DB_CERT_BASE64, 'base64')));
const OWNER = '6c73766d-7465-4073-b400-0000000000aa';
const db = signatureDatabase(
  parseSignatureLists(buildSignatureList({ type: 'x509', signatures: [{ owner: OWNER, data: dbCert.der }] })),
);
const loader = signImage(makeEfiApplication({ marker: 'boot-chain test loader' }), {
  certificate: dbCert,
  key: TEST_DB_KEY_PEM,
});

describe('boot chain: loader', () => {
  it('the embedded Microsoft UEFI CA is the shared vector', () => {
    const der = readFileSync(join(sharedVectors, 'secureboot/microsoft-uefi-ca-2011.der'));
    expect(Buffer.from(microsoftUefiCa2011().der).equals(der)).toBe(true);
  });

  it('a loader signed by a db certificate is trusted; unsigned or unknown-signer is not', () => {
    expect(verifyLink('loader', loader, [], db, undefined)).toMatchObject({ present: true, trusted: true });
    const unsigned = verifyLink('loader', makeEfiApplication(), [], db, undefined);
    expect(unsigned.trusted).toBe(false);
    expect(unsigned.reason?.code).toBeDefined();
    const noDb = verifyLink('loader', loader, [], undefined, undefined);
    expect(noDb).toMatchObject({ trusted: false });
    expect(verifyLink('loader', undefined, [], db, undefined).reason?.code).toBe('BOOT_CHAIN_MISSING');
  });

  it('a loader whose digest is in dbx is revoked, naming the hash', () => {
    const digest = authenticodeDigest(loader, { algorithm: 'sha256' });
    const dbx = signatureDatabase(
      parseSignatureLists(
        buildSignatureList({ type: 'sha256', signatures: [{ owner: OWNER, data: digest }] }),
      ),
    );
    const l = verifyLink('loader', loader, [], db, dbx);
    expect(l.trusted).toBe(false);
    expect(l.revoked?.by).toBe('image-hash');
    expect(l.reason?.code).toBe('BOOT_CHAIN_REVOKED');
  });

  it('hostile bytes as a binary are an untrusted link, never an exception', () => {
    for (const b of [new Uint8Array(0), new Uint8Array(64), Uint8Array.from(loader.subarray(0, 300))]) {
      expect(verifyLink('grub', b, [], db, undefined).trusted).toBe(false);
    }
  });
});

(haveDebianBinaries || requirePeers ? describe : describe.skip)(
  `boot chain with Debian's signed shim and grub${haveDebianBinaries ? '' : ' [skipped: install shim-signed and grub-efi-amd64-signed]'}`,
  () => {
    const shim = new Uint8Array(readFileSync(SHIM));
    const grub = new Uint8Array(readFileSync(GRUB));

    it("shim chains to the Microsoft UEFI CA, grub to shim's vendor certificate; SBAT reported", () => {
      const r = verifyBootChain({ loader, shim, grub, db });
      expect(r.links.map((l) => [l.name, l.trusted])).toEqual([
        ['loader', true],
        ['shim', true],
        ['grub', true],
      ]);
      const s = r.links[1]!;
      expect(
        s.signers.some(
          (x) =>
            x.anchor?.includes('Microsoft Corporation Third Party Marketplace Root') ||
            x.anchor?.includes('UEFI CA'),
        ),
      ).toBe(true);
      expect(s.sbat.map((e) => e.component)).toContain('shim');
      expect(r.links[2]!.sbat.map((e) => e.component)).toContain('grub');
      expect(r.links[2]!.anchors).toMatch(/vendor_cert/);
      expect(r.trusted).toBe(true);
    });

    it('our shim digest is the one pesign computes', () => {
      const pesign = peer('pesign', 'pesign');
      if (!pesign) return;
      const out = runOk(pesign, ['-h', '-i', SHIM]);
      const ours = Buffer.from(authenticodeDigest(shim, { algorithm: 'sha256' })).toString('hex');
      expect(out.toLowerCase()).toContain(ours);
    });

    it('a shim whose digest is added to dbx is revoked, and the chain names it', () => {
      const digest = authenticodeDigest(shim, { algorithm: 'sha256' });
      const dbx = signatureDatabase(
        parseSignatureLists(
          buildSignatureList({ type: 'sha256', signatures: [{ owner: OWNER, data: digest }] }),
        ),
      );
      const r = verifyBootChain({ loader, shim, grub, db, dbx });
      expect(r.trusted).toBe(false);
      const s = r.links.find((l) => l.name === 'shim')!;
      expect(s.revoked).toMatchObject({ by: 'image-hash' });
      expect(s.reason?.message).toMatch(/^shim is revoked by dbx/);
      expect(r.links.find((l) => l.name === 'loader')!.trusted).toBe(true);
    });

    it('grub is not trusted by the Microsoft CA alone (without shim)', () => {
      const r = verifyBootChain({ loader, grub, db });
      expect(r.links.find((l) => l.name === 'grub')!.trusted).toBe(false);
      expect(r.links.find((l) => l.name === 'shim')!.reason?.code).toBe('BOOT_CHAIN_MISSING');
    });
  },
);
