import fc from 'fast-check';
import { FormatError, LsvmError } from '@lsvm/core';
import {
  authenticodeDigest,
  digestReport,
  parsePe,
  peChecksum,
  resolveLongName,
  type LayoutFindingCode,
} from '../src/index.js';
import { makePe, pattern } from './helpers/make-pe.js';

const codes = (b: Uint8Array): LayoutFindingCode[] => parsePe(b).findings.map((f) => f.code);
const setU32 = (b: Uint8Array, at: number, v: number): void =>
  new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);

describe('headers', () => {
  test('PE32 and PE32+ parse with the same checksum and directory semantics', () => {
    for (const pe32 of [false, true]) {
      const b = makePe({ pe32, sections: [{ name: '.text', data: pattern(700) }] });
      const pe = parsePe(b);
      expect(pe.optional.format).toBe(pe32 ? 'PE32' : 'PE32+');
      expect(pe.optional.dataDirectories).toHaveLength(16);
      expect(pe.optional.checksumOffset).toBe(pe.optional.offset + 64);
      expect(pe.optional.dataDirectoryOffset).toBe(pe.optional.offset + (pe32 ? 96 : 112));
      expect(pe.findings).toEqual([]);
      expect(digestReport(b).methodsAgree).toBe(true);
    }
  });

  test('long section names resolve through the COFF string table', () => {
    const b = makePe({ sections: [{ name: '/4', data: pattern(100) }], overlay: new Uint8Array(64) });
    const pe0 = parsePe(b);
    // Put a symbol table pointer and a string table at the overlay.
    const at = b.length - 64;
    setU32(b, pe0.dos.peOffset + 12, at);
    setU32(b, pe0.dos.peOffset + 16, 0);
    setU32(b, at, 4 + 12);
    new TextEncoder().encodeInto('.vendor_cert\0', b.subarray(at + 4));
    const pe = parsePe(b);
    expect(pe.sections[0]!.rawName).toBe('/4');
    expect(pe.sections[0]!.name).toBe('.vendor_cert');
    expect(resolveLongName(b, pe.coff, '/99')).toBeUndefined();
  });

  test('truncated and malformed headers throw typed errors', () => {
    const b = makePe({ sections: [{ name: '.text', data: pattern(700) }] });
    expect(() => parsePe(new Uint8Array(10))).toThrow(expect.objectContaining({ code: 'PE_TRUNCATED' }));
    const noMz = b.slice();
    noMz[0] = 0;
    expect(() => parsePe(noMz)).toThrow(expect.objectContaining({ code: 'PE_BAD_DOS_MAGIC' }));
    const far = b.slice();
    setU32(far, 0x3c, 0xfffffff0);
    expect(() => parsePe(far)).toThrow(expect.objectContaining({ code: 'PE_BAD_LFANEW' }));
    const badMagic = b.slice();
    badMagic[0x80 + 24] = 0x0b;
    badMagic[0x80 + 25] = 0x03;
    expect(() => parsePe(badMagic)).toThrow(expect.objectContaining({ code: 'PE_BAD_OPTIONAL_MAGIC' }));
    const many = b.slice();
    new DataView(many.buffer).setUint16(0x80 + 6, 5000, true);
    expect(() => parsePe(many)).toThrow(expect.objectContaining({ code: 'PE_TOO_MANY_SECTIONS' }));
    for (let n = 0; n < 0x200; n += 7) {
      try {
        parsePe(b.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(LsvmError);
      }
    }
  });

  test('PE checksum matches the reference algorithm on random data (property)', () => {
    // Reference: fold after every word, as CheckSumMappedFile does.
    const ref = (b: Uint8Array, ck: number): number => {
      let sum = 0;
      for (let i = 0; i + 1 < b.length; i += 2) {
        if (i === ck || i === ck + 2) continue;
        sum += b[i]! | (b[i + 1]! << 8);
        sum = (sum & 0xffff) + (sum >>> 16);
      }
      if (b.length & 1) {
        sum += b[b.length - 1]!;
        sum = (sum & 0xffff) + (sum >>> 16);
      }
      return (sum + b.length) >>> 0;
    };
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.nat(200), (b, ck) => {
        expect(peChecksum(b, ck * 2)).toBe(ref(b, ck * 2));
      }),
      { numRuns: 200 },
    );
  });
});

describe('hostile layouts are findings, not crashes', () => {
  test('unsorted sections', () => {
    const b = makePe({
      sections: [
        { name: '.b', data: pattern(512, 2), pointer: 0x400 },
        { name: '.a', data: pattern(512, 3), pointer: 0x200 },
      ],
    });
    expect(codes(b)).toContain('SECTIONS_UNSORTED');
    expect(digestReport(b).methodsAgree).toBe(true); // sorting restores file order
  });

  test('overlapping sections: the firmware method cannot hash them, the linear one can', () => {
    const b = makePe({
      sections: [
        { name: '.text', data: pattern(1024) },
        { name: '.data', data: pattern(512, 3), pointer: 0x400 },
      ],
    });
    expect(codes(b)).toContain('SECTIONS_OVERLAP');
    // Σ SizeOfRawData counts the overlap twice and exceeds the file: EDK2 and shim refuse.
    expect(() => authenticodeDigest(b)).toThrow(expect.objectContaining({ code: 'PE_DIGEST_RANGE' }));
    expect(authenticodeDigest(b, { method: 'linear' })).toHaveLength(32);
  });

  test('zero gap between sections vs data hidden between sections', () => {
    // .text [0x200,0x400), gap [0x400,0x600), .data [0x600,0x800): the firmware method hashes
    // headers + sections, then "trailing data" from 0x600 (= SizeOfHeaders + Σ sizes) to the end.
    const gap = makePe({
      sections: [
        { name: '.text', data: pattern(512) },
        { name: '.data', data: pattern(512, 3), pointer: 0x600 },
      ],
    });
    expect(codes(gap)).toContain('SECTION_GAP');
    const hidden = gap.slice();
    hidden[0x500] = 0x42;
    expect(codes(hidden)).toContain('DATA_BETWEEN_SECTIONS');
    const r = digestReport(hidden);
    expect(r.methodsAgree).toBe(false);
    // The hidden byte escapes the section-sorted digest (what firmware checks)…
    expect(authenticodeDigest(hidden)).toEqual(authenticodeDigest(gap));
    // …but not the linear one.
    expect(authenticodeDigest(hidden, { method: 'linear' })).not.toEqual(
      authenticodeDigest(gap, { method: 'linear' }),
    );
  });

  test('a certificate table not at the end of the file, or past it', () => {
    const b = makePe({ sections: [{ name: '.text', data: pattern(512) }], overlay: new Uint8Array(64) });
    const pe = parsePe(b);
    const dir = pe.optional.dataDirectoryOffset + 32;
    const notEnd = b.slice();
    setU32(notEnd, dir, b.length - 64);
    setU32(notEnd, dir + 4, 16);
    setU32(notEnd, b.length - 64, 16);
    expect(codes(notEnd)).toContain('CERT_TABLE_NOT_AT_END');
    const past = b.slice();
    setU32(past, dir, b.length - 8);
    setU32(past, dir + 4, 4096);
    const pp = parsePe(past);
    expect(pp.findings.map((f) => f.code)).toContain('CERT_TABLE_PAST_EOF');
    expect(pp.certificateTable!.error!.code).toBe('PE_CERT_TABLE_PAST_EOF');
    expect(() => authenticodeDigest(past)).toThrow(FormatError);
  });

  test('NumberOfRvaAndSizes below 5: no certificate directory, digest skips only the checksum', () => {
    const b = makePe({ sections: [{ name: '.text', data: pattern(512) }], numberOfRvaAndSizes: 3 });
    expect(codes(b)).toContain('FEW_DATA_DIRECTORIES');
    expect(authenticodeDigest(b)).toHaveLength(32);
  });

  test('sizes pointing past the file', () => {
    const b = makePe({ sections: [{ name: '.text', data: pattern(512) }] });
    const pe = parsePe(b);
    const big = b.slice();
    setU32(big, pe.sections[0]!.headerOffset + 16, 0x100000);
    expect(codes(big)).toContain('SECTION_PAST_EOF');
    expect(() => authenticodeDigest(big)).toThrow(expect.objectContaining({ code: 'PE_SECTION_PAST_EOF' }));
    const hdr = b.slice();
    setU32(hdr, pe.optional.offset + 60, 0x100000);
    expect(codes(hdr)).toContain('HEADERS_PAST_EOF');
    expect(() => authenticodeDigest(hdr)).toThrow(expect.objectContaining({ code: 'PE_DIGEST_RANGE' }));
  });

  test('unpadded length and overlay are reported for unsigned images', () => {
    const b = makePe({ sections: [{ name: '.text', data: pattern(512) }], overlay: pattern(13, 5) });
    expect(codes(b)).toEqual(expect.arrayContaining(['OVERLAY', 'UNPADDED_LENGTH']));
    const r = digestReport(b);
    expect(r.unpadded).toBeDefined();
    // Padding is zeros: the padded digest equals the unpadded digest of the zero-padded file.
    const padded = new Uint8Array(b.length + 3);
    padded.set(b);
    expect(authenticodeDigest(padded, { padded: false })).toEqual(r.digest);
  });
});
