import { ByteReader, FormatError, encodeUtf16le, guidFromBytes, guidToBytes } from '@lsvm/core';
import { WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_EFI_GUID } from './certificate-table.js';
import * as pkijs from 'pkijs';
import { concat, decodeBer, fromLibrary, storedBytes } from './asn1.js';
import { OID } from './oids.js';
import { type SignedData, parseSignedData } from './signed-data.js';
import { type SignatureList, parseSignatureLists } from './signature-list.js';
import { type CmsSignerOptions, buildSignedData } from './sign.js';
import { type VerifyReason, checkSigner } from './signer-check.js';
import { type Certificate, issuedBy } from './x509.js';
import { DEFAULT_PE_LIMITS } from './limits.js';

/** EFI_TIME (UEFI §8.3): the timestamp of a time-based authenticated variable write. */
export interface EfiTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanosecond: number;
  /** Minutes from UTC, or 2047 (EFI_UNSPECIFIED_TIMEZONE). */
  timeZone: number;
  daylight: number;
}

/** EFI_CERT_TYPE_PKCS7_GUID: WIN_CERTIFICATE_UEFI_GUID.CertType for authenticated variables. */
export const EFI_CERT_TYPE_PKCS7_GUID = '4aafd29d-68df-49ee-8aa9-347d375665a7';
/** EFI_GLOBAL_VARIABLE: vendor GUID of PK and KEK. */
export const EFI_GLOBAL_VARIABLE_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
/** EFI_IMAGE_SECURITY_DATABASE_GUID: vendor GUID of db, dbx, dbt, dbr. */
export const EFI_IMAGE_SECURITY_DATABASE_GUID = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f';

/** Variable attribute bits (UEFI §8.2). */
export const EFI_VARIABLE = {
  NON_VOLATILE: 0x1,
  BOOTSERVICE_ACCESS: 0x2,
  RUNTIME_ACCESS: 0x4,
  TIME_BASED_AUTHENTICATED_WRITE_ACCESS: 0x20,
  APPEND_WRITE: 0x40,
} as const;

/** The attributes db/dbx/KEK/PK updates carry: NV | BS | RT | TIME_BASED_AUTH (0x27). */
export const SECURE_BOOT_VARIABLE_ATTRIBUTES = 0x27;

/** A parsed EFI_VARIABLE_AUTHENTICATION_2 followed by the variable data. */
export interface AuthVariable {
  timestamp: EfiTime;
  /** WIN_CERTIFICATE_UEFI_GUID.CertType (EFI_CERT_TYPE_PKCS7_GUID). */
  certType: string;
  /** The CertData: a DER SignedData (or ContentInfo, which firmware also accepts). */
  pkcs7: Uint8Array;
  signedData: SignedData;
  /** The variable data after the authentication header (an ESL buffer for db/dbx/KEK/PK). */
  data: Uint8Array;
  /** `data` parsed as signature lists, or undefined if it is not an ESL buffer. */
  lists?: SignatureList[];
}

/** Encodes EFI_TIME. */
export function encodeEfiTime(t: EfiTime): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint16(0, t.year, true);
  out[2] = t.month;
  out[3] = t.day;
  out[4] = t.hour;
  out[5] = t.minute;
  out[6] = t.second;
  v.setUint32(8, t.nanosecond, true);
  v.setInt16(12, t.timeZone, true);
  out[14] = t.daylight;
  return out;
}

/** An EFI_TIME for a JS Date (UTC, zone 0, no nanoseconds — what authenticated variables require). */
export function efiTimeFromDate(d: Date): EfiTime {
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    nanosecond: 0,
    timeZone: 0,
    daylight: 0,
  };
}

/** Reads a 16-byte EFI_TIME at the cursor. */
function parseEfiTime(r: ByteReader): EfiTime {
  const year = r.u16();
  const month = r.u8();
  const day = r.u8();
  const hour = r.u8();
  const minute = r.u8();
  const second = r.u8();
  r.u8(); // Pad1
  const nanosecond = r.u32();
  const tz = r.u16();
  const daylight = r.u8();
  r.u8(); // Pad2
  return { year, month, day, hour, minute, second, nanosecond, timeZone: (tz << 16) >> 16, daylight };
}

/** Parses EFI_VARIABLE_AUTHENTICATION_2 + data (UEFI §8.2.2, "Using the EFI_VARIABLE_AUTHENTICATION_2 descriptor"). */
export function parseAuthVariable(
  bytes: Uint8Array,
  maxEntries = DEFAULT_PE_LIMITS.maxSignatureEntries,
): AuthVariable {
  const structure = 'EFI_VARIABLE_AUTHENTICATION_2';
  const r = new ByteReader(bytes, { structure });
  const timestamp = parseEfiTime(r);
  const hdrAt = r.pos;
  const length = r.u32();
  const revision = r.u16();
  const certificateType = r.u16();
  if (revision !== WIN_CERT_REVISION_2_0 || certificateType !== WIN_CERT_TYPE_EFI_GUID) {
    throw new FormatError(
      'AUTH2_BAD_WIN_CERTIFICATE',
      `expected WIN_CERTIFICATE_UEFI_GUID (revision 0x0200, type 0x0EF1), found revision 0x${revision.toString(16)} type 0x${certificateType.toString(16)}`,
      { structure, offset: hdrAt },
    );
  }
  if (length < 24 || hdrAt + length > bytes.length) {
    throw new FormatError('AUTH2_BAD_LENGTH', `dwLength ${length} does not fit the buffer`, {
      structure,
      offset: hdrAt,
    });
  }
  const certType = guidFromBytes(bytes, r.pos);
  r.skip(16);
  const pkcs7 = r.bytesView(length - 24, 'CertData');
  const data = bytes.subarray(hdrAt + length);
  const out: AuthVariable = {
    timestamp,
    certType,
    pkcs7,
    signedData: parseSignedData(pkcs7, structure),
    data,
  };
  try {
    out.lists = parseSignatureLists(data, maxEntries);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
  return out;
}

/** What an authenticated variable write signs: VariableName ‖ VendorGuid ‖ Attributes ‖ TimeStamp ‖ Data. */
export function authVariableSignedPayload(
  name: string,
  vendorGuid: string,
  attributes: number,
  timestamp: EfiTime,
  data: Uint8Array,
): Uint8Array {
  const attr = new Uint8Array(4);
  new DataView(attr.buffer).setUint32(0, attributes >>> 0, true);
  return concat(encodeUtf16le(name), guidToBytes(vendorGuid), attr, encodeEfiTime(timestamp), data);
}

/** Result of {@link verifyAuthVariable}. */
export interface AuthVariableVerification {
  trusted: boolean;
  failures: VerifyReason[];
  signer?: Certificate;
  /** The anchor the signer chains to. */
  anchor?: Certificate;
}

/**
 * Verifies an authenticated variable as firmware does for a db/dbx/KEK update: the PKCS#7
 * signature over {@link authVariableSignedPayload}, by a signer that is (or is issued by) one of
 * `trust` (the KEK or PK certificates).
 */
export function verifyAuthVariable(
  v: AuthVariable,
  target: { name: string; vendorGuid: string; attributes?: number },
  trust: Certificate[],
): AuthVariableVerification {
  const payload = authVariableSignedPayload(
    target.name,
    target.vendorGuid,
    target.attributes ?? SECURE_BOOT_VARIABLE_ATTRIBUTES,
    v.timestamp,
    v.data,
  );
  const si = v.signedData.signerInfos[0];
  if (!si)
    return {
      trusted: false,
      failures: [{ code: 'SIGNER_NOT_FOUND', message: 'the SignedData has no signer' }],
    };
  const c = checkSigner(v.signedData, si, payload);
  const out: AuthVariableVerification = { trusted: false, failures: [...c.failures] };
  if (c.certificate) {
    out.signer = c.certificate;
    const der = Buffer.from(c.certificate.der);
    const anchor =
      trust.find((t) => der.equals(t.der)) ??
      trust.find((t) => issuedBy(c.certificate!, t)) ??
      // One intermediate from the bag, as firmware's PKCS#7 verification allows.
      trust.find((t) =>
        v.signedData.certificates.some(
          (m) => m !== c.certificate && issuedBy(c.certificate!, m) && issuedBy(m, t),
        ),
      );
    if (anchor) out.anchor = anchor;
    else
      out.failures.push({
        code: 'UNTRUSTED_CHAIN',
        message: `${c.certificate.subject} does not chain to a given certificate`,
      });
  }
  out.trusted = out.failures.length === 0;
  return out;
}

/** Options of {@link buildAuthVariable}. */
export interface BuildAuthVariableOptions {
  name: string;
  vendorGuid: string;
  /** Default 0x27 (NV|BS|RT|TIME_BASED_AUTH); add 0x40 for an append. */
  attributes?: number;
  /** Default: now. */
  timestamp?: EfiTime;
  /** The variable data (ESL buffer). */
  data: Uint8Array;
  signer: CmsSignerOptions;
}

/**
 * Builds and signs EFI_VARIABLE_AUTHENTICATION_2 + data, as efitools' sign-efi-sig-list does: a
 * detached PKCS#7 without signed attributes over the payload, stored as a bare SignedData.
 */
export function buildAuthVariable(o: BuildAuthVariableOptions): Uint8Array {
  const timestamp = o.timestamp ?? efiTimeFromDate(new Date());
  const attributes = o.attributes ?? SECURE_BOOT_VARIABLE_ATTRIBUTES;
  const payload = authVariableSignedPayload(o.name, o.vendorGuid, attributes, timestamp, o.data);
  const contentInfo = buildSignedData(o.signer, OID.data, undefined, payload, null);
  const ci = fromLibrary(
    'ContentInfo',
    'PKCS7_MALFORMED',
    () => new pkijs.ContentInfo({ schema: decodeBer(contentInfo, 'ContentInfo') }),
  );
  const signedData = storedBytes(ci.content);
  const hdr = new Uint8Array(24);
  const v = new DataView(hdr.buffer);
  v.setUint32(0, 24 + signedData.length, true);
  v.setUint16(4, WIN_CERT_REVISION_2_0, true);
  v.setUint16(6, WIN_CERT_TYPE_EFI_GUID, true);
  guidToBytes(EFI_CERT_TYPE_PKCS7_GUID, hdr, 8);
  return concat(encodeEfiTime(timestamp), hdr, signedData, o.data);
}
