import { LsvmError, fromHex, toHex } from '@lsvm/core';
import {
  RESPONSE_PARSERS,
  TPMA_SESSION,
  TPM_CC,
  TPM_RS_PW,
  TPM_ST,
  buildCommand,
  commands,
  parseCommand,
  parseResponse,
} from '../src/index.js';

describe('command framing', () => {
  test('GetRandom(16) without sessions is the well-known 12-byte command', () => {
    const c = commands.GetRandom(16);
    const b = buildCommand({ code: c.code, handles: [...c.handles], auths: [], parameters: c.parameters });
    expect(toHex(b)).toBe('80010000000c0000017b0010');
    expect(parseCommand(b)).toEqual({
      tag: TPM_ST.NO_SESSIONS,
      code: TPM_CC.GetRandom,
      handles: [],
      auths: [],
      parameters: fromHex('0010'),
    });
  });
  test('a password-authorized command round-trips with its authorization area', () => {
    const c = commands.PCR_Reset(16);
    const auth = {
      sessionHandle: TPM_RS_PW,
      nonce: new Uint8Array(0),
      sessionAttributes: TPMA_SESSION.continueSession,
      hmac: fromHex('6869'),
    };
    const b = buildCommand({
      code: c.code,
      handles: [...c.handles],
      auths: [auth],
      parameters: c.parameters,
    });
    expect(toHex(b)).toBe(
      '80020000001d0000013d00000010' + '0000000b' + '40000009' + '0000' + '01' + '00026869',
    );
    const p = parseCommand(b);
    expect(p.handles).toEqual([16]);
    expect(p.auths).toEqual([auth]);
  });
  test('hostile commands: size mismatch, unknown code, missing auth, auth area overrun, bad session handle', () => {
    const ok = fromHex('80010000000c0000017b0010');
    const sizeBad = ok.slice();
    sizeBad[5] = 0x0d;
    expect(() => parseCommand(sizeBad)).toThrow(expect.objectContaining({ code: 'TPM2_SIZE' }));
    expect(() => parseCommand(fromHex('80010000000a00000999'))).toThrow(
      expect.objectContaining({ code: 'TPM2_COMMAND_CODE' }),
    );
    expect(() => parseCommand(fromHex('80010000000e0000013d00000010'))).toThrow(
      expect.objectContaining({ code: 'TPM2_AUTH_MISSING' }),
    );
    expect(() => parseCommand(fromHex('8002000000120000013d00000010000000ff'))).toThrow(
      expect.objectContaining({ code: 'TPM2_AUTHSIZE' }),
    );
    expect(() => parseCommand(fromHex('80020000001b0000013d00000010000000090100000000000100000000'))).toThrow(
      LsvmError,
    );
    expect(() => parseCommand(fromHex('8003000000'))).toThrow(LsvmError);
  });
});

describe('response framing', () => {
  test('an error response is the bare header; extra bytes are refused', () => {
    expect(parseResponse(fromHex('80010000000a0000099d'), 0).rc).toBe(0x99d);
    expect(() => parseResponse(fromHex('80010000000b0000099d00'), 0)).toThrow(
      expect.objectContaining({ code: 'TPM2_SIZE' }),
    );
  });
  test('sessions response: handles, parameterSize, parameters and auth area', () => {
    const b = fromHex('80020000001f00000000' + '80000001' + '00000004' + '00020102' + '0000' + '01' + '0000');
    b[5] = b.length;
    const r = parseResponse(b, 1);
    expect(r.handles).toEqual([0x80000001]);
    expect(toHex(r.parameters)).toBe('00020102');
    expect(r.auths).toEqual([{ nonce: new Uint8Array(0), sessionAttributes: 1, hmac: new Uint8Array(0) }]);
    const over = b.slice();
    over[17] = 0x40;
    expect(() => parseResponse(over, 1)).toThrow(expect.objectContaining({ code: 'TPM2_SIZE' }));
  });
  test('response parsers refuse trailing bytes', () => {
    const getRandom = RESPONSE_PARSERS.get(TPM_CC.GetRandom)!;
    expect(getRandom(fromHex('00020102'), [])).toEqual(fromHex('0102'));
    expect(() => getRandom(fromHex('0002010203'), [])).toThrow(
      expect.objectContaining({ code: 'TPM2_TRAILING_BYTES' }),
    );
    expect(RESPONSE_PARSERS.size).toBeGreaterThanOrEqual(34);
  });
});
