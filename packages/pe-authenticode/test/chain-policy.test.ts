import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers, run, runOk, tempDir } from '@lsvm/testkit';
import { parseCertificatePemOrDer, signImage, verifyImage } from '../src/index.js';
import { makePe, pattern } from './helpers/make-pe.js';

/**
 * Which certificates may stand between a signer and an anchor, decided the way OpenSSL decides
 * (`openssl verify -untrusted`, run side by side): an intermediate needs basicConstraints cA, a
 * pathLenConstraint that allows the intermediates below it, and — when it has a keyUsage
 * extension — keyCertSign. Certificates are made by openssl itself.
 */
describeWithPeers(['openssl'], 'chain policy for intermediates, against openssl verify', () => {
  const t = tempDir('lsvm-pe-chain-');
  afterAll(() => t.cleanup());
  const p = (f: string) => join(t.path, f);
  const ecKey = (name: string) =>
    runOk('openssl', [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      p(`${name}.key`),
    ]);

  /** A certificate `name` issued by `issuer` (self-signed when undefined) with these extensions. */
  function cert(name: string, issuer: string | undefined, ext: string[]): void {
    ecKey(name);
    writeFileSync(p(`${name}.ext`), `${ext.join('\n')}\n`);
    runOk('openssl', [
      'req',
      '-new',
      '-key',
      p(`${name}.key`),
      '-subj',
      `/CN=${name}`,
      '-out',
      p(`${name}.csr`),
    ]);
    const signer = issuer
      ? ['-CA', p(`${issuer}.pem`), '-CAkey', p(`${issuer}.key`)]
      : ['-signkey', p(`${name}.key`)];
    runOk('openssl', [
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      ...signer,
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      p(`${name}.ext`),
      '-out',
      p(`${name}.pem`),
    ]);
  }
  const ca = [
    'basicConstraints=critical,CA:TRUE',
    'keyUsage=critical,keyCertSign,cRLSign',
    'subjectKeyIdentifier=hash',
  ];
  const leaf = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=codeSigning',
  ];

  beforeAll(() => {
    cert('root', undefined, ca);
    // A CA that may not sign certificates (keyUsage without keyCertSign), and a leaf under it.
    cert('nosign', 'root', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,digitalSignature']);
    cert('leafA', 'nosign', leaf);
    // pathlen:0 under the root, another CA under it, a leaf under that: one intermediate too many.
    cert('len0', 'root', ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign']);
    cert('inner', 'len0', ca);
    cert('leafB', 'inner', leaf);
    // The same shape with pathlen:1 is fine.
    cert('len1', 'root', ['basicConstraints=critical,CA:TRUE,pathlen:1', 'keyUsage=critical,keyCertSign']);
    cert('inner1', 'len1', ca);
    cert('leafC', 'inner1', leaf);
  });

  const image = makePe({ sections: [{ name: '.text', data: pattern(4096, 3) }] });
  const pem = (name: string) => parseCertificatePemOrDer(readFileSync(p(`${name}.pem`)));
  const verdict = (leafName: string, chain: string[]) => {
    const signed = signImage(image, {
      certificate: pem(leafName),
      key: readFileSync(p(`${leafName}.key`), 'utf8'),
      chain: chain.map(pem),
    });
    return verifyImage(signed, { trust: [pem('root')] }).signatures[0]!.failures.map((f) => f.code);
  };
  const opensslAccepts = (leafName: string, chain: string[]) => {
    writeFileSync(p('untrusted.pem'), chain.map((c) => readFileSync(p(`${c}.pem`), 'utf8')).join(''));
    return (
      run('openssl', [
        'verify',
        '-CAfile',
        p('root.pem'),
        '-untrusted',
        p('untrusted.pem'),
        p(`${leafName}.pem`),
      ]).status === 0
    );
  };

  test('an intermediate whose keyUsage lacks keyCertSign: refused by both', () => {
    expect(opensslAccepts('leafA', ['nosign'])).toBe(false);
    expect(verdict('leafA', ['nosign'])).toEqual(['ISSUER_NOT_CA']);
  });

  test('pathlen:0 with a CA below it: refused by both; pathlen:1: accepted by both', () => {
    expect(opensslAccepts('leafB', ['inner', 'len0'])).toBe(false);
    expect(verdict('leafB', ['inner', 'len0'])).toEqual(['ISSUER_NOT_CA']);
    expect(opensslAccepts('leafC', ['inner1', 'len1'])).toBe(true);
    expect(verdict('leafC', ['inner1', 'len1'])).toEqual([]);
    expect(pem('len0').pathLength).toBe(0);
  });
});
