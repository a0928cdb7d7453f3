import { fromHex, toHex } from '@lsvm/core';
import {
  EFI_GLOBAL_VARIABLE,
  LSVMLOAD_SCENARIO_EVENTS,
  PcrBank,
  PolicyCalculator,
  TPM_ALG,
  capLsvmload,
  extendLsvmloadScenario,
  hash,
  predictPcrs,
  uefiVariableData,
} from '../src/index.js';

describe('offline policy calculator: known digests', () => {
  test('PolicyAuthValue from zero', () => {
    expect(toHex(new PolicyCalculator(TPM_ALG.SHA256).policyAuthValue().digest)).toBe(
      '8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e',
    );
  });
  test('PolicyPassword gives the PolicyAuthValue digest', () => {
    expect(toHex(new PolicyCalculator(TPM_ALG.SHA256).policyPassword().digest)).toBe(
      toHex(new PolicyCalculator(TPM_ALG.SHA256).policyAuthValue().digest),
    );
  });
  test('PolicyPCR(sha256 bank, PCR 16 all zero), SHA-256 session', () => {
    const d = new PolicyCalculator(TPM_ALG.SHA256).policyPcr(
      [{ hash: TPM_ALG.SHA256, pcrs: [16] }],
      [new Uint8Array(32)],
    ).digest;
    expect(toHex(d)).toBe('bff2d58e9813f97cefc14f72ad8133bc7092d652b7c877959254af140c841f36');
  });
  test('PolicyOR bounds and PolicyAuthorize shape', () => {
    const c = new PolicyCalculator(TPM_ALG.SHA256);
    expect(() => c.policyOr([new Uint8Array(32)])).toThrow();
    const name = fromHex(`000b${'11'.repeat(32)}`);
    const a = new PolicyCalculator(TPM_ALG.SHA256).policyAuthValue().policyAuthorize(name).digest;
    const b = new PolicyCalculator(TPM_ALG.SHA256).policyAuthorize(name).digest;
    expect(toHex(a)).toBe(toHex(b)); // PolicyAuthorize starts from zero
  });
});

describe('PCR prediction', () => {
  test('extend is H(old || digest); measure hashes first', () => {
    const b = new PcrBank(TPM_ALG.SHA256);
    const d = hash(TPM_ALG.SHA256, new Uint8Array([1]));
    b.extend(16, d);
    expect(toHex(b.get(16))).toBe(toHex(hash(TPM_ALG.SHA256, new Uint8Array(32), d)));
    expect(toHex(predictPcrs(TPM_ALG.SHA256, [{ pcr: 16, data: new Uint8Array([1]) }]).get(16))).toBe(
      toHex(b.get(16)),
    );
    expect(() => b.extend(1, new Uint8Array(20))).toThrow();
  });
  test('lsvmload scenario events and cap', () => {
    expect(LSVMLOAD_SCENARIO_EVENTS.map(toHex)).toEqual(['10000000', '0200f000', '01000000']);
    const manual = new PcrBank(TPM_ALG.SHA256);
    for (const e of ['10000000', '0200f000', '01000000']) manual.extend(11, hash(TPM_ALG.SHA256, fromHex(e)));
    manual.extend(11, hash(TPM_ALG.SHA256, new Uint8Array(20)));
    expect(toHex(capLsvmload(extendLsvmloadScenario(new PcrBank(TPM_ALG.SHA256))).get(11))).toBe(
      toHex(manual.get(11)),
    );
  });
  test('UEFI_VARIABLE_DATA layout', () => {
    const v = uefiVariableData(EFI_GLOBAL_VARIABLE, 'SecureBoot', new Uint8Array([1]));
    expect(toHex(v.subarray(0, 16))).toBe('61dfe48bca93d211aa0d00e098032b8c');
    expect(toHex(v.subarray(16, 32))).toBe('0a000000000000000100000000000000');
    expect(v.length).toBe(32 + 20 + 1);
    expect(new TextDecoder('utf-16le').decode(v.subarray(32, 52))).toBe('SecureBoot');
  });
});
