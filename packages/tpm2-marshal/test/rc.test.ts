import { describeWithPeers, run } from '@lsvm/testkit';
import { RC, TpmError, decodeRc, formatRc } from '../src/index.js';

/** tpm2_rc_decode's `tpm:…` line rebuilt from our decoding, for comparison. */
function tssStyle(rc: number): string {
  const d = decodeRc(rc);
  if (d.kind === 'success') return 'tpm:success';
  if (d.kind === 'warn') return `tpm:warn(2.0): ${d.description}`;
  if (d.kind === 'tpm1.2') return 'tpm:error(1.2): unknown version 1.2 error code';
  if (d.kind === 'vendor') return `tpm:error(2.0): ${d.description}`;
  if (d.subject) {
    const s = d.subject;
    const n = s.index === 0 ? 'unk' : String(s.index);
    return `tpm:${s.type}(${n}):${d.description}`;
  }
  return `tpm:error(2.0): ${d.description}`;
}

const SPREAD = [
  0x000, 0x100, 0x101, 0x103, 0x120, 0x124, 0x125, 0x126, 0x127, 0x128, 0x12e, 0x130, 0x142, 0x143, 0x144,
  0x146, 0x147, 0x148, 0x149, 0x14a, 0x14b, 0x14c, 0x150, 0x151, 0x152, 0x155, 0x081, 0x084, 0x08b, 0x08e,
  0x095, 0x09a, 0x09d, 0x0a2, 0x0a7, 0x184, 0x1d5, 0x2c4, 0x28b, 0x3c4, 0x98e, 0x99d, 0x9a2, 0xa9d, 0xb8e,
  0x901, 0x902, 0x908, 0x90a, 0x910, 0x916, 0x918, 0x91e, 0x920, 0x921, 0x922, 0x923, 0x400, 0x500, 0x0bf,
];

describe('response codes', () => {
  test('format one: parameter, handle and session numbers', () => {
    expect(formatRc(0x99d)).toBe('TPM_RC_POLICY_FAIL (session 1): a policy check failed');
    expect(decodeRc(0x1d5)).toMatchObject({
      name: 'TPM_RC_SIZE',
      subject: { type: 'parameter', index: 1 },
      base: 0x95,
    });
    expect(decodeRc(0x28b)).toMatchObject({ name: 'TPM_RC_HANDLE', subject: { type: 'handle', index: 2 } });
    expect(decodeRc(0x98e).base).toBe(RC.AUTH_FAIL);
  });
  test('format zero, warnings, layers', () => {
    expect(formatRc(0x100)).toBe(
      'TPM_RC_INITIALIZE: TPM not initialized by TPM2_Startup or already initialized',
    );
    expect(decodeRc(0x922)).toMatchObject({ kind: 'warn', name: 'TPM_RC_RETRY' });
    expect(decodeRc(0x0b0143)).toMatchObject({ layer: 11, name: 'TPM_RC_COMMAND_CODE' });
    expect(decodeRc(0x918).name).toBe('TPM_RC_REFERENCE_S0');
  });
  test('TpmError kinds and codes', () => {
    const e = new TpmError(0x98e, 'TPM2_Unseal');
    expect(e.kind).toBe('auth');
    expect(e.code).toBe('TPM2_RC_AUTH_FAIL');
    expect(e.structure).toBe('TPM2_Unseal');
    expect(new TpmError(0x1d5, 'TPM2_Load').kind).toBe('format');
  });
});

describeWithPeers(['tpm2_rc_decode'], 'rc decoding agrees with tpm2_rc_decode', () => {
  test.each(SPREAD)('0x%s', (rc) => {
    const r = run('tpm2_rc_decode', [`0x${rc.toString(16)}`]);
    expect(r.stdout.trim()).toBe(tssStyle(rc));
  });
});
