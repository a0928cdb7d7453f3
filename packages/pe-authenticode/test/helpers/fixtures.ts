import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePeers, runOk, tempDir } from '@lsvm/testkit';

/** Real EFI binaries from Debian packages (shim-signed, shim-unsigned, shim-helpers-amd64-signed, grub-efi-amd64-signed). */
export const BINARIES = {
  shimSigned: '/usr/lib/shim/shimx64.efi.signed',
  shim: '/usr/lib/shim/shimx64.efi',
  mmSigned: '/usr/lib/shim/mmx64.efi.signed',
  fbSigned: '/usr/lib/shim/fbx64.efi.signed',
  grubSigned: '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
} as const;

/**
 * The bytes of a system file, or undefined after printing why the tests using it are skipped.
 * Under LSVM_REQUIRE_PEERS=1 a missing file throws, like a missing peer tool.
 */
export function systemFile(path: string, pkg: string): Uint8Array | undefined {
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  const reason = `${path} not found (Debian package ${pkg})`;
  if (requirePeers) throw new Error(`${reason}; LSVM_REQUIRE_PEERS=1 forbids skipping`);
  console.warn(`SKIP: ${reason}`);
  return undefined;
}

/** True when every listed binary exists (printing a skip reason otherwise). */
export function haveBinaries(...paths: string[]): boolean {
  return paths.every(
    (p) => systemFile(p, 'shim-signed / shim-unsigned / grub-efi-amd64-signed') !== undefined,
  );
}

/** A throwaway PKI made with openssl: a root CA, an RSA and an EC code-signing leaf. */
export interface TestPki {
  dir: string;
  cleanup: () => void;
  caPem: string;
  caKey: string;
  rsaCert: string;
  rsaKey: string;
  ecCert: string;
  ecKey: string;
  /** A second, unrelated CA (for negative tests). */
  otherCaPem: string;
  /** A leaf with a TLS-server-only EKU, issued by the CA. */
  serverCert: string;
  serverKey: string;
}

export function makePki(): TestPki {
  const { path: dir, cleanup } = tempDir('lsvm-pe-pki-');
  const p = (n: string): string => join(dir, n);
  const ossl = (...args: string[]): void => {
    runOk('openssl', args);
  };
  const ca = (name: string, cn: string): void =>
    ossl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.pem`),
      '-days',
      '3650',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=keyCertSign,cRLSign',
    );
  ca('ca', 'lsvm test CA');
  ca('other', 'lsvm other CA');
  const leaf = (name: string, cn: string, keyArgs: string[], eku: string): void => {
    if (keyArgs[0] === 'ec') {
      ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(`${name}.key`));
    } else {
      ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p(`${name}.key`));
    }
    ossl('req', '-new', '-key', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(
      p(`${name}.ext`),
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=${eku}\n`,
    );
    ossl(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '3650',
      '-extfile',
      p(`${name}.ext`),
    );
  };
  leaf('rsa', 'lsvm rsa signer', ['rsa'], 'codeSigning');
  leaf('ec', 'lsvm ec signer', ['ec'], 'codeSigning');
  leaf('server', 'lsvm tls server', ['rsa'], 'serverAuth');
  return {
    dir,
    cleanup,
    caPem: p('ca.pem'),
    caKey: p('ca.key'),
    rsaCert: p('rsa.pem'),
    rsaKey: p('rsa.key'),
    ecCert: p('ec.pem'),
    ecKey: p('ec.key'),
    otherCaPem: p('other.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
  };
}
