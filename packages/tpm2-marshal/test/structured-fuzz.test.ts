import { ByteWriter, LsvmError } from '@lsvm/core';
import fc from 'fast-check';
import {
  COMMAND_SHAPES,
  type Codec,
  RESPONSE_PARSERS,
  TPM2B_CREATION_DATA,
  TPM2B_NV_PUBLIC,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE,
  TPM2B_SENSITIVE_CREATE,
  TPML_DIGEST_VALUES,
  TPML_PCR_SELECTION,
  TPMS_CAPABILITY_DATA,
  TPMS_CONTEXT,
  TPMT_PUBLIC,
  TPMT_SENSITIVE,
  TPM_ALG,
  TPM_ECC,
  TPM_ST,
  marshal,
  objectName,
  parseCommand,
  parseResponse,
  parseSealedKeys,
  serializeSealedKeys,
  unmarshal,
} from '../src/index.js';

/**
 * Structure-aware fuzzing. Random bytes almost never carry a valid algorithm id at the spot a
 * union selector is read, nor a TPM2B size that matches its contents, so the generator here
 * builds token streams of TPM-shaped pieces — algorithm ids, curve ids, structure tags, counts,
 * TPM2B blocks whose u16 size is right (sometimes off by a little) around nested token streams,
 * and raw bytes — and feeds them to every reader. Contract: only an LsvmError escapes; whatever
 * parses re-marshals to the same bytes.
 */

const ALGS = Object.values(TPM_ALG) as number[];
const CURVES = Object.values(TPM_ECC) as number[];
const TAGS = Object.values(TPM_ST) as number[];

type Token =
  | { k: 'u16'; v: number }
  | { k: 'u32'; v: number }
  | { k: 'u8'; v: number }
  | { k: 'raw'; v: Uint8Array }
  | { k: 'sized'; skew: number; inner: Token[] };

const u16Arb: fc.Arbitrary<Token> = fc.oneof(
  fc
    .constantFrom(...ALGS, ...CURVES, ...TAGS, 0, 0xffff, 1024, 2048, 4096)
    .map((v) => ({ k: 'u16' as const, v })),
  fc.integer({ min: 0, max: 0xffff }).map((v) => ({ k: 'u16' as const, v })),
);
const u32Arb: fc.Arbitrary<Token> = fc
  .oneof(fc.constantFrom(0, 1, 2, 3, 8, 16, 0x40000001, 0x80000000, 0xffffffff), fc.nat())
  .map((v) => ({ k: 'u32' as const, v: v >>> 0 }));
const u8Arb: fc.Arbitrary<Token> = fc
  .constantFrom(0, 1, 3, 0x20, 0x80, 0xff)
  .map((v) => ({ k: 'u8' as const, v }));
const rawArb: fc.Arbitrary<Token> = fc
  .uint8Array({ minLength: 0, maxLength: 80 })
  .map((v) => ({ k: 'raw' as const, v }));

const { stream } = fc.letrec<{ token: Token; stream: Token[] }>((tie) => ({
  token: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    u16Arb,
    u16Arb,
    u32Arb,
    u8Arb,
    rawArb,
    fc.record({
      k: fc.constant('sized' as const),
      skew: fc.constantFrom(0, 0, 0, 0, -1, 1, 2),
      inner: tie('stream'),
    }),
  ),
  stream: fc.array(tie('token'), { maxLength: 10 }),
}));

function emit(w: ByteWriter, tokens: Token[]): void {
  for (const t of tokens) {
    if (t.k === 'u8') w.u8(t.v);
    else if (t.k === 'u16') w.u16(t.v);
    else if (t.k === 'u32') w.u32(t.v);
    else if (t.k === 'raw') w.bytes(t.v);
    else {
      const inner = new ByteWriter(64, { endian: 'be' });
      emit(inner, t.inner);
      const body = inner.finish();
      w.u16(Math.max(0, Math.min(0xffff, body.length + t.skew))).bytes(body);
    }
  }
}

const bytesArb: fc.Arbitrary<Uint8Array> = stream.map((tokens) => {
  const w = new ByteWriter(64, { endian: 'be' });
  emit(w, tokens);
  return w.finish().slice();
});

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous list of codecs
const CODECS: [string, Codec<any>][] = [
  ['TPM2B_PUBLIC', TPM2B_PUBLIC],
  ['TPMT_PUBLIC', TPMT_PUBLIC],
  ['TPM2B_SENSITIVE', TPM2B_SENSITIVE],
  ['TPMT_SENSITIVE', TPMT_SENSITIVE],
  ['TPM2B_SENSITIVE_CREATE', TPM2B_SENSITIVE_CREATE],
  ['TPM2B_CREATION_DATA', TPM2B_CREATION_DATA],
  ['TPM2B_NV_PUBLIC', TPM2B_NV_PUBLIC],
  ['TPML_PCR_SELECTION', TPML_PCR_SELECTION],
  ['TPML_DIGEST_VALUES', TPML_DIGEST_VALUES],
  ['TPMS_CONTEXT', TPMS_CONTEXT],
  ['TPMS_CAPABILITY_DATA', TPMS_CAPABILITY_DATA],
];

function lsvmOnly(f: () => void): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof LsvmError) return false;
    throw e;
  }
}

describe('structure-aware fuzzing of TPM 2.0 structures', () => {
  it('every codec raises only LsvmError and round-trips what it accepts', () => {
    let accepted = 0;
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        for (const [name, codec] of CODECS) {
          lsvmOnly(() => {
            const v = unmarshal(codec, bytes);
            accepted++;
            const again = marshal(codec, v);
            if (Buffer.compare(again, bytes) !== 0) throw new Error(`${name} round trip changed the bytes`);
            if (codec === TPMT_PUBLIC) objectName(v);
          });
        }
      }),
      { numRuns: 600, seed: 0x7a3 },
    );
    // The generator must reach past the selectors sometimes, or this test proves little.
    expect(accepted).toBeGreaterThan(0);
  });

  it('sealedkeys files built from token streams', () => {
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        lsvmOnly(() => {
          const k = parseSealedKeys(bytes);
          expect(Buffer.compare(serializeSealedKeys(k), bytes)).toBe(0);
        });
      }),
      { numRuns: 500, seed: 0x7a4 },
    );
  });

  it('sealedkeys: a valid file with a random PCR select bitmap round-trips or is refused', () => {
    const pub = marshal(TPM2B_PUBLIC, {
      type: TPM_ALG.KEYEDHASH,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes: 0,
      authPolicy: new Uint8Array(32),
      parameters: { scheme: { scheme: TPM_ALG.NULL } },
      unique: new Uint8Array(32),
    } as never);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 32 }),
        fc.integer({ min: 0, max: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        (priv, creation, n, bits) => {
          const w = new ByteWriter(64, { endian: 'be' });
          w.u16(priv.length).bytes(priv).bytes(pub).u16(creation.length).bytes(creation).u8(n);
          w.bytes(bits.subarray(0, n)).zeros(Math.max(0, n - bits.length));
          const bytes = w.finish().slice();
          lsvmOnly(() => {
            expect(Buffer.compare(serializeSealedKeys(parseSealedKeys(bytes)), bytes)).toBe(0);
          });
        },
      ),
      { numRuns: 300, seed: 0x7a8 },
    );
  });

  it('response parameters of every command, framed correctly', () => {
    const codes = [...RESPONSE_PARSERS.keys()];
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.boolean(),
        bytesArb,
        fc.array(fc.nat(), { maxLength: 3 }),
        (code, sessions, params, handles) => {
          const shape = COMMAND_SHAPES.get(code)!;
          const w = new ByteWriter(64, { endian: 'be' });
          w.u16(sessions ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
            .u32(0)
            .u32(0);
          for (let i = 0; i < shape.responseHandles; i++) w.u32(handles[i] ?? 0x80000000);
          if (sessions) w.u32(params.length);
          w.bytes(params);
          // One empty-nonce password-style session response: nonce size 0, attributes, hmac size 0.
          if (sessions) w.u16(0).u8(1).u16(0);
          const frame = w.finish().slice();
          new DataView(frame.buffer).setUint32(2, frame.length);
          lsvmOnly(() => {
            const resp = parseResponse(frame, shape.responseHandles);
            expect(resp.parameters).toEqual(params);
            RESPONSE_PARSERS.get(code)!(resp.parameters, resp.handles);
          });
        },
      ),
      { numRuns: 600, seed: 0x7a5 },
    );
  });

  it('commands with valid headers and random handle/parameter areas', () => {
    const codes = [...COMMAND_SHAPES.keys()];
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.boolean(), bytesArb, (code, sessions, body) => {
        const w = new ByteWriter(64, { endian: 'be' });
        w.u16(sessions ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
          .u32(0)
          .u32(code)
          .bytes(body);
        const frame = w.finish().slice();
        new DataView(frame.buffer).setUint32(2, frame.length);
        lsvmOnly(() => {
          parseCommand(frame);
        });
      }),
      { numRuns: 1000, seed: 0x7a6 },
    );
  });
});
