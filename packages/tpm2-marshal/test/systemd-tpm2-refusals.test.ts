import { type SystemdTpm2TokenFields, type Tpm, unsealSystemdTpm2 } from '../src/index.js';

/**
 * Token features this client does not implement are refused by name before the TPM is touched
 * (the stand-in TPM below throws on any use), never by a TPM error halfway through.
 */
describe('unsealSystemdTpm2 refusals', () => {
  const tpm = new Proxy({} as Tpm, {
    get: () => {
      throw new Error('the TPM must not be used');
    },
  });
  const base = { blob: new Uint8Array(0), pcrs: [7], policyHash: new Uint8Array(32) };
  it.each([
    [{ pin: true }, 'SYSTEMD_TPM2_PIN'],
    [{ pubkeyPcrs: [11] }, 'SYSTEMD_TPM2_SIGNED_POLICY'],
    [{ pcrlock: true, pcrs: [] }, 'SYSTEMD_TPM2_PCRLOCK'],
    [{ srk: new Uint8Array([0x81]) }, 'SYSTEMD_TPM2_SRK'],
    [{ salt: new Uint8Array([1]) }, 'SYSTEMD_TPM2_SALT'],
    [{ primaryAlg: 'ed25519' }, 'SYSTEMD_TPM2_PRIMARY_ALG'],
  ] as [Partial<SystemdTpm2TokenFields>, string][])('%o → %s', async (extra, code) => {
    await expect(unsealSystemdTpm2(tpm, { ...base, ...extra })).rejects.toMatchObject({ code });
  });
});
