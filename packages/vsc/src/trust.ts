import { UsageError } from '@lsvm/core';
import type { CertificateInfo } from './certificate.js';
import { SignatureCheckFailure } from './signature.js';
import { normalizeThumbprint } from './thumbprint.js';

/**
 * Step 1b of verification (docs/formats/vsc.md §8): may this signer sign catalogs, and do we trust
 * it? Either a path to one of the given trust anchors, or a pinned signer thumbprint, or both
 * (then both must hold).
 */

/** How the signer is trusted. At least one of the two must be given. */
export interface TrustOptions {
  /** Trust anchors (root or intermediate CA certificates, or the signer itself), DER. */
  trustAnchors?: Uint8Array[];
  /** The signer certificate's thumbprint (SHA-256 of its DER, hex). */
  signerThumbprint?: string;
  /** Instant at which validity periods are checked (default: now). */
  time?: Date;
}

/** Longest certificate path considered, signer to anchor. */
const MAX_PATH = 8;

/**
 * Checks the signer certificate (usage, validity, pin) and builds a path from it through
 * `candidates` (certificates carried by the signature and the catalog) to a trust anchor, checking
 * each link's signature, CA flag, key usage and validity. Returns the path (signer first, anchor
 * last) or the failure.
 */
export function evaluateTrust(
  signer: CertificateInfo,
  candidates: CertificateInfo[],
  anchors: CertificateInfo[],
  options: TrustOptions,
): CertificateInfo[] | SignatureCheckFailure {
  const pin =
    options.signerThumbprint === undefined ? undefined : normalizeThumbprint(options.signerThumbprint);
  if (pin === undefined && anchors.length === 0) {
    throw new UsageError(
      'VSC_NO_TRUST',
      'give trust anchors or a signer thumbprint: a signature alone proves nothing',
    );
  }
  const time = options.time ?? new Date();
  if (signer.keyUsage !== undefined && !signer.keyUsage.digitalSignature) {
    return new SignatureCheckFailure(
      'wrong-usage',
      `signer ${signer.subject}: key usage does not allow digitalSignature`,
    );
  }
  const validity = checkValidity(signer, time, 'signer');
  if (validity) return validity;
  if (pin !== undefined && signer.thumbprint !== pin) {
    return new SignatureCheckFailure(
      'thumbprint-mismatch',
      `signer thumbprint ${signer.thumbprint} is not the pinned ${pin}`,
    );
  }
  if (anchors.length === 0) return [signer];

  const path: CertificateInfo[] = [signer];
  let current = signer;
  for (let depth = 0; depth < MAX_PATH; depth++) {
    if (anchors.some((a) => a.thumbprint === current.thumbprint)) return path;
    const anchor = anchors.find((a) => issued(a, current));
    if (anchor !== undefined) {
      const f = checkIssuer(anchor, time);
      if (f) return f;
      path.push(anchor);
      return path;
    }
    const next = candidates.find(
      (c) => !path.some((p) => p.thumbprint === c.thumbprint) && issued(c, current),
    );
    if (next === undefined) break;
    const f = checkIssuer(next, time);
    if (f) return f;
    path.push(next);
    current = next;
  }
  return new SignatureCheckFailure(
    'untrusted',
    `no chain from signer ${signer.subject} to a trusted certificate`,
  );
}

function issued(issuer: CertificateInfo, subject: CertificateInfo): boolean {
  try {
    return subject.x509.checkIssued(issuer.x509) && subject.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

function checkIssuer(c: CertificateInfo, time: Date): SignatureCheckFailure | undefined {
  if (!c.isCa) return new SignatureCheckFailure('wrong-usage', `issuer ${c.subject} is not a CA certificate`);
  if (c.keyUsage !== undefined && !c.keyUsage.keyCertSign) {
    return new SignatureCheckFailure(
      'wrong-usage',
      `issuer ${c.subject}: key usage does not allow keyCertSign`,
    );
  }
  return checkValidity(c, time, 'issuer');
}

function checkValidity(c: CertificateInfo, time: Date, role: string): SignatureCheckFailure | undefined {
  if (time > c.notAfter)
    return new SignatureCheckFailure(
      'expired',
      `${role} ${c.subject} expired on ${c.notAfter.toISOString()}`,
    );
  if (time < c.notBefore)
    return new SignatureCheckFailure(
      'not-yet-valid',
      `${role} ${c.subject} is valid only from ${c.notBefore.toISOString()}`,
    );
  return undefined;
}
