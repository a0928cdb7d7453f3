import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from '@lsvm/testkit';

/**
 * Test PKI made with openssl at test time: a root CA (P-256), signers under it (RSA-2048, P-256,
 * P-384), a signer whose key usage excludes digitalSignature, a CA with no cA flag, and a second,
 * unrelated CA with its own signer.
 */
export interface TestPki {
  dir: string;
  ca: Uint8Array;
  caPem: string;
  rsa: Signer;
  p256: Signer;
  p384: Signer;
  wrongUsage: Signer;
  otherCa: Uint8Array;
  otherSigner: Signer;
  notCaSigner: Signer;
  notCa: Uint8Array;
}
export interface Signer {
  cert: Uint8Array;
  certPem: string;
  certPath: string;
  key: Uint8Array;
  keyPath: string;
}

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = lsvm test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
[bad]
basicConstraints = CA:FALSE
keyUsage = critical, keyEncipherment
[noca]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
`;

function der(pem: string): Uint8Array {
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END/.exec(pem)![1]!.replace(/\s+/g, '');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

export function makePki(dir: string): TestPki {
  const cnf = join(dir, 'pki.cnf');
  writeFileSync(cnf, CONFIG);
  const root = (name: string, cn: string): Uint8Array => {
    runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.pem`),
      '-days',
      '3650',
      '-subj',
      `/CN=${cn}`,
      '-config',
      cnf,
      '-extensions',
      'ca',
    ]);
    return der(readFileSync(join(dir, `${name}.pem`), 'utf8'));
  };
  const leaf = (name: string, cn: string, keyArgs: string[], issuer: string, ext: string): Signer => {
    const keyPath = join(dir, `${name}.key`);
    const certPath = join(dir, `${name}.pem`);
    runOk('openssl', [
      'req',
      '-newkey',
      ...keyArgs,
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      join(dir, `${name}.csr`),
      '-subj',
      `/CN=${cn}`,
      '-config',
      cnf,
    ]);
    runOk('openssl', [
      'x509',
      '-req',
      '-in',
      join(dir, `${name}.csr`),
      '-CA',
      join(dir, `${issuer}.pem`),
      '-CAkey',
      join(dir, `${issuer}.key`),
      '-set_serial',
      String(Math.floor(Math.random() * 1e9) + 1),
      '-out',
      certPath,
      '-days',
      '3650',
      '-extfile',
      cnf,
      '-extensions',
      ext,
    ]);
    const certPem = readFileSync(certPath, 'utf8');
    return { cert: der(certPem), certPem, certPath, key: new Uint8Array(readFileSync(keyPath)), keyPath };
  };
  const ca = root('ca', 'lsvm test CA');
  const otherCa = root('other-ca', 'lsvm other CA');
  const ecP256 = ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const notCaSigner0 = leaf('not-ca', 'lsvm not a CA', ecP256, 'ca', 'noca');
  return {
    dir,
    ca,
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    rsa: leaf('rsa', 'lsvm signer RSA', ['rsa:2048'], 'ca', 'leaf'),
    p256: leaf('p256', 'lsvm signer P-256', ecP256, 'ca', 'leaf'),
    p384: leaf('p384', 'lsvm signer P-384', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'ca', 'leaf'),
    wrongUsage: leaf('wrong-usage', 'lsvm signer wrong usage', ecP256, 'ca', 'bad'),
    otherCa,
    otherSigner: leaf('other', 'lsvm other signer', ecP256, 'other-ca', 'leaf'),
    notCa: notCaSigner0.cert,
    notCaSigner: leaf('under-not-ca', 'lsvm signer under a non-CA', ecP256, 'not-ca', 'leaf'),
  };
}
