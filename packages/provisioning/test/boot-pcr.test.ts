import { parseCertificate, signImage } from '@lsvm/pe-authenticode';
import {
  capLsvmload,
  extendLsvmloadScenario,
  hash,
  PcrBank,
  type SwtpmInstance,
  startSwtpm,
  TPM_ALG,
  type Tpm,
} from '@lsvm/tpm2-marshal';
import { describeWithPeers, runOk } from '@lsvm/testkit';
import { firmwareEvents, predictUnsealPcrs } from '../src/boot/firmware.js';
import { capPcr11, lsvmloadBanks, measureFirmware, measureScenario } from '../src/boot/pcr.js';
import { makeEfiApplication } from '../src/efi-app.js';
import { defaultSecureBootVars, predictPcr11, predictPcr7 } from '../src/secure-boot.js';
import { TEST_DB_CERT_BASE64, TEST_DB_KEY_PEM } from '../src/test-keys.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describeWithPeers(
  ['swtpm', 'tpm2_pcrread'],
  'PCR 7 and 11 on swtpm, as firmware and lsvmload extend them',
  () => {
    let sw: SwtpmInstance;
    let tpm: Tpm;
    beforeEach(async () => {
      sw = await startSwtpm();
      tpm = await sw.connect();
    });
    afterEach(async () => {
      await tpm.close();
      await sw.stop();
    });

    const read = async (pcr: number, alg: number): Promise<string> =>
      hex((await tpm.pcrRead([{ hash: alg, pcrs: [pcr] }]))[0]!.value);

    it('the scenario events give the predicted PCR 11 in both banks; the cap gives the capped prediction', async () => {
      expect(await lsvmloadBanks(tpm)).toEqual(expect.arrayContaining([TPM_ALG.SHA256]));
      await measureScenario(tpm);
      expect(await read(11, TPM_ALG.SHA256)).toBe(hex(predictPcr11()));
      const banks = await lsvmloadBanks(tpm);
      if (banks.includes(TPM_ALG.SHA1))
        expect(await read(11, TPM_ALG.SHA1)).toBe(
          hex(extendLsvmloadScenario(new PcrBank(TPM_ALG.SHA1)).get(11)),
        );
      const r = await capPcr11(tpm);
      expect(r.banks).toContain('sha256');
      const capped = capLsvmload(extendLsvmloadScenario(new PcrBank(TPM_ALG.SHA256))).get(11);
      expect(await read(11, TPM_ALG.SHA256)).toBe(hex(capped));
      // The cap is SHA-256(20 zero bytes) extended, as the issue states.
      const manual = hash(TPM_ALG.SHA256, predictPcr11(), hash(TPM_ALG.SHA256, new Uint8Array(20)));
      expect(hex(capped)).toBe(hex(manual));
      // tpm2-tools reads the same value.
      await tpm.close();
      const out = runOk('tpm2_pcrread', ['-T', sw.tcti, 'sha256:11']);
      expect(out.toLowerCase().replace(/\s/g, '')).toContain(`0x${hex(capped)}`);
      tpm = await sw.connect();
    });

    it('the firmware simulation gives the predicted PCR 7 (Secure Boot on, loader signed by db)', async () => {
      const vars = defaultSecureBootVars();
      const dbCert = parseCertificate(new Uint8Array(Buffer.from(TEST_DB_CERT_BASE64, 'base64')));
      const loader = signImage(makeEfiApplication(), { certificate: dbCert, key: TEST_DB_KEY_PEM });
      await measureFirmware(tpm, firmwareEvents(vars, loader));
      expect(await read(7, TPM_ALG.SHA256)).toBe(hex(predictPcr7(vars, loader).value));
      expect(hex(predictUnsealPcrs(vars, loader).pcr7)).toBe(hex(predictPcr7(vars, loader).value));
    });

    it('Secure Boot off: no authority event, and a different PCR 7', async () => {
      const vars = { ...defaultSecureBootVars(), secureBoot: 0 };
      await measureFirmware(tpm, firmwareEvents(vars, undefined));
      const off = await read(7, TPM_ALG.SHA256);
      expect(off).toBe(hex(predictPcr7(vars).value));
      expect(firmwareEvents(vars, undefined)).toHaveLength(6);
    });
  },
);
