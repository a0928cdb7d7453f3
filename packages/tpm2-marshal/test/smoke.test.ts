import { toHex } from '@lsvm/core';
import { startSwtpm, parsePcrSelection, seal, unseal, TPM_ALG, TPMA_SESSION } from '../src/index.js';

test('smoke', async () => {
  const sw = await startSwtpm();
  try {
    const tpm = await sw.connect();
    const r = await tpm.getRandom(16);
    console.log('random', toHex(r));
    const pcrs = await tpm.pcrRead(parsePcrSelection('sha256:0,7,11'));
    console.log(pcrs.map((p) => `${p.pcr}=${toHex(p.value)}`));
    const sel = parsePcrSelection('sha256:7,11');
    const sealed = await seal(tpm, new TextEncoder().encode('hello secret'), { pcrs: sel });
    console.log('sealed', toHex(sealed.policyDigest));
    const out = await unseal(tpm, sealed, { pcrs: sel });
    console.log('unsealed', new TextDecoder().decode(out));
    const sealed2 = await seal(tpm, new TextEncoder().encode('pw secret'), { pcrs: sel, authValue: new TextEncoder().encode('pw') });
    console.log('unsealed2', new TextDecoder().decode(await unseal(tpm, sealed2, { pcrs: sel, authValue: new TextEncoder().encode('pw') })));
    console.log('unsealed2pw', new TextDecoder().decode(await unseal(tpm, sealed2, { pcrs: sel, authValue: new TextEncoder().encode('pw'), usePolicyPassword: true })));
    void TPM_ALG; void TPMA_SESSION;
    await tpm.close();
  } finally {
    await sw.stop();
  }
});
