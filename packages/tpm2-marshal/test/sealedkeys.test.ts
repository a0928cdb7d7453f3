import fc from 'fast-check';
import { LsvmError, toHex } from '@lsvm/core';
import {
  TPM_ALG,
  checkLsvmloadSealedKeys,
  createImportBlob,
  lsvmloadPolicy,
  parseSealedKeys,
  parseTcti,
  serializeSealedKeys,
  srkTemplateRsa,
  sealedDataTemplate,
} from '../src/index.js';

describe('sealedkeys file', () => {
  const values = [new Uint8Array(32).fill(7), new Uint8Array(32).fill(11)];
  const policy = lsvmloadPolicy([7, 11], values);
  const sample = {
    private: new Uint8Array(120).fill(0xaa),
    public: { ...sealedDataTemplate(policy, 0), unique: new Uint8Array(32).fill(1) },
    creationHash: new Uint8Array(32).fill(3),
    pcrs: [7, 11],
  };
  test('layout: TPM2B_PRIVATE, TPM2B_PUBLIC, TPM2B_DIGEST, TPMS_PCR_SELECT (03 80 08 00)', () => {
    const b = serializeSealedKeys(sample);
    expect(toHex(b.subarray(0, 2))).toBe('0078');
    expect(toHex(b.subarray(b.length - 4))).toBe('03800800');
    const back = parseSealedKeys(b);
    expect(back).toEqual(sample);
    expect(toHex(serializeSealedKeys(back))).toBe(toHex(b));
    checkLsvmloadSealedKeys(back, values);
    expect(() => checkLsvmloadSealedKeys(back, [values[1]!, values[0]!])).toThrow(LsvmError);
  });
  // Regression (fuzzing): `04 80 08 00 00` parsed as PCRs 7, 11 and re-serialised as
  // `03 80 08 00`, so parse∘serialize was not the identity and the fuzz target threw.
  test('a PCR bitmap with trailing zero bytes is refused; one that needs the bytes round-trips', () => {
    const b = serializeSealedKeys(sample);
    const long = new Uint8Array([...b.subarray(0, b.length - 4), 0x04, 0x80, 0x08, 0x00, 0x00]);
    expect(() => parseSealedKeys(long)).toThrow(expect.objectContaining({ code: 'TPM2_PCR_SELECT_SIZE' }));
    const wide = { ...sample, pcrs: [7, 11, 24] };
    const w = serializeSealedKeys(wide);
    expect(toHex(w.subarray(w.length - 5))).toBe('0480080001');
    expect(parseSealedKeys(w).pcrs).toEqual([7, 11, 24]);
    expect(toHex(serializeSealedKeys(parseSealedKeys(w)))).toBe(toHex(w));
  });
  test('hostile: truncations, trailing bytes and random mutations only raise LsvmError', () => {
    const b = serializeSealedKeys(sample);
    for (let i = 0; i < b.length; i++) expect(() => parseSealedKeys(b.subarray(0, i))).toThrow(LsvmError);
    expect(() => parseSealedKeys(new Uint8Array([...b, 0]))).toThrow(LsvmError);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: b.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const m = b.slice();
        m[i] = v;
        try {
          parseSealedKeys(m);
        } catch (e) {
          expect(e).toBeInstanceOf(LsvmError);
        }
      }),
      { numRuns: 2000 },
    );
  });
  test('an import blob has the lsvmload object shape (KEYEDHASH, SHA-256, attributes 0)', () => {
    const srk = { ...srkTemplateRsa(), unique: new Uint8Array(256).fill(0xc5) };
    srk.unique[0] = 0xc5;
    const blob = createImportBlob(srk, new TextEncoder().encode('key'), policy);
    expect(blob.public.type).toBe(TPM_ALG.KEYEDHASH);
    checkLsvmloadSealedKeys({ ...sample, public: blob.public }, values);
  });
});

describe('TCTI strings', () => {
  test('tpm2-tools syntax', () => {
    expect(parseTcti('swtpm:host=127.0.0.1,port=2321')).toEqual({
      kind: 'swtpm',
      host: '127.0.0.1',
      port: 2321,
    });
    expect(parseTcti('mssim:host=localhost,port=2400')).toEqual({
      kind: 'mssim',
      host: '127.0.0.1',
      port: 2400,
    });
    expect(parseTcti('swtpm')).toEqual({ kind: 'swtpm', host: '127.0.0.1', port: 2321 });
    expect(parseTcti('device:/dev/tpm0')).toEqual({ kind: 'device', path: '/dev/tpm0' });
    expect(parseTcti('device')).toEqual({ kind: 'device', path: '/dev/tpmrm0' });
    expect(() => parseTcti('tabrmd')).toThrow(LsvmError);
    expect(() => parseTcti('swtpm:port=99999')).toThrow(LsvmError);
    expect(() => parseTcti('swtpm:bogus=1')).toThrow(LsvmError);
  });
});
