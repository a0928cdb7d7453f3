import { type KeyObject, createPublicKey, sign } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { type KeyUsage, KEY_USAGE_BITS, type SignatureScheme, describeKey } from './certificate.js';
import { decodeDer } from './der.js';

/**
 * Issuing the X.509 v3 certificates of a generated guardian (RFC 5280 §4.1) with pkijs. The
 * structure is pkijs's; the signature is node:crypto's, made synchronously over pkijs's encoded
 * TBSCertificate, so `generateGuardian` stays synchronous and OpenSSL makes every signature the
 * formats hold.
 *
 * The encoding is fixed (published vectors depend on it): serial = 16 random bytes with the top
 * bit cleared and a non-zero first byte; names = one RDN `CN` as UTF8String; validity as UTCTime
 * through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), whole seconds; extensions
 * basicConstraints (critical; `cA TRUE, pathLen 0` or empty) and keyUsage (critical).
 */

/** What to put in a certificate. */
export interface CertificateTemplate {
  /** Common name of the subject. */
  subject: string;
  /** Common name of the issuer (the subject itself for a self-signed certificate). */
  issuer: string;
  /** The certified key (private or public). */
  subjectKey: KeyObject;
  /** The issuer's private key, which signs. */
  issuerKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** Serial number bytes (normalised as described above). */
  serial: Uint8Array;
  /** A CA certificate (basicConstraints cA, keyCertSign). */
  ca: boolean;
  /** KeyUsage bits. */
  keyUsage: KeyUsage[];
}

const SIG_ALG_OID: Record<SignatureScheme, string> = {
  RS256: '1.2.840.113549.1.1.11', // sha256WithRSAEncryption (RFC 4055 §5)
  ES256: '1.2.840.10045.4.3.2', // ecdsa-with-SHA256 (RFC 5758 §3.2)
  ES384: '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
};

const OID_COMMON_NAME = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';

/** RFC 5280 §4.1.1.2: parameters NULL for RSA (RFC 4055 §5), absent for ECDSA (RFC 5758 §3.2). */
function signatureAlgorithm(scheme: SignatureScheme): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({
    algorithmId: SIG_ALG_OID[scheme],
    ...(scheme === 'RS256' ? { algorithmParams: new asn1js.Null() } : {}),
  });
}

function commonName(cn: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new asn1js.Utf8String({ value: cn }) }),
    ],
  });
}

function time(d: Date): pkijs.Time {
  const year = d.getUTCFullYear();
  const type = year >= 1950 && year < 2050 ? pkijs.TimeType.UTCTime : pkijs.TimeType.GeneralizedTime;
  return new pkijs.Time({ type, value: d });
}

/** KeyUsage as a named-bit BIT STRING, minimal per X.690 §11.2.2 (no trailing zero bits). */
function keyUsageBits(usage: KeyUsage[]): asn1js.BitString {
  const bits = usage.map((u) => KEY_USAGE_BITS.indexOf(u));
  const max = Math.max(...bits);
  const bytes = new Uint8Array((max >> 3) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: bytes, unusedBits: 7 - (max & 7) });
}

/** Builds and signs a certificate; returns its DER bytes. */
export function issueCertificate(t: CertificateTemplate): Uint8Array {
  const { scheme } = describeKey(t.issuerKey, 'issuer key');
  const serial = new Uint8Array(t.serial);
  serial[0]! &= 0x7f;
  if (serial[0] === 0) serial[0] = 1;
  const spki = new Uint8Array(createPublicKey(t.subjectKey).export({ type: 'spki', format: 'der' }));
  const basic = new pkijs.BasicConstraints(t.ca ? { cA: true, pathLenConstraint: 0 } : {});
  const cert = new pkijs.Certificate({
    version: 2,
    serialNumber: new asn1js.Integer({ valueHex: serial }),
    signature: signatureAlgorithm(scheme),
    issuer: commonName(t.issuer),
    notBefore: time(t.notBefore),
    notAfter: time(t.notAfter),
    subject: commonName(t.subject),
    subjectPublicKeyInfo: new pkijs.PublicKeyInfo({ schema: decodeDer(spki, 'subject public key') }),
    extensions: [
      new pkijs.Extension({
        extnID: OID_BASIC_CONSTRAINTS,
        critical: true,
        extnValue: basic.toSchema().toBER(false),
      }),
      new pkijs.Extension({
        extnID: OID_KEY_USAGE,
        critical: true,
        extnValue: keyUsageBits(t.keyUsage).toBER(false),
      }),
    ],
  });
  const tbs = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.tbsView = tbs;
  cert.signatureAlgorithm = signatureAlgorithm(scheme);
  // RFC 5758 §3.2: ECDSA signatures in certificates are DER Ecdsa-Sig-Value, not r‖s.
  const signature =
    scheme === 'RS256'
      ? sign('sha256', tbs, t.issuerKey)
      : sign(scheme === 'ES384' ? 'sha384' : 'sha256', tbs, { key: t.issuerKey, dsaEncoding: 'der' });
  cert.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(signature) });
  return new Uint8Array(cert.toSchema(false).toBER(false));
}
