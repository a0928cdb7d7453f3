import { FormatError } from '@lsvm/core';
import type { CertificateInfo } from './certificate.js';
import { type GuardianKeys, checkGuardianName, inspectGuardian } from './guardian.js';
import type { ShieldingLimits } from './limits.js';
import { readPfxKeyPair } from './pkcs12.js';

/**
 * Importing a guardian from PKCS#12 files, the way `New-HgsGuardian -SigningCertificate
 * sign.pfx -EncryptionCertificate enc.pfx` takes one: one .pfx per role, each holding one private
 * key and its certificate (what `openssl pkcs12 -export` and Windows' certificate export write).
 * With only the signing file, its key and certificate serve both roles (as when the same file is
 * passed to both New-HgsGuardian parameters); the certificate's KeyUsage must then allow both.
 */

/** One PKCS#12 file and its password. */
export interface PfxSource {
  /** The .pfx/.p12 bytes. */
  pfx: Uint8Array;
  /** Its password (UTF-8; the MAC uses its BMPString form, RFC 7292 Appendix B.1). */
  password: string | Uint8Array;
}

/** Options of {@link importGuardianPfx}. */
export interface ImportGuardianPfxOptions {
  /** The encryption key's file; omitted, the signing file's key is used for both roles. */
  encryption?: PfxSource;
  limits?: Partial<ShieldingLimits>;
}

function requireUsage(c: CertificateInfo, role: string, wanted: readonly string[]): void {
  if (c.keyUsage === undefined || wanted.some((u) => c.keyUsage!.includes(u as never))) return;
  throw new FormatError(
    'GUARDIAN_KEY_USAGE',
    `the ${role} certificate's KeyUsage (${c.keyUsage.join(', ') || 'none'}) does not include ${wanted.join(' or ')}`,
    { structure: 'guardian' },
  );
}

/**
 * Imports a guardian with its private keys from PKCS#12. Wrong password: `AuthError` `PFX_MAC`;
 * legacy encryption (`openssl pkcs12 -legacy`): `UnsupportedError` `PFX_LEGACY_PBE`.
 */
export async function importGuardianPfx(
  name: string,
  signing: PfxSource,
  options: ImportGuardianPfxOptions = {},
): Promise<GuardianKeys> {
  checkGuardianName(name);
  const sig = await readPfxKeyPair(signing.pfx, signing.password, options.limits);
  const enc = options.encryption
    ? await readPfxKeyPair(options.encryption.pfx, options.encryption.password, options.limits)
    : sig;
  const g: GuardianKeys = {
    name,
    signingCertificate: sig.certificate,
    encryptionCertificate: enc.certificate,
    signingKey: sig.privateKey,
    encryptionKey: enc.privateKey,
  };
  // The same checks as every other guardian: strict DER, RSA ≥ 2048 or P-256/P-384.
  const info = inspectGuardian(g);
  // RFC 5280 §4.2.1.3: signatures need digitalSignature; OAEP key transport keyEncipherment,
  // ECDH keyAgreement.
  requireUsage(info.signing, 'signing', ['digitalSignature']);
  requireUsage(info.encryption, 'encryption', [
    info.encryption.keyType === 'rsa' ? 'keyEncipherment' : 'keyAgreement',
  ]);
  return g;
}
