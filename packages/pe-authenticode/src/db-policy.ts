import { createHash } from 'node:crypto';
import { parseCertificate, type Certificate } from './x509.js';
import type { DigestAlgorithm } from './digest.js';
import type { SignatureList } from './signature-list.js';
import { FormatError } from '@lsvm/core';

/**
 * The Secure Boot databases as the image-verification decision reads them (UEFI specification
 * §32.5.3.3, "Authorization Process"): certificates and image hashes allowed (db) or forbidden
 * (dbx), and certificate TBS hashes forbidden (dbx EFI_CERT_X509_SHA*).
 */
export interface SignatureDatabase {
  certificates: Certificate[];
  /** Image digests by algorithm, lower-case hex. */
  hashes: Map<DigestAlgorithm, Set<string>>;
  /** TBSCertificate digests by algorithm (EFI_CERT_X509_SHA256/384/512), lower-case hex. */
  tbsHashes: Map<DigestAlgorithm, Set<string>>;
  /** Entries of other types (RSA2048, PKCS7…) that the decision does not use. */
  ignored: number;
}

/** Collects the entries of parsed signature lists into a {@link SignatureDatabase}. */
export function signatureDatabase(lists: SignatureList[]): SignatureDatabase {
  const db: SignatureDatabase = { certificates: [], hashes: new Map(), tbsHashes: new Map(), ignored: 0 };
  const add = (m: Map<DigestAlgorithm, Set<string>>, a: DigestAlgorithm, d: Uint8Array): void => {
    let s = m.get(a);
    if (!s) {
      s = new Set();
      m.set(a, s);
    }
    s.add(Buffer.from(d).toString('hex'));
  };
  for (const l of lists) {
    for (const sig of l.signatures) {
      switch (l.typeName) {
        case 'x509':
          try {
            db.certificates.push(parseCertificate(sig.data));
          } catch (e) {
            if (!(e instanceof FormatError)) throw e;
            db.ignored++;
          }
          break;
        case 'sha1':
        case 'sha256':
        case 'sha384':
        case 'sha512':
          add(db.hashes, l.typeName, sig.data);
          break;
        case 'x509Sha256':
          add(db.tbsHashes, 'sha256', sig.data.subarray(0, 32));
          break;
        case 'x509Sha384':
          add(db.tbsHashes, 'sha384', sig.data.subarray(0, 48));
          break;
        case 'x509Sha512':
          add(db.tbsHashes, 'sha512', sig.data.subarray(0, 64));
          break;
        default:
          db.ignored++;
      }
    }
  }
  return db;
}

/** An empty database. */
export function emptyDatabase(): SignatureDatabase {
  return { certificates: [], hashes: new Map(), tbsHashes: new Map(), ignored: 0 };
}

/** Why dbx forbids something. */
export interface DbxMatch {
  by: 'image-hash' | 'certificate' | 'tbs-hash';
  /** Hex digest, or the certificate subject. */
  detail: string;
}

/** Checks an image digest (computed with `alg`) against the hashes of a database. */
export function hashListed(db: SignatureDatabase, alg: DigestAlgorithm, digest: Uint8Array): boolean {
  return db.hashes.get(alg)?.has(Buffer.from(digest).toString('hex')) ?? false;
}

/** Checks a certificate against dbx: by whole DER, or by the hash of its TBSCertificate. */
export function certificateForbidden(dbx: SignatureDatabase, c: Certificate): DbxMatch | undefined {
  const der = Buffer.from(c.der);
  if (dbx.certificates.some((x) => der.equals(x.der))) return { by: 'certificate', detail: c.subject };
  for (const [alg, set] of dbx.tbsHashes) {
    const h = createHash(alg).update(c.tbs).digest('hex');
    if (set.has(h)) return { by: 'tbs-hash', detail: `${alg}:${h} (${c.subject})` };
  }
  return undefined;
}

/** The digest algorithms dbx/db list image hashes for (so the caller computes only those). */
export function hashAlgorithms(db: SignatureDatabase): DigestAlgorithm[] {
  return [...db.hashes.keys()];
}
