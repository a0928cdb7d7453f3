import { FormatError } from '@lsvm/core';
import * as asn1js from 'asn1js';

/**
 * The strict-DER gate in front of pkijs. asn1js (and so pkijs) decodes BER: it accepts
 * indefinite lengths, long-form lengths for short values, non-minimal INTEGERs and constructed
 * strings, only noting some of them as warnings. The formats hash certificates as bytes (the
 * guardian id and the VIQ signer thumbprint are SHA-256 of the DER) and sign them as bytes, so
 * one certificate must have exactly one encoding. {@link decodeDer} enforces the X.690 rules that
 * can be checked on any tree, whatever the schema:
 *
 * - identifier: tag numbers below 31 in the one-octet form, high tag numbers without a leading
 *   0x80 octet (§8.1.2);
 * - length: definite (§10.1), in the fewest octets — short form below 128, no leading zero
 *   octet (§10.1, §8.1.3.5);
 * - BOOLEAN one octet, 00 or FF (§11.1); NULL empty (§8.8.2);
 * - INTEGER and ENUMERATED: at least one octet, first nine bits not all equal (§8.3.2);
 * - OBJECT IDENTIFIER arcs without a leading 0x80 octet (§8.19.2);
 * - BIT STRING: primitive, unused-bit count 0..7 and 0 when there are no bits (§8.6.2), unused
 *   bits zero (§11.2.1);
 * - strings primitive (§10.2); only SEQUENCE and SET are constructed among universal tags;
 * - SET and SET OF: members in ascending order of their encodings (§11.6; for a SET of distinct
 *   tags this is the tag order of §10.3);
 * - UTCTime `YYMMDDHHMMSSZ` and GeneralizedTime `YYYYMMDDHHMMSS[.f]Z` without trailing zeros in
 *   the fraction (§11.7, §11.8).
 *
 * Two DER rules depend on the schema and are enforced where the structure is known
 * (certificate.ts): components equal to their DEFAULT are omitted (§11.5: an Extension's
 * `critical FALSE`, a certificate `version v1`), and named bit lists have no trailing zero bits
 * (§11.2.2: KeyUsage). All structure (X.509, PKCS#12) is left to pkijs. {@link decodeBer} keeps
 * only the bounds, for containers other tools write in BER.
 */

/** Deepest nesting accepted: X.509 certificates and PKCS#12 bags stay far below it. */
export const MAX_DER_DEPTH = 64;

const UNIVERSAL = 1;
const TAG_BOOLEAN = 1;
const TAG_INTEGER = 2;
const TAG_BIT_STRING = 3;
const TAG_NULL = 5;
const TAG_OID = 6;
const TAG_ENUMERATED = 10;
const TAG_UTC_TIME = 23;
const TAG_GENERALIZED_TIME = 24;
const TAG_SEQUENCE = 16;
const TAG_SET = 17;

interface Block {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean; blockLength: number };
  lenBlock: { isIndefiniteForm: boolean; warnings: string[]; blockLength: number };
  valueBlock: { blockLength: number; value?: unknown; valueHexView?: Uint8Array };
  valueBeforeDecodeView: Uint8Array;
}

function fail(structure: string, why: string): never {
  throw new FormatError('DER_NOT_CANONICAL', `not DER: ${why}`, { structure });
}

/** The contents octets of a primitive element, as stored (what follows identifier and length). */
function contents(b: Block): Uint8Array {
  return b.valueBeforeDecodeView.subarray(b.idBlock.blockLength + b.lenBlock.blockLength);
}

/**
 * X.690 §11.6 order: encodings compared as octet strings, the shorter padded at its end with zero
 * octets. Returns a negative number, zero or a positive number.
 */
export function compareDerOrder(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// X.690 §11.8 (UTCTime) and §11.7 (GeneralizedTime): seconds present, Z, no trailing fraction zeros.
const UTC_TIME_DER = /^\d{12}Z$/;
const GENERALIZED_TIME_DER = /^\d{14}(\.\d*[1-9])?Z$/;

function checkIdentifier(b: Block, structure: string): void {
  const tlv = b.valueBeforeDecodeView;
  if (((tlv[0] ?? 0) & 0x1f) !== 0x1f) return;
  // High-tag-number form (§8.1.2.4): only for tag numbers of 31 and above, minimal base-128.
  if (tlv[1] === 0x80 || b.idBlock.tagNumber < 31) fail(structure, 'non-minimal tag number');
}

function checkPrimitive(b: Block, structure: string): void {
  const tag = b.idBlock.tagNumber;
  const v = contents(b);
  switch (tag) {
    case TAG_BOOLEAN: // X.690 §11.1: TRUE is FF.
      if (v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff)) fail(structure, 'BOOLEAN is not 00 or FF');
      return;
    case TAG_INTEGER:
    case TAG_ENUMERATED: // X.690 §8.3.2 (and §8.4): the first nine bits are not all equal.
      if (v.length === 0) fail(structure, 'empty INTEGER');
      if (v.length > 1 && ((v[0] === 0 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80)))
        fail(structure, 'non-minimal INTEGER');
      return;
    case TAG_NULL:
      if (v.length !== 0) fail(structure, 'NULL with contents');
      return;
    case TAG_BIT_STRING: {
      // X.690 §8.6.2: initial octet 0..7, 0 for an empty string; §11.2.1: unused bits are zero.
      const unused = v[0];
      if (unused === undefined || unused > 7) fail(structure, 'BIT STRING unused-bit count out of range');
      if (v.length === 1 && unused !== 0) fail(structure, 'empty BIT STRING with unused bits');
      if (unused > 0 && (v[v.length - 1]! & ((1 << unused) - 1)) !== 0)
        fail(structure, 'BIT STRING unused bits are not zero');
      return;
    }
    case TAG_OID: // X.690 §8.19.2: no arc starts with an 0x80 padding octet (a lone 00 is arc 0).
      for (let i = 0; i < v.length; i++)
        if (v[i] === 0x80 && (i === 0 || v[i - 1]! < 0x80)) fail(structure, 'non-minimal OID arc');
      return;
    case TAG_UTC_TIME:
    case TAG_GENERALIZED_TIME: {
      const text = String.fromCharCode(...v.subarray(0, 64));
      if (!(tag === TAG_UTC_TIME ? UTC_TIME_DER : GENERALIZED_TIME_DER).test(text))
        fail(structure, `${tag === TAG_UTC_TIME ? 'UTCTime' : 'GeneralizedTime'} is not in DER form`);
      return;
    }
  }
}

function walk(b: Block, depth: number, structure: string, strict: boolean): void {
  if (depth > MAX_DER_DEPTH)
    throw new FormatError('DER_DEPTH', `ASN.1 nested deeper than ${MAX_DER_DEPTH} levels`, { structure });
  const { idBlock, lenBlock, valueBlock } = b;
  const children =
    idBlock.isConstructed && Array.isArray(valueBlock.value) ? (valueBlock.value as Block[]) : [];
  if (strict) {
    checkIdentifier(b, structure);
    if (lenBlock.isIndefiniteForm) fail(structure, 'indefinite length');
    // The length block's only warnings are the two non-minimal forms (X.690 §10.1); other asn1js
    // warnings are informational ("too big Integer for decoding, hex only") and not looked at.
    if (lenBlock.warnings.length > 0) fail(structure, 'non-minimal length');
    if (idBlock.tagClass === UNIVERSAL) {
      // X.690 §10.2: strings are primitive in DER; only SEQUENCE and SET are constructed.
      if (idBlock.isConstructed && idBlock.tagNumber !== TAG_SEQUENCE && idBlock.tagNumber !== TAG_SET)
        fail(structure, `constructed encoding of universal tag ${idBlock.tagNumber}`);
      if (!idBlock.isConstructed) checkPrimitive(b, structure);
      if (idBlock.tagNumber === TAG_SET)
        for (let i = 1; i < children.length; i++)
          if (compareDerOrder(children[i - 1]!.valueBeforeDecodeView, children[i]!.valueBeforeDecodeView) > 0)
            fail(structure, 'SET members are not in DER order');
    }
  }
  // Only descend into constructed encodings: asn1js also tries to decode the content of
  // primitive OCTET/BIT STRINGs as ASN.1, which is data, not structure.
  for (const child of children) walk(child, depth + 1, structure, strict);
}

/**
 * Decodes `bytes` as exactly one DER value (no trailing bytes, no BER-only forms) and returns the
 * asn1js tree for pkijs. Any failure is a {@link FormatError}.
 */
export function decodeDer(bytes: Uint8Array, structure: string): asn1js.AsnType {
  return decode(bytes, structure, true);
}

/**
 * Decodes `bytes` as exactly one BER value, nesting bounded by {@link MAX_DER_DEPTH}: for
 * containers that other tools legitimately write in BER (PKCS#12 from Windows and Java uses
 * indefinite lengths and constructed OCTET STRINGs).
 */
export function decodeBer(bytes: Uint8Array, structure: string): asn1js.AsnType {
  return decode(bytes, structure, false);
}

function decode(bytes: Uint8Array, structure: string, strict: boolean): asn1js.AsnType {
  let asn: ReturnType<typeof asn1js.fromBER>;
  try {
    asn = asn1js.fromBER(bytes);
  } catch (e) {
    // Deep nesting overflows asn1js's recursive decoder; that is malformed input here.
    throw new FormatError('DER_MALFORMED', 'ASN.1 does not decode', { structure, cause: e });
  }
  if (asn.offset === -1)
    throw new FormatError('DER_MALFORMED', `ASN.1 does not decode: ${asn.result.error}`, { structure });
  if (asn.offset !== bytes.length)
    throw new FormatError('DER_TRAILING', `${bytes.length - asn.offset} bytes after the DER value`, {
      structure,
      offset: asn.offset,
    });
  walk(asn.result as unknown as Block, 0, structure, strict);
  return asn.result;
}
