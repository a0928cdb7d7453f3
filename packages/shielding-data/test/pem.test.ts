import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLsvmError } from '@lsvm/core';
import { importGuardianPublicPem } from '../src/index.js';
import { pemDecodeAll, pemEncode } from '../src/pem.js';
import { vectorDir } from './vectors.js';

describe('PEM blocks', () => {
  const cert = readFileSync(join(vectorDir, 'owner', 'signing.crt.pem'), 'utf8');

  it('round-trips pemEncode and finds blocks of any RFC 7468 label in order', () => {
    const a = Uint8Array.of(1, 2, 3);
    const b = new Uint8Array(100).map((_, i) => i);
    const text = `head\n${pemEncode('CERTIFICATE', a)}mid\n${pemEncode('X509 CRL', b)}${pemEncode('NEW-KEY', a)}`;
    expect(pemDecodeAll(text).map((x) => [x.label, [...x.der]])).toEqual([
      ['CERTIFICATE', [1, 2, 3]],
      ['X509 CRL', [...b]],
      ['NEW-KEY', [1, 2, 3]],
    ]);
  });

  it('skips an unterminated block and an END of another label', () => {
    const good = pemEncode('CERTIFICATE', Uint8Array.of(7));
    expect(pemDecodeAll(`-----BEGIN CERTIFICATE-----\nAA\n${good}`).map((x) => [...x.der])).toEqual([[7]]);
    expect(
      pemDecodeAll(`-----BEGIN CERTIFICATE-----\nAA\n-----END KEY-----\n${good}`).map((x) => [...x.der]),
    ).toEqual([[7]]);
  });

  it('refuses a body that is not base64 with a typed error', () => {
    expect(() => pemDecodeAll('-----BEGIN A-----\n!!\n-----END A-----')).toThrow(
      expect.objectContaining({ code: 'PEM_MALFORMED' }),
    );
  });

  it('reads the committed vector certificate', () => {
    const blocks = pemDecodeAll(cert);
    expect(blocks.map((x) => x.label)).toEqual(['CERTIFICATE']);
    expect(pemEncode('CERTIFICATE', blocks[0]!.der)).toBe(cert);
  });

  // Regression: the lazy regular expression this replaced took 20 s on 0.27 MB of BEGIN lines.
  it('stays linear on hostile input', () => {
    const hostile = [
      '-----BEGIN A-----'.repeat(60_000),
      `${'-----BEGIN CERTIFICATE-----\n'.repeat(40_000)}-----END CERTIFICATE-----`,
      `${'-----BEGIN A-----'.repeat(40_000)}${'-----END B-----'.repeat(10)}`,
    ];
    for (const text of hostile) {
      try {
        importGuardianPublicPem({ name: 'g', signingCertificate: text, encryptionCertificate: cert });
      } catch (e) {
        if (!isLsvmError(e)) throw e;
      }
    }
  });
});
