import { X509Certificate } from 'node:crypto';
import { FormatError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { certificateThumbprint } from './thumbprint.js';

/**
 * A parsed X.509 certificate with the few facts catalog signing and verification need. Parsing
 * goes through both pkijs (ASN.1 structure, extensions) and node:crypto's X509Certificate (which
 * OpenSSL parses: public key, validity, issuer checks) — a certificate must satisfy both.
 */
export interface CertificateInfo {
  /** DER bytes. */
  der: Uint8Array;
  /** Lower-case hex SHA-256 of the DER ({@link certificateThumbprint}). */
  thumbprint: string;
  /** Subject in OpenSSL's one-line form, `CN=…, O=…`. */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Basic constraints cA flag. */
  isCa: boolean;
  /**
   * Key usage bits when the extension is present (RFC 5280 §4.2.1.3), `undefined` when absent
   * (absent means unrestricted).
   */
  keyUsage: { digitalSignature: boolean; keyCertSign: boolean } | undefined;
  pkijs: pkijs.Certificate;
  x509: X509Certificate;
}

const STRUCTURE = 'X.509 certificate';

/** Parses a DER certificate. Throws a {@link FormatError} when either parser rejects it. */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  let cert: pkijs.Certificate;
  let x509: X509Certificate;
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1 || asn.offset !== der.length) throw new Error('not a single DER value');
    cert = new pkijs.Certificate({ schema: asn.result });
    x509 = new X509Certificate(der);
    // Read every field used later now, so a certificate OpenSSL cannot fully decode fails here.
    void x509.publicKey;
    void x509.subject;
    void x509.issuer;
  } catch (e) {
    throw new FormatError('VSC_BAD_CERTIFICATE', `not a valid X.509 certificate: ${(e as Error).message}`, {
      structure: STRUCTURE,
      cause: e,
    });
  }
  let keyUsage: CertificateInfo['keyUsage'];
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID !== '2.5.29.15') continue;
    let parsed: unknown;
    try {
      // pkijs decodes an extension's value lazily, on this first read, and lets asn1js's plain
      // Errors escape (a malformed time inside the OCTET STRING, say).
      parsed = ext.parsedValue;
    } catch (e) {
      throw new FormatError('VSC_BAD_CERTIFICATE', 'key usage extension does not decode', {
        structure: STRUCTURE,
        cause: e,
      });
    }
    const bits = parsed instanceof asn1js.BitString ? parsed.valueBlock.valueHexView : undefined;
    if (bits === undefined)
      throw new FormatError('VSC_BAD_CERTIFICATE', 'malformed key usage extension', { structure: STRUCTURE });
    const b0 = bits[0] ?? 0;
    keyUsage = { digitalSignature: (b0 & 0x80) !== 0, keyCertSign: (b0 & 0x04) !== 0 };
  }
  return {
    der,
    thumbprint: certificateThumbprint(der),
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    isCa: x509.ca,
    keyUsage,
    pkijs: cert,
    x509,
  };
}

/** node prints names one attribute per line; lsvm shows them on one line, comma separated. */
function oneLine(name: string): string {
  return name
    .split('\n')
    .filter((s) => s.length > 0)
    .join(', ');
}

/**
 * Reads certificates from PEM text (any number of `BEGIN CERTIFICATE` blocks) or a single DER
 * certificate, returning their DER bytes.
 */
export function readCertificates(input: Uint8Array | string): Uint8Array[] {
  const text =
    typeof input === 'string' ? input : looksLikePem(input) ? new TextDecoder().decode(input) : undefined;
  if (text === undefined) return [typeof input === 'string' ? new Uint8Array() : input];
  const out: Uint8Array[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  if (out.length === 0)
    throw new FormatError('VSC_BAD_CERTIFICATE', 'no PEM certificate found', { structure: STRUCTURE });
  return out;
}

function looksLikePem(b: Uint8Array): boolean {
  const head = new TextDecoder().decode(b.subarray(0, Math.min(b.length, 4096)));
  return head.includes('-----BEGIN ');
}
