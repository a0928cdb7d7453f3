import { FormatError, constantTimeEqual, isLsvmError } from '@lsvm/core';
import * as asn1js from 'asn1js';
import {
  type Asn1Value,
  asnTime,
  decodeBer,
  expectType,
  octetsOf,
  oidOf,
  sequenceOf,
  smallInteger,
} from './asn1.js';
import { DIGEST_BY_OID, OID } from './oids.js';
import {
  type SignedData,
  type SignerInfo,
  attribute,
  signedDataFromTree,
  parseSignerInfo,
} from './signed-data.js';
import { type VerifyReason, checkSigner, hashBytes } from './signer-check.js';
import type { Certificate } from './x509.js';

/**
 * A timestamp on an Authenticode signature: either an RFC 3161 token (unsigned attribute
 * 1.3.6.1.4.1.311.3.3.1, a SignedData over a TSTInfo) or a legacy PKCS#9 countersignature
 * (1.2.840.113549.1.9.6, a SignerInfo). Both vouch for the outer signer's signature value: the
 * imprint / messageDigest must equal the hash of its encryptedDigest octets. The TSA's chain is
 * reported, not checked against trust anchors (UEFI has no notion of time-stamping trust).
 */
export interface TimestampInfo {
  kind: 'rfc3161' | 'countersignature';
  /** genTime (RFC 3161) or the signingTime attribute (countersignature). */
  time?: Date;
  /** The time-stamping signer's certificate, when found. */
  signer?: Certificate;
  /** True when the imprint matches and the TSA signature verifies. */
  valid: boolean;
  failures: VerifyReason[];
}

/** Reads and checks every timestamp attached to `si` (an Authenticode SignerInfo). */
export function signatureTimestamps(sd: SignedData, si: SignerInfo): TimestampInfo[] {
  const out: TimestampInfo[] = [];
  for (const a of si.unsignedAttrs) {
    for (const v of a.values) {
      if (a.type === OID.spcRfc3161Timestamp) out.push(rfc3161(v, si));
      else if (a.type === OID.counterSignature) out.push(counterSignature(v, sd, si));
    }
  }
  return out;
}

/** The TSTInfo fields a timestamp check reads. */
interface TstFields {
  hashAlgorithm: string;
  hashedMessage: Uint8Array;
  genTime: Date;
}

/**
 * TSTInfo ::= SEQUENCE { version INTEGER { v1(1) }, policy OID, messageImprint MessageImprint,
 * serialNumber INTEGER, genTime GeneralizedTime, accuracy, ordering, nonce, tsa, extensions }
 * (RFC 3161 §2.4.2), MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
 * hashedMessage OCTET STRING }. Read from the asn1js tree: only the imprint and genTime are used,
 * and mapping the whole TSTInfo onto pkijs objects (accuracy, tsa GeneralName, extensions) cost
 * as much as decoding the token. genTime gets the strict calendar check.
 */
function tstInfo(tree: Asn1Value): TstFields {
  const structure = 'TSTInfo';
  const f = sequenceOf(tree, structure);
  if (smallInteger(f[0], structure) !== 1)
    throw new FormatError('TST_VERSION', 'TSTInfo version is not 1', { structure });
  oidOf(f[1], structure);
  const mi = sequenceOf(f[2], structure, 2);
  expectType(f[3], asn1js.Integer, structure);
  expectType(f[4], asn1js.GeneralizedTime, structure);
  checkTstTail(f.slice(5), structure);
  return {
    hashAlgorithm: oidOf(sequenceOf(mi[0], structure)[0], structure),
    hashedMessage: octetsOf(mi[1], structure),
    genTime: asnTime(f[4], structure),
  };
}

/**
 * The optional tail of a TSTInfo, in order, each at most once, nothing after: accuracy SEQUENCE,
 * ordering BOOLEAN, nonce INTEGER, tsa [0] and extensions [1] (both constructed). Not read, but a
 * token whose tail is something else is not a TSTInfo.
 */
function checkTstTail(tail: Asn1Value[], structure: string): void {
  const slots: ((el: Asn1Value) => boolean)[] = [
    (el) => el instanceof asn1js.Sequence,
    (el) => el instanceof asn1js.Boolean,
    (el) => el instanceof asn1js.Integer,
    (el) => el.idBlock.tagClass === 3 && el.idBlock.tagNumber === 0 && el.idBlock.isConstructed,
    (el) => el.idBlock.tagClass === 3 && el.idBlock.tagNumber === 1 && el.idBlock.isConstructed,
  ];
  let next = 0;
  for (const el of tail) {
    while (next < slots.length && !slots[next]!(el)) next++;
    if (next === slots.length)
      throw new FormatError(
        'TST_MALFORMED',
        'TSTInfo has elements after genTime that are not its optional fields',
        {
          structure,
        },
      );
    next++;
  }
}

function rfc3161(token: Asn1Value, outer: SignerInfo): TimestampInfo {
  const t: TimestampInfo = { kind: 'rfc3161', valid: false, failures: [] };
  try {
    const tsd = signedDataFromTree(token, 'RFC 3161 token');
    if (tsd.contentType !== OID.tstInfo || !(tsd.content instanceof asn1js.OctetString)) {
      throw new FormatError('TST_NOT_TSTINFO', 'token does not encapsulate a TSTInfo', {
        structure: 'RFC 3161 token',
      });
    }
    const tstBytes = octetsOf(tsd.content, 'RFC 3161 token');
    const tst = tstInfo(decodeBer(tstBytes, 'TSTInfo'));
    const alg = DIGEST_BY_OID[tst.hashAlgorithm];
    const imprint = tst.hashedMessage;
    t.time = tst.genTime;
    if (!alg || !constantTimeEqual(imprint, hashBytes(alg, outer.signature))) {
      t.failures.push({
        code: 'TIMESTAMP_IMPRINT_MISMATCH',
        message: 'the timestamp imprint does not match the signature',
      });
    }
    const si = tsd.signerInfos[0];
    if (!si)
      throw new FormatError('TST_NO_SIGNER', 'timestamp token has no signer', {
        structure: 'RFC 3161 token',
      });
    const c = checkSigner(tsd, si, tstBytes);
    if (c.certificate) t.signer = c.certificate;
    t.failures.push(...c.failures);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    t.failures.push({ code: 'TIMESTAMP_INVALID', message: e.message });
  }
  t.valid = t.failures.length === 0;
  return t;
}

function counterSignature(el: Asn1Value, sd: SignedData, outer: SignerInfo): TimestampInfo {
  const t: TimestampInfo = { kind: 'countersignature', valid: false, failures: [] };
  try {
    const si = parseSignerInfo(el, 'countersignature');
    const st = attribute(si.signedAttrs, OID.signingTime);
    if (st) t.time = asnTime(st, 'countersignature');
    // The countersignature's messageDigest covers the outer signature value (RFC 5652 §11.4);
    // checkSigner compares it with the hash of `content`.
    const c = checkSigner({ ...sd, contentType: OID.data }, si, outer.signature);
    if (c.certificate) t.signer = c.certificate;
    for (const f of c.failures) {
      if (f.code === 'MESSAGE_DIGEST_MISMATCH')
        t.failures.push({
          code: 'TIMESTAMP_IMPRINT_MISMATCH',
          message: 'the countersignature digest does not match the signature',
        });
      else if (f.code !== 'CONTENT_TYPE_MISMATCH') t.failures.push(f);
    }
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    t.failures.push({ code: 'TIMESTAMP_INVALID', message: e.message });
  }
  t.valid = t.failures.length === 0;
  return t;
}
