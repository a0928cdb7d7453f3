import { FormatError } from '@lsvm/core';
import {
  type DerElement,
  Tag,
  TagClass,
  children,
  decodeOid,
  decodeString,
  derBitString,
  derExplicit,
  derNull,
  derOctetString,
  derOid,
  derSequence,
  expectTag,
  parseDer,
  sequence,
  tlv,
} from './der.js';
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

/** Parses SpcIndirectDataContent from the eContent element of an Authenticode SignedData. */
export function parseSpcIndirectData(el: DerElement): SpcIndirectData {
  const structure = 'SpcIndirectDataContent';
  const f = sequence(el, structure);
  const data = sequence(f[0], structure);
  const dataType = decodeOid(data[0], structure);
  const di = sequence(f[1], structure);
  const digestAlgorithmOid = decodeOid(sequence(di[0], structure)[0], structure);
  const digest = expectTag(di[1], Tag.octetString, structure).value;
  const out: SpcIndirectData = { dataType, digestAlgorithmOid, digest, contentOctets: el.value };
  const alg = DIGEST_BY_OID[digestAlgorithmOid];
  if (alg) out.digestAlgorithm = alg;
  if (dataType === OID.spcPeImageData && data[1]?.tag === Tag.sequence) {
    const pe = children(data[1], structure);
    let i = 0;
    let flags: Uint8Array = new Uint8Array(0);
    if (pe[i]?.tag === Tag.bitString && pe[i]?.cls === TagClass.universal) flags = pe[i++]!.value.subarray(1);
    const peImage: NonNullable<SpcIndirectData['peImage']> = { flags };
    const link =
      pe[i]?.cls === TagClass.context && pe[i]?.tag === 0 ? children(pe[i]!, structure)[0] : undefined;
    if (link?.cls === TagClass.context) {
      if (link.tag === 0) peImage.file = new TextDecoder().decode(link.value);
      else if (link.tag === 2) {
        const s = children(link, structure)[0];
        if (s)
          peImage.file =
            s.tag === 0 ? decodeString({ ...s, tag: Tag.bmpString }) : new TextDecoder().decode(s.value);
      } else if (link.tag === 1) {
        const so = children(link, structure);
        const classId = so[0] ? Buffer.from(so[0].value).toString('hex') : '';
        if (classId === PAGE_HASH_CLASS_ID && so[1]?.tag === Tag.octetString) {
          const set = parseDer(so[1].value, structure, true);
          for (const attr of children(set, structure)) {
            const a = sequence(attr, structure);
            const t = decodeOid(a[0], structure);
            const vals = a[1] ? children(a[1], structure) : [];
            const bytes = vals.reduce((n, v) => n + v.value.length, 0);
            if (t === OID.spcPageHashV1) peImage.pageHashes = { algorithm: 'sha1', bytes };
            if (t === OID.spcPageHashV2) peImage.pageHashes = { algorithm: 'sha256', bytes };
          }
        }
      }
    }
    out.peImage = peImage;
  }
  return out;
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

/**
 * Encodes SpcIndirectDataContent for a PE image digest the way signtool, sbsign and osslsigncode
 * do: empty flags and the `file` link holding the Unicode string `<<<Obsolete>>>`.
 */
export function encodeSpcIndirectData(algorithm: DigestAlgorithm, digest: Uint8Array): Uint8Array {
  const peImageData = derSequence(
    derBitString(new Uint8Array(0)),
    derExplicit(0, derExplicit(2, tlv(0x80, bmp('<<<Obsolete>>>')))),
  );
  return derSequence(
    derSequence(derOid(OID.spcPeImageData), peImageData),
    derSequence(derSequence(derOid(OID_BY_DIGEST[algorithm]), derNull()), derOctetString(digest)),
  );
}

/** The content octets (value without tag and length) of a DER SEQUENCE we encoded. */
export function contentOctets(encoded: Uint8Array): Uint8Array {
  const el = parseDer(encoded, 'SpcIndirectDataContent');
  if (el.tag !== Tag.sequence) throw new FormatError('DER_UNEXPECTED', 'not a SEQUENCE');
  return el.value;
}
