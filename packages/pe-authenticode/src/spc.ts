import { FormatError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import {
  type Asn1Value,
  childrenOf,
  contentOctets as storedContentOctets,
  decodeBer,
  isContext,
  isUniversal,
  octetsOf,
  oidOf,
  sequenceOf,
  toDer,
  utf16be,
} from './asn1.js';
import type { DigestAlgorithm } from './digest.js';
import { DIGEST_BY_OID, OID, OID_BY_DIGEST } from './oids.js';

/**
 * SpcIndirectDataContent and friends ("Windows Authenticode Portable Executable Signature
 * Format", "Authenticode-Specific Structures"):
 *
 * ```
 * SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue, messageDigest DigestInfo }
 * SpcAttributeTypeAndOptionalValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY OPTIONAL }
 * SpcPeImageData ::= SEQUENCE { flags SpcPeImageFlags DEFAULT {includeResources}, file [0] EXPLICIT SpcLink OPTIONAL }
 * SpcLink ::= CHOICE { url [0] IMPLICIT IA5String, moniker [1] IMPLICIT SpcSerializedObject, file [2] EXPLICIT SpcString }
 * ```
 *
 * Page hashes travel in the moniker: an SpcSerializedObject whose serializedData is a SET of
 * SpcAttributeTypeAndOptionalValue with type 1.3.6.1.4.1.311.2.3.1 (SHA-1) or …2.3.2 (SHA-256).
 * They are parsed and reported, never checked (firmware ignores them).
 */
export interface SpcIndirectData {
  /** The `data.type` OID; 1.3.6.1.4.1.311.2.1.15 (SPC_PE_IMAGE_DATA) for PE images. */
  dataType: string;
  /** The SpcPeImageData fields, when `dataType` is SPC_PE_IMAGE_DATA and parseable. */
  peImage?: {
    /** SpcPeImageFlags bits as stored (usually empty). */
    flags: Uint8Array;
    /** The SpcLink file string or URL, e.g. `<<<Obsolete>>>`. */
    file?: string;
    /** Page hashes carried in the moniker, if any. */
    pageHashes?: { algorithm: 'sha1' | 'sha256'; bytes: number };
  };
  /** DigestInfo.digestAlgorithm OID. */
  digestAlgorithmOid: string;
  /** The algorithm name when supported. */
  digestAlgorithm?: DigestAlgorithm;
  /** The Authenticode digest the signature vouches for. */
  digest: Uint8Array;
  /**
   * The content octets of the SpcIndirectDataContent SEQUENCE (no tag, no length): what the
   * messageDigest signed attribute hashes. Authenticode deviates from CMS here — the eContent is
   * an `[0] EXPLICIT` SEQUENCE, not an OCTET STRING, and only its contents are hashed.
   */
  contentOctets: Uint8Array;
}

/** The class id of an SpcSerializedObject carrying page hashes. */
const PAGE_HASH_CLASS_ID = 'a6b586d5b4a12466ae05a217da8e60d6';

/**
 * Parses SpcIndirectDataContent from the eContent element of an Authenticode SignedData. No
 * library models these Microsoft structures, so they are read from the asn1js tree here.
 */
export function parseSpcIndirectData(el: Asn1Value): SpcIndirectData {
  const structure = 'SpcIndirectDataContent';
  const f = sequenceOf(el, structure);
  const data = sequenceOf(f[0], structure);
  const dataType = oidOf(data[0], structure);
  const di = sequenceOf(f[1], structure);
  const digestAlgorithmOid = oidOf(sequenceOf(di[0], structure)[0], structure);
  const digest = octetsOf(di[1], structure);
  const out: SpcIndirectData = {
    dataType,
    digestAlgorithmOid,
    digest,
    contentOctets: storedContentOctets(el),
  };
  const alg = DIGEST_BY_OID[digestAlgorithmOid];
  if (alg) out.digestAlgorithm = alg;
  if (dataType === OID.spcPeImageData && isUniversal(data[1], 16)) {
    const pe = childrenOf(data[1], structure);
    let i = 0;
    let flags: Uint8Array = new Uint8Array(0);
    if (pe[i] instanceof asn1js.BitString) flags = (pe[i++] as asn1js.BitString).valueBlock.valueHexView;
    const peImage: NonNullable<SpcIndirectData['peImage']> = { flags };
    const link = isContext(pe[i], 0) ? childrenOf(pe[i], structure)[0] : undefined;
    const raw = (x: Asn1Value): Uint8Array =>
      (x.valueBlock as { valueHexView?: Uint8Array }).valueHexView ?? new Uint8Array(0);
    if (link !== undefined && isContext(link, 0)) {
      peImage.file = new TextDecoder().decode(raw(link));
    } else if (link !== undefined && isContext(link, 2)) {
      // SpcString ::= CHOICE { unicode [0] IMPLICIT BMPString, ascii [1] IMPLICIT IA5String }
      const s = childrenOf(link, structure)[0];
      if (s) peImage.file = isContext(s, 0) ? utf16be(raw(s)) : new TextDecoder().decode(raw(s));
    } else if (link !== undefined && isContext(link, 1)) {
      // SpcSerializedObject ::= SEQUENCE { classId OCTET STRING, serializedData OCTET STRING }
      const so = childrenOf(link, structure);
      const classId = so[0] ? Buffer.from(raw(so[0])).toString('hex') : '';
      if (classId === PAGE_HASH_CLASS_ID && so[1] instanceof asn1js.OctetString) {
        const set = decodeBer(octetsOf(so[1], structure), structure, true);
        for (const attr of childrenOf(set, structure)) {
          const a = sequenceOf(attr, structure);
          const t = oidOf(a[0], structure);
          const vals = a[1] ? childrenOf(a[1], structure) : [];
          const bytes = vals.reduce((n, v) => n + raw(v).length, 0);
          if (t === OID.spcPageHashV1) peImage.pageHashes = { algorithm: 'sha1', bytes };
          if (t === OID.spcPageHashV2) peImage.pageHashes = { algorithm: 'sha256', bytes };
        }
      }
    }
    out.peImage = peImage;
  }
  return out;
}

/**
 * SpcIndirectDataContent for a PE image digest as an asn1js tree, the way signtool, sbsign and
 * osslsigncode write it: empty flags and the `file` link holding the Unicode string `<<<Obsolete>>>`.
 */
export function spcIndirectDataTree(algorithm: DigestAlgorithm, digest: Uint8Array): asn1js.Sequence {
  const obsolete = new asn1js.Primitive({
    idBlock: { tagClass: 3, tagNumber: 0 },
    valueHex: bmp('<<<Obsolete>>>'),
  });
  const peImageData = new asn1js.Sequence({
    value: [
      new asn1js.BitString({ valueHex: new Uint8Array(0) }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 2 }, value: [obsolete] })],
      }),
    ],
  });
  return new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: OID.spcPeImageData }), peImageData],
      }),
      new asn1js.Sequence({
        value: [
          new asn1js.Sequence({
            value: [new asn1js.ObjectIdentifier({ value: OID_BY_DIGEST[algorithm] }), new asn1js.Null()],
          }),
          new asn1js.OctetString({ valueHex: digest }),
        ],
      }),
    ],
  });
}

/** BMPString (UTF-16BE) contents of `s`. */
function bmp(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) >> 8;
    out[2 * i + 1] = s.charCodeAt(i) & 0xff;
  }
  return out;
}

/** DER of {@link spcIndirectDataTree}. */
export function encodeSpcIndirectData(algorithm: DigestAlgorithm, digest: Uint8Array): Uint8Array {
  return toDer(spcIndirectDataTree(algorithm, digest));
}

/** The content octets (value without tag and length) of a DER SEQUENCE we encoded. */
export function contentOctets(encoded: Uint8Array): Uint8Array {
  const el = decodeBer(encoded, 'SpcIndirectDataContent');
  if (!isUniversal(el, 16)) throw new FormatError('DER_UNEXPECTED', 'not a SEQUENCE');
  return storedContentOctets(el);
}
