import { constants, createHash, verify as cryptoVerify } from 'node:crypto';
import { FormatError, UnsupportedError, constantTimeEqual } from '@lsvm/core';
import * as asn1js from 'asn1js';
import { oidOf } from './asn1.js';
import type { DigestAlgorithm } from './digest.js';
import { DIGEST_BY_OID, OID, SIGNATURE_HASH_BY_OID } from './oids.js';
import { type RsaPssParameters, parseRsaPssParameters, pssVerificationKey } from './rsa-pss.js';
import { type SignedData, type SignerInfo, attribute, findSignerCertificate } from './signed-data.js';
import type { Certificate } from './x509.js';

/** Why a signature (or one of its parts) did not verify. Each code is one distinct cause. */
export type VerifyReasonCode =
  | 'NOT_SIGNED'
  | 'SIGNATURE_MALFORMED'
  | 'NOT_AUTHENTICODE'
  | 'UNSUPPORTED_ALGORITHM'
  | 'DIGEST_MISMATCH'
  | 'IMAGE_MALFORMED'
  | 'CONTENT_TYPE_MISMATCH'
  | 'MESSAGE_DIGEST_MISMATCH'
  | 'MISSING_MESSAGE_DIGEST'
  | 'SIGNER_NOT_FOUND'
  | 'BAD_SIGNATURE'
  | 'UNTRUSTED_CHAIN'
  | 'ISSUER_NOT_CA'
  | 'BAD_CERTIFICATE_SIGNATURE'
  | 'CHAIN_TOO_LONG'
  | 'EKU_NOT_CODE_SIGNING'
  | 'CERTIFICATE_EXPIRED'
  | 'CERTIFICATE_NOT_YET_VALID'
  | 'TIMESTAMP_IMPRINT_MISMATCH'
  | 'TIMESTAMP_INVALID'
  | 'FORBIDDEN_BY_DBX'
  | 'NOT_IN_DB';

/** One failure with its human explanation. */
export interface VerifyReason {
  code: VerifyReasonCode;
  message: string;
}

/** Hashes `data` with `alg`. */
export function hashBytes(alg: DigestAlgorithm, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(alg).update(data).digest());
}

/** The outcome of checking one SignerInfo's own signature (not its chain). */
export interface SignerCheck {
  certificate?: Certificate;
  failures: VerifyReason[];
}

/**
 * Verifies one SignerInfo over `content` (the bytes its messageDigest covers): the messageDigest
 * and contentType signed attributes (RFC 5652 §11.1–11.2), then the signature over the DER SET of
 * signed attributes (§5.4) with the signer's certificate, found by IssuerAndSerialNumber or
 * SubjectKeyIdentifier among `certs`.
 */
export function checkSigner(
  sd: SignedData,
  si: SignerInfo,
  content: Uint8Array,
  certs: Certificate[] = sd.certificates,
): SignerCheck {
  const failures: VerifyReason[] = [];
  const hashAlg = DIGEST_BY_OID[si.digestAlgorithm];
  if (!hashAlg) {
    failures.push({
      code: 'UNSUPPORTED_ALGORITHM',
      message: `digest algorithm ${si.digestAlgorithm} is not supported`,
    });
    return { failures };
  }
  let signedBytes = content;
  if (si.signedAttrs) {
    const md = attribute(si.signedAttrs, OID.messageDigest);
    if (!(md instanceof asn1js.OctetString) || md.error) {
      failures.push({
        code: 'MISSING_MESSAGE_DIGEST',
        message: 'the signed attributes carry no messageDigest',
      });
    } else if (!constantTimeEqual(md.valueBlock.valueHexView, hashBytes(hashAlg, content))) {
      failures.push({
        code: 'MESSAGE_DIGEST_MISMATCH',
        message: 'the messageDigest attribute does not match the signed content',
      });
    }
    const ct = attribute(si.signedAttrs, OID.contentType);
    if (ct && contentTypeOf(ct) !== sd.contentType) {
      failures.push({
        code: 'CONTENT_TYPE_MISMATCH',
        message: 'the contentType attribute differs from the eContentType',
      });
    }
    signedBytes = si.signedAttrsDer!;
  }
  const certificate = findSignerCertificate(si, certs);
  if (!certificate) {
    failures.push({ code: 'SIGNER_NOT_FOUND', message: 'the signer certificate is not in the signature' });
    return { failures };
  }
  let pss: RsaPssParameters | undefined;
  if (si.signatureAlgorithm === OID.rsaPss) {
    try {
      pss = parseRsaPssParameters(si.signatureParameters);
    } catch (e) {
      if (!(e instanceof FormatError || e instanceof UnsupportedError)) throw e;
      failures.push({
        code: e instanceof FormatError ? 'SIGNATURE_MALFORMED' : 'UNSUPPORTED_ALGORITHM',
        message: e.message,
      });
      return { certificate, failures };
    }
  }
  const sigHash = pss?.hash ?? SIGNATURE_HASH_BY_OID[si.signatureAlgorithm] ?? hashAlg;
  const known =
    pss !== undefined ||
    si.signatureAlgorithm in SIGNATURE_HASH_BY_OID ||
    si.signatureAlgorithm === OID.rsaEncryption ||
    si.signatureAlgorithm === OID.ecPublicKey;
  if (!known) {
    failures.push({
      code: 'UNSUPPORTED_ALGORITHM',
      message: `signature algorithm ${si.signatureAlgorithm} is not supported`,
    });
    return { certificate, failures };
  }
  let ok = false;
  try {
    if (pss === undefined) {
      ok = cryptoVerify(sigHash, signedBytes, certificate.x509.publicKey, si.signature);
    } else {
      const key = pssVerificationKey(certificate.x509.publicKey, pss);
      ok = cryptoVerify(
        sigHash,
        signedBytes,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength },
        si.signature,
      );
    }
  } catch {
    ok = false;
  }
  if (!ok)
    failures.push({
      code: 'BAD_SIGNATURE',
      message: `the signature by ${certificate.subject} does not verify`,
    });
  return { certificate, failures };
}

/** The contentType attribute value, or a marker that never equals an OID when it is malformed. */
function contentTypeOf(v: asn1js.AsnType): string {
  try {
    return oidOf(v, 'contentType attribute');
  } catch (e) {
    if (e instanceof FormatError) return '(malformed)';
    throw e;
  }
}
