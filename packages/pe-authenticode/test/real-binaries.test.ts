import { readFileSync } from 'node:fs';
import { describeWithPeers, run, sharedVectors } from '@lsvm/testkit';
import { join } from 'node:path';
import {
  authenticodeDigest,
  digestReport,
  extractVendorCert,
  imageSignatures,
  parseCertificate,
  parsePe,
  verifyImage,
} from '../src/index.js';
import { BINARIES, haveBinaries } from './helpers/fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const all = Object.values(BINARIES);
const d = haveBinaries(...all) ? describe : describe.skip;

d('Debian EFI binaries', () => {
  const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));

  test('shim: headers, long section names, two signatures, SBAT, checksum', () => {
    const b = read(BINARIES.shimSigned);
    const pe = parsePe(b);
    expect(pe.optional.format).toBe('PE32+');
    expect(pe.coff.machine).toBe(0x8664);
    const names = pe.sections.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['.text', '.sbat', '.sbatlevel', '.vendor_cert']));
    // The long names are stored as /NNN references into the COFF string table.
    expect(pe.sections.find((s) => s.name === '.vendor_cert')!.rawName).toMatch(/^\/\d+$/);
    expect(pe.certificateTable!.entries).toHaveLength(2);
    expect(pe.certificateTable!.offset + pe.certificateTable!.size).toBe(b.length);
    expect(pe.sbat![0]!.component).toBe('sbat');
    expect(pe.sbat!.some((e) => e.component === 'shim')).toBe(true);
    expect(pe.checksum.matches).toBe(true);
    const sigs = imageSignatures(pe);
    expect(sigs.map((s) => s.signature?.signer?.subject)).toEqual([
      expect.stringContaining('Microsoft Windows UEFI Driver Publisher'),
      expect.stringContaining('Microsoft UEFI CA 2023'),
    ]);
    for (const s of sigs) {
      expect(s.signature!.timestamps.length).toBeGreaterThan(0);
      expect(s.signature!.timestamps.every((t) => t.valid && t.time instanceof Date)).toBe(true);
    }
  });

  test('grub and mm carry one signature whose dwLength is padded or not', () => {
    const grub = parsePe(read(BINARIES.grubSigned));
    const mm = parsePe(read(BINARIES.mmSigned));
    expect(grub.certificateTable!.entries).toHaveLength(1);
    expect(mm.certificateTable!.entries).toHaveLength(1);
    expect(grub.certificateTable!.entries[0]!.length % 8).toBe(0);
    expect(mm.certificateTable!.entries[0]!.length % 8).not.toBe(0);
  });

  test('the unsigned shim is the padding case: padded digest = signed shim digest, unpadded differs', () => {
    const unsigned = read(BINARIES.shim);
    expect(unsigned.length % 8).not.toBe(0);
    const r = digestReport(unsigned);
    expect(r.unpadded).toBeDefined();
    expect(hex(r.digest)).toBe(hex(authenticodeDigest(read(BINARIES.shimSigned))));
    expect(hex(r.unpadded!)).not.toBe(hex(r.digest));
    expect(r.methodsAgree).toBe(true);
  });

  test('shim verifies against the Microsoft UEFI CA 2011 and its vendor certificate verifies grub', () => {
    const ca = parseCertificate(
      new Uint8Array(readFileSync(join(sharedVectors, 'secureboot/microsoft-uefi-ca-2011.der'))),
    );
    const shim = read(BINARIES.shimSigned);
    const v = verifyImage(shim, { trust: [ca] });
    expect(v.trusted).toBe(true);
    expect(v.signatures[0]!.trusted).toBe(true);
    expect(v.signatures[0]!.anchor!.subject).toContain('UEFI CA 2011');
    // The 2023 signature chains to another root: not trusted with only the 2011 CA.
    expect(v.signatures[1]!.failures.map((f) => f.code)).toEqual(['UNTRUSTED_CHAIN']);
    const vendor = extractVendorCert(shim, parsePe(shim))!;
    const debianCa = parseCertificate(vendor.authorized);
    expect(debianCa.subject).toContain('Debian Secure Boot CA');
    expect(verifyImage(read(BINARIES.grubSigned), { trust: [debianCa] }).trusted).toBe(true);
    expect(verifyImage(read(BINARIES.grubSigned), { trust: [ca] }).trusted).toBe(false);
  });

  test('time validity is ignored by default and checkable on request', () => {
    const ca = parseCertificate(
      new Uint8Array(readFileSync(join(sharedVectors, 'secureboot/microsoft-uefi-ca-2011.der'))),
    );
    const shim = read(BINARIES.shimSigned);
    const far = verifyImage(shim, { trust: [ca], checkTime: new Date('2099-01-01T00:00:00Z') });
    expect(far.trusted).toBe(false);
    expect(far.signatures[0]!.failures.map((f) => f.code)).toContain('CERTIFICATE_EXPIRED');
    const early = verifyImage(shim, { trust: [ca], checkTime: new Date('2000-01-01T00:00:00Z') });
    expect(early.signatures[0]!.failures.map((f) => f.code)).toContain('CERTIFICATE_NOT_YET_VALID');
  });

  test('any byte flipped in a hashed range breaks the signature; excluded fields do not', () => {
    const ca = parseCertificate(
      new Uint8Array(readFileSync(join(sharedVectors, 'secureboot/microsoft-uefi-ca-2011.der'))),
    );
    const shim = read(BINARIES.shimSigned);
    const pe = parsePe(shim);
    const ck = pe.optional.checksumOffset;
    const table = pe.certificateTable!.offset;
    // Offsets across the headers, every section, the trailing data before the table.
    const offsets = [0x3c - 4, ck - 1, ck + 4, pe.optional.sizeOfHeaders - 1, table - 1];
    for (const s of pe.sections)
      if (s.sizeOfRawData > 0) offsets.push(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData - 1);
    for (const off of offsets) {
      const copy = shim.slice();
      copy[off]! ^= 0x01;
      const v = verifyImage(copy, { trust: [ca] });
      expect({ off, trusted: v.trusted }).toEqual({ off, trusted: false });
      expect(['DIGEST_MISMATCH', 'IMAGE_MALFORMED']).toContain(v.signatures[0]!.failures[0]!.code);
    }
    for (let i = 0; i < 4; i++) {
      const copy = shim.slice();
      copy[ck + i]! ^= 0xff;
      expect(verifyImage(copy, { trust: [ca] }).trusted).toBe(true);
    }
    // The signer's signature value is not hashed: flipping it breaks the signature, not the digest.
    const si = imageSignatures(pe)[0]!.signature!.signerInfo;
    const sigAt = si.signature.byteOffset - shim.byteOffset;
    const bad = shim.slice();
    bad[sigAt + 10]! ^= 0x01;
    const vb = verifyImage(bad, { trust: [ca] });
    expect(vb.signatures[0]!.failures.map((f) => f.code)).toEqual(['BAD_SIGNATURE']);
    // The timestamp token near the end of the entry: only the timestamp goes invalid.
    const ts = shim.slice();
    const e0 = pe.certificateTable!.entries[0]!;
    ts[e0.offset + e0.length - 300]! ^= 0x01;
    const vt = verifyImage(ts, { trust: [ca] });
    expect(vt.signatures[0]!.trusted).toBe(true);
    expect(vt.signatures[0]!.timestamps[0]!.valid).toBe(false);
  });
});

describeWithPeers(['pesign', 'osslsigncode'], 'digests equal pesign -h and osslsigncode', () => {
  const d2 = haveBinaries(...all) ? test : test.skip;
  d2.each(all)('%s', (path) => {
    const b = new Uint8Array(readFileSync(path));
    const r = digestReport(b);
    const pesign = run('pesign', ['-h', '-d', 'sha256', '-i', path]);
    expect(pesign.status).toBe(0);
    const want = /hash:\s*([0-9a-f]{64})/.exec(pesign.stdout)![1]!;
    // pesign hashes an unsigned image unpadded; a signature made from it carries the padded form.
    expect(hex(r.unpadded ?? r.digest)).toBe(want);
    const oss = run('osslsigncode', ['verify', '-in', path]);
    const m = /Current message digest\s*:\s*([0-9A-F]{64})/.exec(oss.stdout);
    if (path === BINARIES.shim) {
      expect(m).toBeNull(); // unsigned: osslsigncode has nothing to verify
    } else if (path === BINARIES.shimSigned) {
      // osslsigncode 2.x refuses a table with two WIN_CERTIFICATE entries ("Corrupted attribute certificate table").
      if (m) expect(m[1]!.toLowerCase()).toBe(hex(r.digest));
    } else {
      expect(m![1]!.toLowerCase()).toBe(hex(r.digest));
    }
  });
});
