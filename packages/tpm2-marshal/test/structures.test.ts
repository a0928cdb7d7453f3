import fc from 'fast-check';
import { type FormatError, LsvmError, fromHex, toHex } from '@lsvm/core';
import {
  TPM2B_DIGEST,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE,
  TPM2B_SENSITIVE_CREATE,
  TPMS_AUTH_COMMAND,
  TPMS_CAPABILITY_DATA,
  TPMS_CONTEXT,
  TPMS_CREATION_DATA,
  TPMS_NV_PUBLIC,
  TPMS_PCR_SELECT,
  TPMT_PUBLIC,
  TPMT_SYM_DEF,
  TPML_PCR_SELECTION,
  TPM_ALG,
  TPM_ECC,
  TPM_CAP,
  type TpmtPublic,
  marshal,
  objectName,
  parsePcrSelection,
  formatPcrSelection,
  srkTemplateRsa,
  unmarshal,
} from '../src/index.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const hashAlg = fc.constantFrom(TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512);
const symObject = fc.oneof(
  fc.constant({ algorithm: TPM_ALG.NULL }),
  fc.record({
    algorithm: fc.constant(TPM_ALG.AES),
    keyBits: fc.constantFrom(128, 192, 256),
    mode: fc.constantFrom(TPM_ALG.CFB, TPM_ALG.CBC, TPM_ALG.NULL),
  }),
);
const attrs = fc.integer({ min: 0, max: 0xffffffff }).map((a) => (a & ~0xfff0f309) >>> 0);
const pub: fc.Arbitrary<TpmtPublic> = fc.oneof(
  fc.record({
    type: fc.constant(TPM_ALG.RSA),
    nameAlg: hashAlg,
    objectAttributes: attrs,
    authPolicy: bytes(64),
    parameters: fc.record({
      symmetric: symObject,
      scheme: fc.oneof(
        fc.constant({ scheme: TPM_ALG.NULL }),
        fc.constant({ scheme: TPM_ALG.RSAES }),
        fc.record({ scheme: fc.constantFrom(TPM_ALG.RSASSA, TPM_ALG.OAEP), hashAlg }),
      ),
      keyBits: fc.constantFrom(1024, 2048, 3072, 4096),
      exponent: fc.integer({ min: 0, max: 0xffffffff }),
    }),
    unique: bytes(512),
  }),
  fc.record({
    type: fc.constant(TPM_ALG.ECC),
    nameAlg: hashAlg,
    objectAttributes: attrs,
    authPolicy: bytes(64),
    parameters: fc.record({
      symmetric: symObject,
      scheme: fc.oneof(
        fc.constant({ scheme: TPM_ALG.NULL }),
        fc.record({ scheme: fc.constantFrom(TPM_ALG.ECDSA, TPM_ALG.ECDH), hashAlg }),
        fc.record({
          scheme: fc.constant(TPM_ALG.ECDAA),
          hashAlg,
          count: fc.integer({ min: 0, max: 0xffff }),
        }),
      ),
      curveID: fc.constantFrom(TPM_ECC.NIST_P256, TPM_ECC.NIST_P384, TPM_ECC.BN_P256),
      kdf: fc.oneof(
        fc.constant({ scheme: TPM_ALG.NULL }),
        fc.record({ scheme: fc.constantFrom(TPM_ALG.KDF2, TPM_ALG.MGF1), hashAlg }),
      ),
    }),
    unique: fc.record({ x: bytes(66), y: bytes(66) }),
  }),
  fc.record({
    type: fc.constant(TPM_ALG.KEYEDHASH),
    nameAlg: hashAlg,
    objectAttributes: attrs,
    authPolicy: bytes(64),
    parameters: fc.record({
      scheme: fc.oneof(
        fc.constant({ scheme: TPM_ALG.NULL }),
        fc.record({ scheme: fc.constant(TPM_ALG.HMAC), hashAlg }),
        fc.record({
          scheme: fc.constant(TPM_ALG.XOR),
          hashAlg,
          kdf: fc.constantFrom(TPM_ALG.KDF1_SP800_108, TPM_ALG.NULL),
        }),
      ),
    }),
    unique: bytes(64),
  }),
  fc.record({
    type: fc.constant(TPM_ALG.SYMCIPHER),
    nameAlg: hashAlg,
    objectAttributes: attrs,
    authPolicy: bytes(64),
    parameters: fc.record({ sym: symObject }),
    unique: bytes(64),
  }),
) as fc.Arbitrary<TpmtPublic>;

describe('round trips (fast-check)', () => {
  test('TPM2B_PUBLIC: parse(serialize(x)) = x and serialize(parse(b)) = b', () => {
    fc.assert(
      fc.property(pub, (p) => {
        const b = marshal(TPM2B_PUBLIC, p);
        const back = unmarshal(TPM2B_PUBLIC, b);
        expect(back).toEqual(p);
        expect(toHex(marshal(TPM2B_PUBLIC, back))).toBe(toHex(b));
      }),
      { numRuns: 300 },
    );
  });
  test('TPML_PCR_SELECTION, TPMS_PCR_SELECT, sensitive, NV public, context, auth, creation data', () => {
    const sel = fc.array(
      fc.record({
        hash: hashAlg,
        pcrs: fc.uniqueArray(fc.integer({ min: 0, max: 23 })).map((a) => a.sort((x, y) => x - y)),
        sizeofSelect: fc.constant(3),
      }),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(sel, (s) =>
        expect(unmarshal(TPML_PCR_SELECTION, marshal(TPML_PCR_SELECTION, s))).toEqual(s),
      ),
    );
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 23 })), (p) =>
        expect(unmarshal(TPMS_PCR_SELECT, marshal(TPMS_PCR_SELECT, p))).toEqual([...p].sort((a, b) => a - b)),
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          sensitiveType: fc.constant(TPM_ALG.KEYEDHASH),
          authValue: bytes(64),
          seedValue: bytes(64),
          sensitive: bytes(128),
        }),
        (s) => expect(unmarshal(TPM2B_SENSITIVE, marshal(TPM2B_SENSITIVE, s))).toEqual(s),
      ),
    );
    fc.assert(
      fc.property(fc.record({ userAuth: bytes(64), data: bytes(128) }), (s) =>
        expect(unmarshal(TPM2B_SENSITIVE_CREATE, marshal(TPM2B_SENSITIVE_CREATE, s))).toEqual(s),
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          nvIndex: fc.integer({ min: 0x01000000, max: 0x01ffffff }),
          nameAlg: hashAlg,
          attributes: fc.integer({ min: 0, max: 0xffffffff }).map((a) => (a & ~0x01f00300) >>> 0),
          authPolicy: bytes(64),
          dataSize: fc.integer({ min: 0, max: 2048 }),
        }),
        (n) => expect(unmarshal(TPMS_NV_PUBLIC, marshal(TPMS_NV_PUBLIC, n))).toEqual(n),
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          sequence: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          savedHandle: fc.constantFrom(0x80000000, 0x80000002, 0x02000001, 0x03000000),
          hierarchy: fc.constantFrom(0x40000001, 0x40000007),
          contextBlob: bytes(2000),
        }),
        (c) => expect(unmarshal(TPMS_CONTEXT, marshal(TPMS_CONTEXT, c))).toEqual(c),
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          sessionHandle: fc.constantFrom(0x40000009, 0x02000000, 0x03000005),
          nonce: bytes(64),
          sessionAttributes: fc.integer({ min: 0, max: 255 }).map((a) => a & ~0x18),
          hmac: bytes(64),
        }),
        (a) => expect(unmarshal(TPMS_AUTH_COMMAND, marshal(TPMS_AUTH_COMMAND, a))).toEqual(a),
      ),
    );
    fc.assert(
      fc.property(
        fc.record({
          pcrSelect: sel,
          pcrDigest: bytes(64),
          locality: fc.integer({ min: 0, max: 255 }),
          parentNameAlg: hashAlg,
          parentName: bytes(66),
          parentQualifiedName: bytes(66),
          outsideInfo: bytes(66),
        }),
        (c) => expect(unmarshal(TPMS_CREATION_DATA, marshal(TPMS_CREATION_DATA, c))).toEqual(c),
      ),
    );
  });
  test('TPMS_CAPABILITY_DATA arms', () => {
    const caps = [
      { capability: TPM_CAP.ALGS, algorithms: [{ alg: 1, algProperties: 9 }] },
      { capability: TPM_CAP.HANDLES, handles: [0x81000001, 0x81000002] },
      { capability: TPM_CAP.COMMANDS, commands: [0x0000011f] },
      { capability: TPM_CAP.PCRS, pcrs: [{ hash: TPM_ALG.SHA256, pcrs: [0, 1, 23], sizeofSelect: 3 }] },
      { capability: TPM_CAP.TPM_PROPERTIES, properties: [{ property: 0x100, value: 0x322e3000 }] },
      { capability: TPM_CAP.PCR_PROPERTIES, pcrProperties: [{ tag: 0, pcrs: [16, 23] }] },
      { capability: TPM_CAP.ECC_CURVES, curves: [3, 4] },
    ] as const;
    for (const c of caps)
      expect(unmarshal(TPMS_CAPABILITY_DATA, marshal(TPMS_CAPABILITY_DATA, c as never))).toEqual(c);
  });
});

describe('strictness (hostile inputs are typed errors naming structure and offset)', () => {
  const srk = marshal(TPM2B_PUBLIC, srkTemplateRsa());
  function err(f: () => unknown): FormatError {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(LsvmError);
      return e as FormatError;
    }
    throw new Error('expected an error');
  }
  test('TPM2B larger than its maximum', () => {
    const e = err(() => unmarshal(TPM2B_DIGEST, fromHex('0041' + '00'.repeat(65))));
    expect(e.code).toBe('TPM2_SIZE');
    expect(e.structure).toBe('TPM2B_DIGEST');
    expect(e.offset).toBe(0);
  });
  test('TPM2B larger than its buffer', () => {
    const e = err(() => unmarshal(TPM2B_DIGEST, fromHex('0020' + '00'.repeat(10))));
    expect(e.code).toBe('TPM2_SIZE');
  });
  test('TPM2B_PUBLIC size disagreeing with its contents, and size zero', () => {
    const b = srk.slice();
    b[1]! += 1;
    expect(err(() => unmarshal(TPM2B_PUBLIC, b)).code).toBe('TPM2_SIZE');
    expect(err(() => unmarshal(TPM2B_PUBLIC, fromHex('0000'))).code).toBe('TPM2_SIZE');
  });
  test('bad union selector: TPMT_PUBLIC type, symmetric algorithm, scheme', () => {
    const b = srk.slice();
    b[3] = 0x99; // type 0x0099
    const e = err(() => unmarshal(TPM2B_PUBLIC, b));
    expect(e.code).toBe('TPM2_BAD_SELECTOR');
    expect(e.structure).toBe('TPMT_PUBLIC');
    expect(e.offset).toBe(2);
    const s = srk.slice();
    s[13] = 0x99; // symmetric.algorithm low byte (after type, nameAlg, attributes, authPolicy size)
    expect(err(() => unmarshal(TPM2B_PUBLIC, s)).code).toBe('TPM2_BAD_SELECTOR');
    expect(err(() => unmarshal(TPMT_SYM_DEF, fromHex('0006008000ff'))).code).toBe('TPM2_BAD_VALUE');
  });
  test('invalid TPMI value: nameAlg, RSA key size, reserved attribute bits', () => {
    const b = srk.slice();
    b[5] = 0x05; // nameAlg = HMAC
    const e = err(() => unmarshal(TPM2B_PUBLIC, b));
    expect(e.code).toBe('TPM2_BAD_VALUE');
    expect(e.offset).toBe(4);
    const r = srk.slice();
    r[6] = 0x80; // TPMA_OBJECT bit 31 (reserved)
    expect(err(() => unmarshal(TPM2B_PUBLIC, r)).code).toBe('TPM2_RESERVED_BITS');
  });
  test('PCR select size outside its bounds', () => {
    expect(err(() => unmarshal(TPMS_PCR_SELECT, fromHex('02ffff'))).code).toBe('TPM2_BAD_VALUE');
    expect(err(() => unmarshal(TPMS_PCR_SELECT, fromHex('05ffffffffff'))).code).toBe('TPM2_BAD_VALUE');
    expect(err(() => unmarshal(TPML_PCR_SELECTION, fromHex('00000001000b02ffff'))).code).toBe(
      'TPM2_BAD_VALUE',
    );
    expect(err(() => unmarshal(TPML_PCR_SELECTION, fromHex('ffffffff'))).code).toBe('TPM2_SIZE');
  });
  test('trailing bytes and truncation', () => {
    expect(err(() => unmarshal(TPM2B_PUBLIC, new Uint8Array([...srk, 0]))).code).toBe('TPM2_TRAILING_BYTES');
    expect(err(() => unmarshal(TPM2B_PUBLIC, srk.subarray(0, 20))).code).toBe('TPM2_SIZE');
    expect(err(() => unmarshal(TPMT_PUBLIC, srk.subarray(2, 20))).code).toBe('TRUNCATED');
  });
  test('capability selector and list bounds', () => {
    expect(err(() => unmarshal(TPMS_CAPABILITY_DATA, fromHex('0000007f00000000'))).code).toBe(
      'TPM2_BAD_SELECTOR',
    );
    expect(err(() => unmarshal(TPMS_CAPABILITY_DATA, fromHex('0000000100010000'))).code).toBe('TPM2_SIZE');
  });
});

describe('names and PCR selection syntax', () => {
  test('object name is nameAlg || H(TPMT_PUBLIC)', () => {
    const n = objectName(srkTemplateRsa());
    expect(n.length).toBe(34);
    expect(toHex(n.subarray(0, 2))).toBe('000b');
  });
  test('tpm2-tools selection syntax', () => {
    expect(parsePcrSelection('sha256:7,11')).toEqual([{ hash: TPM_ALG.SHA256, pcrs: [7, 11] }]);
    expect(parsePcrSelection('sha1:0-2+sha256:16')).toEqual([
      { hash: TPM_ALG.SHA1, pcrs: [0, 1, 2] },
      { hash: TPM_ALG.SHA256, pcrs: [16] },
    ]);
    expect(parsePcrSelection('sha256:all')[0]!.pcrs.length).toBe(24);
    expect(formatPcrSelection(parsePcrSelection('sha256:11,7'))).toBe('sha256:7,11');
    expect(() => parsePcrSelection('md5:1')).toThrow(LsvmError);
    expect(() => parsePcrSelection('sha256:40')).toThrow(LsvmError);
    expect(() => parsePcrSelection('sha256')).toThrow(LsvmError);
  });
  test('lsvmload TPMS_PCR_SELECT for PCRs 7 and 11 is 03 80 08 00', () => {
    expect(toHex(marshal(TPMS_PCR_SELECT, [7, 11]))).toBe('03800800');
  });
});
