import { FormatError, constantTimeEqual } from '@lsvm/core';
import { type AuthenticodeSignature, flattenSignatures, imageSignatures } from './authenticode.js';
import {
  type DbxMatch,
  type SignatureDatabase,
  certificateForbidden,
  emptyDatabase,
  hashAlgorithms,
  hashListed,
} from './db-policy.js';
import { type DigestAlgorithm, authenticodeDigest } from './digest.js';
import { OID } from './oids.js';
import { type PeImage, parsePe } from './pe-image.js';
import { type VerifyReason, checkSigner } from './signer-check.js';
import type { TimestampInfo } from './timestamp.js';
import { type Certificate, issuedBy } from './x509.js';

/** Options of {@link verifyImage}. */
export interface VerifyOptions {
  /** Trust anchors (root or intermediate certificates). A signature chaining to one is trusted. */
  trust?: Certificate[];
  /** A Secure Boot db: its certificates are anchors too, and its hashes allow images by digest. */
  db?: SignatureDatabase;
  /** A Secure Boot dbx: forbidden image hashes, certificates and TBS hashes. */
  dbx?: SignatureDatabase;
  /**
   * Check certificate validity periods. Off by default, as UEFI firmware does (it has no trusted
   * clock). `true` checks at the time of a valid timestamp whose time-stamping certificate has the
   * timeStamping EKU and chains to the same anchors, else now; a Date checks at that instant.
   */
  checkTime?: boolean | Date;
  /** Require the code-signing EKU on chain certificates that carry an EKU extension. Default true. */
  requireCodeSigningEku?: boolean;
  /** Most certificates walked from the signer to an anchor. Default 8. */
  maxChainLength?: number;
}

/** The result for one signature (a WIN_CERTIFICATE entry or a nested signature). */
export interface SignatureVerification {
  /** `N` for certificate table entry N, `N.M` for its M-th nested signature. */
  path: string;
  /** This signature is intact and chains to a trust anchor. */
  trusted: boolean;
  failures: VerifyReason[];
  digestAlgorithm?: DigestAlgorithm;
  /** The digest the signature carries. */
  signedDigest: Uint8Array;
  /** The digest of the image, computed with the same algorithm. */
  computedDigest?: Uint8Array;
  signer?: Certificate;
  /** Signer first, then intermediates; the anchor last when one was reached. */
  chain: Certificate[];
  /** The trust anchor reached. */
  anchor?: Certificate;
  timestamps: TimestampInfo[];
}

/** The result for an image. */
export interface ImageVerification {
  /** The image would be allowed: not forbidden by dbx, and a signature is trusted or its hash is in db. */
  trusted: boolean;
  /** The overall reason when not trusted (the per-signature reasons are in `signatures`). */
  reason?: VerifyReason;
  signatures: SignatureVerification[];
  /** Certificate-table entries that could not be decoded. */
  undecodable: { index: number; code: string; message: string }[];
  /** Set when the image's digest is listed in db. */
  allowedByHash?: DigestAlgorithm;
  /** Set when dbx forbids the image. */
  forbidden?: DbxMatch;
}

/**
 * OpenSSL's own issuer check (X509_check_issued): names, the authority/subject key identifiers,
 * and — what this is for — a keyUsage extension on the issuer must include keyCertSign.
 */
function mayIssue(subject: Certificate, issuer: Certificate): boolean {
  try {
    return subject.x509.checkIssued(issuer.x509);
  } catch {
    return false;
  }
}

/**
 * Builds the chain from `leaf` to an anchor using `pool` for intermediates. An intermediate must
 * be a CA (basicConstraints cA TRUE, RFC 5280 §4.2.1.9 — as OpenSSL's chain check requires), allow
 * the intermediates below it (pathLenConstraint) and, with a keyUsage extension, keyCertSign: a
 * leaf certificate from the pool cannot sign another leaf into trust. Anchors are trusted as
 * listed, CA or not: a UEFI db entry may be the signing certificate itself.
 */
function buildChain(
  leaf: Certificate,
  pool: Certificate[],
  anchors: Certificate[],
  maxLength: number,
): { chain: Certificate[]; anchor?: Certificate; failures: VerifyReason[] } {
  const chain: Certificate[] = [leaf];
  let cur = leaf;
  for (let depth = 0; depth < maxLength; depth++) {
    const der = Buffer.from(cur.der);
    const same = anchors.find((a) => der.equals(a.der));
    if (same) return { chain, anchor: same, failures: [] };
    const anchor = anchors.find((a) => issuedBy(cur, a));
    if (anchor) {
      chain.push(anchor);
      return { chain, anchor, failures: [] };
    }
    // `chain.length - 1` intermediates would sit below the candidate: its pathLenConstraint must
    // allow them (RFC 5280 §4.2.1.9, self-issued certificates counted too: stricter, never looser).
    const below = chain.length - 1;
    const next = pool.find(
      (c) =>
        !chain.includes(c) &&
        c.isCA &&
        (c.pathLength === undefined || below <= c.pathLength) &&
        issuedBy(cur, c) &&
        mayIssue(cur, c),
    );
    if (!next) {
      const notCa = pool.find(
        (c) =>
          !chain.includes(c) &&
          issuedBy(cur, c) &&
          (!c.isCA || (c.pathLength !== undefined && below > c.pathLength) || !mayIssue(cur, c)),
      );
      if (notCa)
        return {
          chain,
          failures: [
            {
              code: 'ISSUER_NOT_CA',
              message: `${cur.subject} is signed by ${notCa.subject}, which may not issue it (basicConstraints cA, pathLenConstraint or keyUsage keyCertSign)`,
            },
          ],
        };
      const named = [...anchors, ...pool].some((c) => Buffer.from(cur.issuerRaw).equals(c.subjectRaw));
      return {
        chain,
        failures: [
          named
            ? {
                code: 'BAD_CERTIFICATE_SIGNATURE',
                message: `the certificate of ${cur.subject} does not verify with its issuer's key`,
              }
            : {
                code: 'UNTRUSTED_CHAIN',
                message: `no trust anchor issued ${cur.subject} (issuer ${cur.issuer})`,
              },
        ],
      };
    }
    chain.push(next);
    cur = next;
  }
  return {
    chain,
    failures: [{ code: 'CHAIN_TOO_LONG', message: `no anchor within ${maxLength} certificates` }],
  };
}

/**
 * Whether a timestamp's signer may move the time certificates are checked at: a "valid" timestamp
 * only means its imprint matches and its signature verifies with a certificate it carries, which
 * anyone can make — the signer of an expired certificate could countersign a time inside its
 * validity with its own key. So the time counts only when the time-stamping certificate carries
 * id-kp-timeStamping (RFC 3161 §2.3) and chains to the same anchors as the signature (through the
 * signature's certificates; a TSA chain that needs certificates only the token carries is not
 * followed, and the check then happens at the current time).
 */
function trustedTsa(
  signer: Certificate | undefined,
  pool: Certificate[],
  anchors: Certificate[],
  maxLength: number,
): boolean {
  if (!signer?.extKeyUsage?.includes(OID.ekuTimeStamping)) return false;
  const ch = buildChain(signer, pool, anchors, maxLength);
  return ch.anchor !== undefined && ch.failures.length === 0;
}

function checkEku(chain: Certificate[], anchor: Certificate | undefined): VerifyReason[] {
  for (const c of chain) {
    if (c === anchor || c.extKeyUsage === undefined) continue;
    if (!c.extKeyUsage.includes(OID.ekuCodeSigning) && !c.extKeyUsage.includes(OID.anyExtendedKeyUsage)) {
      return [
        {
          code: 'EKU_NOT_CODE_SIGNING',
          message: `${c.subject} has an extended key usage without code signing`,
        },
      ];
    }
  }
  return [];
}

function checkValidity(chain: Certificate[], at: Date): VerifyReason[] {
  const out: VerifyReason[] = [];
  for (const c of chain) {
    if (at < c.notBefore)
      out.push({
        code: 'CERTIFICATE_NOT_YET_VALID',
        message: `${c.subject} is valid from ${c.notBefore.toISOString()}`,
      });
    else if (at > c.notAfter)
      out.push({
        code: 'CERTIFICATE_EXPIRED',
        message: `${c.subject} expired on ${c.notAfter.toISOString()}`,
      });
  }
  return out;
}

/** Verifies one Authenticode signature against an image digest function and trust anchors. */
export function verifySignature(
  sig: AuthenticodeSignature,
  path: string,
  digestOf: (alg: DigestAlgorithm) => Uint8Array | undefined,
  anchors: Certificate[],
  options: VerifyOptions = {},
): SignatureVerification {
  const out: SignatureVerification = {
    path,
    trusted: false,
    failures: [],
    signedDigest: sig.spc.digest,
    chain: [],
    timestamps: sig.timestamps,
  };
  const alg = sig.spc.digestAlgorithm;
  if (sig.spc.dataType !== OID.spcPeImageData) {
    out.failures.push({
      code: 'NOT_AUTHENTICODE',
      message: `the signed data type ${sig.spc.dataType} is not a PE image`,
    });
  }
  if (!alg) {
    out.failures.push({
      code: 'UNSUPPORTED_ALGORITHM',
      message: `image digest algorithm ${sig.spc.digestAlgorithmOid} is not supported`,
    });
  } else {
    out.digestAlgorithm = alg;
    const computed = digestOf(alg);
    if (computed === undefined) {
      out.failures.push({
        code: 'IMAGE_MALFORMED',
        message: 'the image layout cannot be hashed (headers or sections point outside the file)',
      });
    } else {
      out.computedDigest = computed;
      if (!constantTimeEqual(computed, sig.spc.digest)) {
        out.failures.push({
          code: 'DIGEST_MISMATCH',
          message: 'the image digest differs from the signed digest',
        });
      }
    }
  }
  const sc = checkSigner(sig.signedData, sig.signerInfo, sig.spc.contentOctets);
  out.failures.push(...sc.failures);
  if (sc.certificate) {
    out.signer = sc.certificate;
    const pool = sig.signedData.certificates;
    const ch = buildChain(sc.certificate, pool, anchors, options.maxChainLength ?? 8);
    out.chain = ch.chain;
    if (ch.anchor) out.anchor = ch.anchor;
    out.failures.push(...ch.failures);
    if (options.requireCodeSigningEku ?? true) out.failures.push(...checkEku(ch.chain, ch.anchor));
    if (options.checkTime) {
      const maxLen = options.maxChainLength ?? 8;
      const ts = sig.timestamps.find((t) => t.valid && t.time && trustedTsa(t.signer, pool, anchors, maxLen));
      const at = options.checkTime instanceof Date ? options.checkTime : (ts?.time ?? new Date());
      out.failures.push(...checkValidity(ch.chain, at));
    }
  }
  out.trusted = out.failures.length === 0;
  return out;
}

/**
 * Verifies a PE image the way UEFI firmware decides (UEFI §32.5.3.3), reporting every signature:
 * 1. forbidden when dbx lists the image digest, or a certificate in any signature's chain or bag
 *    (by DER or by TBS hash);
 * 2. otherwise trusted when any signature verifies and chains to an anchor (`trust` or the db
 *    certificates), or when db lists the image digest.
 */
export function verifyImage(
  bytes: Uint8Array,
  options: VerifyOptions = {},
  parsed?: PeImage,
): ImageVerification {
  const pe = parsed ?? parsePe(bytes);
  const db = options.db ?? emptyDatabase();
  const dbx = options.dbx ?? emptyDatabase();
  const anchors = [...(options.trust ?? []), ...db.certificates];
  const cache = new Map<DigestAlgorithm, Uint8Array | undefined>();
  const digestOf = (alg: DigestAlgorithm): Uint8Array | undefined => {
    if (!cache.has(alg)) {
      try {
        cache.set(alg, authenticodeDigest(bytes, { algorithm: alg }));
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        cache.set(alg, undefined);
      }
    }
    return cache.get(alg);
  };
  const entries = imageSignatures(pe);
  const out: ImageVerification = {
    trusted: false,
    signatures: [],
    undecodable: entries
      .filter((e) => e.error)
      .map((e) => ({ index: e.entry.index, code: e.error!.code, message: e.error!.message })),
  };
  if (pe.certificateTable?.error) {
    out.undecodable.push({
      index: -1,
      code: pe.certificateTable.error.code,
      message: pe.certificateTable.error.message,
    });
  }
  for (const { path, signature } of flattenSignatures(entries)) {
    out.signatures.push(verifySignature(signature, path, digestOf, anchors, options));
  }
  // dbx first: a forbidden image is rejected whatever else holds.
  for (const alg of hashAlgorithms(dbx)) {
    const d = digestOf(alg);
    if (d && hashListed(dbx, alg, d)) {
      out.forbidden = { by: 'image-hash', detail: `${alg}:${Buffer.from(d).toString('hex')}` };
      break;
    }
  }
  if (!out.forbidden) {
    for (const { signature } of flattenSignatures(entries)) {
      const certs = [...signature.signedData.certificates];
      const v = out.signatures.find((s) => s.signer === signature.signer);
      for (const c of v?.chain ?? []) if (!certs.includes(c)) certs.push(c);
      for (const c of certs) {
        const m = certificateForbidden(dbx, c);
        if (m) {
          out.forbidden = m;
          break;
        }
      }
      if (out.forbidden) break;
    }
  }
  if (out.forbidden) {
    out.reason = {
      code: 'FORBIDDEN_BY_DBX',
      message: `forbidden by dbx (${out.forbidden.by}: ${out.forbidden.detail})`,
    };
    return out;
  }
  for (const alg of hashAlgorithms(db)) {
    const d = digestOf(alg);
    if (d && hashListed(db, alg, d)) {
      out.allowedByHash = alg;
      break;
    }
  }
  out.trusted = out.allowedByHash !== undefined || out.signatures.some((s) => s.trusted);
  if (!out.trusted) {
    out.reason =
      out.signatures.length === 0 && out.undecodable.length === 0
        ? { code: 'NOT_SIGNED', message: 'the image carries no signature and its digest is not in db' }
        : out.signatures.length === 0
          ? { code: 'SIGNATURE_MALFORMED', message: 'no signature of the image could be decoded' }
          : (out.signatures.find((s) => s.failures.length > 0)?.failures[0] ?? {
              code: 'NOT_IN_DB',
              message: 'no signature is trusted',
            });
  }
  return out;
}
