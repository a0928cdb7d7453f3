import { type KeyObject, createPublicKey } from 'node:crypto';
import { FormatError, UnsupportedError, UsageError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { type Asn1Value, decodeBer, fromLibrary, toDer } from './asn1.js';
import { DIGEST_LENGTHS, type DigestAlgorithm } from './digest.js';
import { DIGEST_BY_OID, OID, OID_BY_DIGEST } from './oids.js';

/**
 * RSASSA-PSS parameters (RFC 4055 §3.1, RFC 8017 Appendix A.2.3):
 *
 * ```
 * RSASSA-PSS-params ::= SEQUENCE {
 *   hashAlgorithm    [0] HashAlgorithm    DEFAULT sha1,
 *   maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1,
 *   saltLength       [2] INTEGER          DEFAULT 20,
 *   trailerField     [3] TrailerField     DEFAULT trailerFieldBC }   -- 1, the only value defined
 * ```
 *
 * The same AlgorithmIdentifier names the signature of a SignerInfo and of a certificate.
 */
export interface RsaPssParameters {
  /** The message hash (also what the signed attributes are hashed with). */
  hash: DigestAlgorithm;
  /** The hash inside MGF1. */
  mgf1Hash: DigestAlgorithm;
  /** Salt length in bytes. */
  saltLength: number;
  /** Trailer field; 1 (0xBC) is the only value RFC 8017 defines. */
  trailerField: number;
}

const STRUCTURE = 'RSASSA-PSS-params';
const malformed = (message: string): FormatError =>
  new FormatError('PSS_MALFORMED', message, { structure: STRUCTURE });
const unsupported = (message: string): UnsupportedError =>
  new UnsupportedError('PSS_UNSUPPORTED', message, { structure: STRUCTURE });

/**
 * Decodes RSASSA-PSS-params (absent parameters mean every default, RFC 4055 §3.1). Throws a
 * {@link FormatError} (`PSS_MALFORMED`) for parameters that do not decode or make no sense, and an
 * {@link UnsupportedError} (`PSS_UNSUPPORTED`) for valid ones outside what is implemented.
 */
export function parseRsaPssParameters(params: Asn1Value | undefined): RsaPssParameters {
  const p =
    params === undefined
      ? new pkijs.RSASSAPSSParams()
      : fromLibrary(STRUCTURE, 'PSS_MALFORMED', () => new pkijs.RSASSAPSSParams({ schema: params }));
  const hash = DIGEST_BY_OID[p.hashAlgorithm.algorithmId];
  if (!hash) throw unsupported(`PSS hash ${p.hashAlgorithm.algorithmId} is not supported`);
  if (p.maskGenAlgorithm.algorithmId !== OID.mgf1)
    throw unsupported(`mask generation ${p.maskGenAlgorithm.algorithmId} is not MGF1`);
  let mgfHashOid: string = OID.sha1;
  const mgfParams = p.maskGenAlgorithm.algorithmParams as Asn1Value | undefined;
  if (mgfParams !== undefined && !(mgfParams instanceof asn1js.Null)) {
    if (!(mgfParams instanceof asn1js.Sequence))
      throw malformed('MGF1 parameters are not an AlgorithmIdentifier');
    mgfHashOid = fromLibrary(
      STRUCTURE,
      'PSS_MALFORMED',
      () => new pkijs.AlgorithmIdentifier({ schema: mgfParams }).algorithmId,
    );
  }
  const mgf1Hash = DIGEST_BY_OID[mgfHashOid];
  if (!mgf1Hash) throw unsupported(`MGF1 hash ${mgfHashOid} is not supported`);
  const { saltLength, trailerField } = p;
  if (!Number.isSafeInteger(saltLength) || saltLength < 0 || saltLength > 1024)
    throw malformed(`PSS salt length ${saltLength} is out of range`);
  if (trailerField !== 1) throw unsupported(`PSS trailer field ${trailerField} (only 1, 0xBC, is defined)`);
  return { hash, mgf1Hash, saltLength, trailerField };
}

/**
 * The rsassaPss AlgorithmIdentifier this package signs with: hash and MGF1 hash `alg`, salt as
 * long as the hash (32 for SHA-256, the choice of RFC 8017 §9.1 and of Windows' signers), trailer 1.
 */
export function rsaPssAlgorithm(alg: DigestAlgorithm): pkijs.AlgorithmIdentifier {
  const hashId = new pkijs.AlgorithmIdentifier({
    algorithmId: OID_BY_DIGEST[alg],
    algorithmParams: new asn1js.Null(),
  });
  return new pkijs.AlgorithmIdentifier({
    algorithmId: OID.rsaPss,
    algorithmParams: new pkijs.RSASSAPSSParams({
      hashAlgorithm: hashId,
      maskGenAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID.mgf1,
        algorithmParams: hashId.toSchema(),
      }),
      saltLength: DIGEST_LENGTHS[alg],
    }).toSchema(),
  });
}

/** A hash AlgorithmIdentifier with NULL parameters (RFC 4055 §2.1 allows absent or NULL). */
function hashAlgorithm(alg: DigestAlgorithm): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({
    algorithmId: OID_BY_DIGEST[alg],
    algorithmParams: new asn1js.Null(),
  });
}

/**
 * The RSA public key of `key` as an `rsa-pss` key restricted to exactly `p` (an id-RSASSA-PSS
 * SubjectPublicKeyInfo with these parameters, RFC 4055 §3.1). node:crypto has no option for the
 * MGF1 hash when verifying, but OpenSSL takes it — with the hash and the salt length — from such a
 * key, so every parameter of the signature is honoured by OpenSSL itself.
 *
 * Throws a {@link UsageError} when `key` is not RSA, and a {@link FormatError} when it is an
 * `rsa-pss` key whose own restrictions the parameters violate (RFC 4055 §3.3: same hashes, salt
 * at least as long).
 */
export function pssVerificationKey(key: KeyObject, p: RsaPssParameters): KeyObject {
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'rsa-pss')
    throw new UsageError(
      'PSS_KEY_TYPE',
      `an RSASSA-PSS signature needs an RSA key, not ${type ?? 'unknown'}`,
    );
  const d = key.asymmetricKeyDetails;
  if (
    type === 'rsa-pss' &&
    d?.hashAlgorithm !== undefined &&
    (d.hashAlgorithm !== p.hash || d.mgf1HashAlgorithm !== p.mgf1Hash || (d.saltLength ?? 0) > p.saltLength)
  )
    throw new FormatError(
      'PSS_KEY_RESTRICTIONS',
      "the PSS parameters violate the signer key's own restrictions",
      {
        structure: STRUCTURE,
      },
    );
  const spki = new pkijs.PublicKeyInfo({
    schema: decodeBer(new Uint8Array(key.export({ type: 'spki', format: 'der' })), 'SubjectPublicKeyInfo'),
  });
  const restricted = new asn1js.Sequence({
    value: [
      new pkijs.AlgorithmIdentifier({
        algorithmId: OID.rsaPss,
        algorithmParams: new pkijs.RSASSAPSSParams({
          hashAlgorithm: hashAlgorithm(p.hash),
          maskGenAlgorithm: new pkijs.AlgorithmIdentifier({
            algorithmId: OID.mgf1,
            algorithmParams: hashAlgorithm(p.mgf1Hash).toSchema(),
          }),
          saltLength: p.saltLength,
        }).toSchema(),
      }).toSchema(),
      spki.subjectPublicKey,
    ],
  });
  return createPublicKey({ key: Buffer.from(toDer(restricted)), format: 'der', type: 'spki' });
}
