import { FormatError, LimitError } from '@lsvm/core';
import { WIN_CERT_TYPE_PKCS_SIGNED_DATA, type WinCertificate } from './certificate-table.js';
import { type Asn1Value, asnTime, childrenOf, decodeBer, isContext, isUniversal, utf16be } from './asn1.js';
import { DEFAULT_PE_LIMITS } from './limits.js';
import { OID } from './oids.js';
import type { PeImage } from './pe-image.js';
import {
  type SignedData,
  type SignerInfo,
  attribute,
  findSignerCertificate,
  signedDataFromTree,
} from './signed-data.js';
import { type SpcIndirectData, parseSpcIndirectData } from './spc.js';
import { type TimestampInfo, signatureTimestamps } from './timestamp.js';
import type { Certificate } from './x509.js';

/** One Authenticode signature: a PKCS#7 SignedData over SpcIndirectDataContent. */
export interface AuthenticodeSignature {
  signedData: SignedData;
  /** The SpcIndirectDataContent: the digest the signature vouches for. */
  spc: SpcIndirectData;
  /** The (first) SignerInfo; Authenticode has exactly one. */
  signerInfo: SignerInfo;
  /** The signer's certificate, when the bag holds it. */
  signer?: Certificate;
  /** SpcSpOpusInfo programName, when present. */
  programName?: string;
  /** PKCS#9 signingTime signed attribute, when present. */
  signingTime?: Date;
  /** RFC 3161 tokens and legacy countersignatures, each checked against the signature value. */
  timestamps: TimestampInfo[];
  /** Signatures nested in the unsigned attribute 1.3.6.1.4.1.311.2.4.1 (dual signing). */
  nested: AuthenticodeSignature[];
}

/**
 * Parses a WIN_CERT_TYPE_PKCS_SIGNED_DATA payload as an Authenticode signature, including nested
 * signatures up to `maxDepth` levels.
 */
export function parseAuthenticodeSignature(
  pkcs7: Uint8Array,
  maxDepth = DEFAULT_PE_LIMITS.maxNestingDepth,
): AuthenticodeSignature {
  return authenticodeFromTree(decodeBer(pkcs7, 'Authenticode signature'), maxDepth);
}

/** {@link parseAuthenticodeSignature} on a decoded element (nested signatures are decoded once, with their parent). */
function authenticodeFromTree(tree: Asn1Value, maxDepth: number): AuthenticodeSignature {
  const structure = 'Authenticode signature';
  const sd = signedDataFromTree(tree, structure);
  if (sd.contentType !== OID.spcIndirectData || !sd.content) {
    throw new FormatError(
      'AUTHENTICODE_NOT_SPC',
      `SignedData content is ${sd.contentType}, not SpcIndirectDataContent`,
      {
        structure,
      },
    );
  }
  const si = sd.signerInfos[0];
  if (!si) throw new FormatError('AUTHENTICODE_NO_SIGNER', 'SignedData has no SignerInfo', { structure });
  const spc = parseSpcIndirectData(sd.content);
  const out: AuthenticodeSignature = { signedData: sd, spc, signerInfo: si, timestamps: [], nested: [] };
  const cert = findSignerCertificate(si, sd.certificates);
  if (cert) out.signer = cert;
  // SpcSpOpusInfo ::= SEQUENCE { programName [0] EXPLICIT SpcString OPTIONAL, moreInfo [1] EXPLICIT SpcLink OPTIONAL }
  const opus = attribute(si.signedAttrs, OID.spcSpOpusInfo);
  if (isUniversal(opus, 16)) {
    const pn = childrenOf(opus, structure).find((e) => isContext(e, 0));
    const s = pn?.idBlock.isConstructed ? childrenOf(pn, structure)[0] : undefined;
    if (s) {
      const v = (s.valueBlock as { valueHexView?: Uint8Array }).valueHexView ?? new Uint8Array(0);
      out.programName = s.idBlock.tagNumber === 0 ? utf16be(v) : new TextDecoder().decode(v);
    }
  }
  const st = attribute(si.signedAttrs, OID.signingTime);
  if (st) out.signingTime = asnTime(st, structure);
  out.timestamps = signatureTimestamps(sd, si);
  for (const a of si.unsignedAttrs) {
    if (a.type !== OID.spcNestedSignature) continue;
    for (const v of a.values) {
      if (maxDepth <= 0)
        throw new LimitError('AUTHENTICODE_NESTING', 'nested signatures exceed the depth limit', {
          structure,
        });
      out.nested.push(authenticodeFromTree(v, maxDepth - 1));
    }
  }
  return out;
}

/** A certificate-table entry with its decoded signature, or why it could not be decoded. */
export interface ImageSignatureEntry {
  entry: WinCertificate;
  signature?: AuthenticodeSignature;
  error?: { code: string; message: string };
}

/** Decodes every WIN_CERTIFICATE of a parsed image. Undecodable entries carry `error`. */
export function imageSignatures(pe: PeImage): ImageSignatureEntry[] {
  const out: ImageSignatureEntry[] = [];
  for (const entry of pe.certificateTable?.entries ?? []) {
    if (entry.certificateType !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      out.push({
        entry,
        error: {
          code: 'WIN_CERT_TYPE',
          message: `certificate type 0x${entry.certificateType.toString(16)} is not PKCS#7`,
        },
      });
      continue;
    }
    try {
      out.push({ entry, signature: parseAuthenticodeSignature(entry.certificate) });
    } catch (e) {
      if (!(e instanceof FormatError || e instanceof LimitError)) throw e;
      out.push({ entry, error: { code: e.code, message: e.message } });
    }
  }
  return out;
}

/** All signatures of an entry list, nested ones included, depth-first, with their path (`0`, `0.1`…). */
export function flattenSignatures(
  entries: ImageSignatureEntry[],
): { path: string; signature: AuthenticodeSignature }[] {
  const out: { path: string; signature: AuthenticodeSignature }[] = [];
  const walk = (s: AuthenticodeSignature, path: string): void => {
    out.push({ path, signature: s });
    s.nested.forEach((n, i) => {
      walk(n, `${path}.${i}`);
    });
  };
  for (const e of entries) if (e.signature) walk(e.signature, String(e.entry.index));
  return out;
}
