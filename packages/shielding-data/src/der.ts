import { FormatError } from '@lsvm/core';
import * as asn1js from 'asn1js';

/**
 * The strict-DER gate in front of pkijs. asn1js (and so pkijs) decodes BER: it accepts
 * indefinite lengths, long-form lengths for short values, non-minimal INTEGERs and constructed
 * strings, only noting some of them as warnings. The formats hash certificates as bytes (the
 * guardian id and the VIQ signer thumbprint are SHA-256 of the DER), so one certificate must have
 * exactly one encoding: this walk rejects every BER-only form X.690 §10 forbids that asn1js
 * reports or that is visible in its tree. That check is what the libraries do not offer; all
 * structure (X.509, PKCS#12) is left to pkijs.
 */

/** Deepest nesting accepted: X.509 certificates and PKCS#12 bags stay far below it. */
export const MAX_DER_DEPTH = 64;

const UNIVERSAL = 1;
const TAG_BOOLEAN = 1;
const TAG_INTEGER = 2;
const TAG_OID = 6;
const TAG_SEQUENCE = 16;
const TAG_SET = 17;

interface Block {
  idBlock: { tagClass: number; tagNumber: number; isConstructed: boolean };
  lenBlock: { isIndefiniteForm: boolean; warnings: string[] };
  valueBlock: { blockLength: number; value?: unknown; valueHexView?: Uint8Array };
  valueBeforeDecodeView: Uint8Array;
}

function fail(structure: string, why: string): never {
  throw new FormatError('DER_NOT_CANONICAL', `not DER: ${why}`, { structure });
}

function walk(b: Block, depth: number, structure: string, strict: boolean): void {
  if (depth > MAX_DER_DEPTH)
    throw new FormatError('DER_DEPTH', `ASN.1 nested deeper than ${MAX_DER_DEPTH} levels`, { structure });
  const { idBlock, lenBlock, valueBlock } = b;
  if (!strict) {
    if (idBlock.isConstructed && Array.isArray(valueBlock.value))
      for (const child of valueBlock.value as Block[]) walk(child, depth + 1, structure, strict);
    return;
  }
  if (lenBlock.isIndefiniteForm) fail(structure, 'indefinite length');
  // The length block's only warnings are the two non-minimal forms (X.690 §10.1); other asn1js
  // warnings are informational ("too big Integer for decoding, hex only") and not looked at.
  if (lenBlock.warnings.length > 0) fail(structure, 'non-minimal length');
  if (idBlock.tagClass === UNIVERSAL) {
    // X.690 §10.2: strings are primitive in DER; only SEQUENCE and SET are constructed.
    if (idBlock.isConstructed && idBlock.tagNumber !== TAG_SEQUENCE && idBlock.tagNumber !== TAG_SET)
      fail(structure, `constructed encoding of universal tag ${idBlock.tagNumber}`);
    // X.690 §11.1: TRUE is FF.
    if (idBlock.tagNumber === TAG_BOOLEAN) {
      const v = valueBlock.valueHexView;
      if (v === undefined || v.length !== 1 || (v[0] !== 0 && v[0] !== 0xff))
        fail(structure, 'BOOLEAN is not 00 or FF');
    }
    // X.690 §8.3.2: an INTEGER's first nine bits are not all equal.
    if (idBlock.tagNumber === TAG_INTEGER) {
      const v = valueBlock.valueHexView;
      if (v === undefined || v.length === 0) fail(structure, 'empty INTEGER');
      if (v.length > 1 && ((v[0] === 0 && v[1]! < 0x80) || (v[0] === 0xff && v[1]! >= 0x80)))
        fail(structure, 'non-minimal INTEGER');
    }
    // X.690 §8.19.2: no arc starts with an 0x80 padding octet (a lone 00 is arc 0, which is fine).
    if (idBlock.tagNumber === TAG_OID) {
      const tlv = b.valueBeforeDecodeView;
      const content = tlv.subarray(tlv.length - valueBlock.blockLength);
      for (let i = 0; i < content.length; i++)
        if (content[i] === 0x80 && (i === 0 || content[i - 1]! < 0x80))
          fail(structure, 'non-minimal OID arc');
    }
  }
  // Only descend into constructed encodings: asn1js also tries to decode the content of
  // primitive OCTET/BIT STRINGs as ASN.1, which is data, not structure.
  if (idBlock.isConstructed && Array.isArray(valueBlock.value))
    for (const child of valueBlock.value as Block[]) walk(child, depth + 1, structure, strict);
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
