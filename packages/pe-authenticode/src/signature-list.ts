import { ByteReader, FormatError, LimitError, UsageError, guidFromBytes, guidToBytes } from '@lsvm/core';
import { DEFAULT_PE_LIMITS } from './limits.js';

/**
 * EFI_SIGNATURE_LIST and EFI_SIGNATURE_DATA (UEFI specification §32.4.1, "Signature Database"):
 *
 * ```
 * EFI_SIGNATURE_LIST { EFI_GUID SignatureType; UINT32 SignatureListSize; UINT32 SignatureHeaderSize;
 *                      UINT32 SignatureSize; UINT8 SignatureHeader[SignatureHeaderSize];
 *                      EFI_SIGNATURE_DATA Signatures[…]; }
 * EFI_SIGNATURE_DATA { EFI_GUID SignatureOwner; UINT8 SignatureData[SignatureSize − 16]; }
 * ```
 * A db, dbx, KEK or PK variable is a concatenation of such lists.
 */

/** Signature type GUIDs (UEFI §32.4.1) with the data size each fixes (undefined: variable). */
export const EFI_CERT_TYPES = {
  sha256: { guid: 'c1c41626-504c-4092-aca9-41f936934328', dataSize: 32 },
  rsa2048: { guid: '3c5766e8-269c-4e34-aa14-ed776e85b3b6', dataSize: 256 },
  rsa2048Sha256: { guid: 'e2b36190-879b-4a3d-ad8d-f2e7bba32784', dataSize: 256 },
  sha1: { guid: '826ca512-cf10-4ac9-b187-be01496631bd', dataSize: 20 },
  rsa2048Sha1: { guid: '67f8444f-8743-48f1-a328-1eaab8736080', dataSize: 256 },
  x509: { guid: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072', dataSize: undefined },
  sha224: { guid: '0b6e5233-a65c-44c9-9407-d9ab83bfc8bd', dataSize: 28 },
  sha384: { guid: 'ff3e5307-9fd0-48c9-85f1-8ad56c701e01', dataSize: 48 },
  sha512: { guid: '093e0fae-a6c4-4f50-9f1b-d41e2b89c19a', dataSize: 64 },
  x509Sha256: { guid: '3bd2a492-96c0-4079-b420-fcf98ef103ed', dataSize: 48 },
  x509Sha384: { guid: '7076876e-80c2-4ee6-aad2-28b349a6865b', dataSize: 64 },
  x509Sha512: { guid: '446dbf63-2502-4cda-bcfa-2465d2b0fe9d', dataSize: 80 },
  pkcs7: { guid: '4aafd29d-68df-49ee-8aa9-347d375665a7', dataSize: undefined },
} as const;

/** Name of a signature type (`sha256`, `x509`, …). */
export type SignatureTypeName = keyof typeof EFI_CERT_TYPES;

/** GUID → type name. */
export function signatureTypeName(guid: string): SignatureTypeName | undefined {
  for (const [k, v] of Object.entries(EFI_CERT_TYPES)) if (v.guid === guid) return k as SignatureTypeName;
  return undefined;
}

/** One EFI_SIGNATURE_DATA. */
export interface SignatureData {
  /** SignatureOwner GUID. */
  owner: string;
  /** SignatureData bytes: a hash, a DER certificate, or for X509_SHA* a TBS hash + EFI_TIME revocation time. */
  data: Uint8Array;
}

/** One EFI_SIGNATURE_LIST. */
export interface SignatureList {
  /** SignatureType GUID. */
  type: string;
  /** The type's name when known. */
  typeName?: SignatureTypeName;
  /** SignatureHeader bytes (empty for every standard type). */
  header: Uint8Array;
  /** SignatureSize (16 + data length). */
  signatureSize: number;
  signatures: SignatureData[];
  /** File offset of the list within the parsed buffer. */
  offset: number;
}

/** Parses a buffer of concatenated EFI_SIGNATURE_LISTs (a db/dbx/KEK/PK variable's data). */
export function parseSignatureLists(
  bytes: Uint8Array,
  maxEntries: number = DEFAULT_PE_LIMITS.maxSignatureEntries,
): SignatureList[] {
  const structure = 'EFI_SIGNATURE_LIST';
  const out: SignatureList[] = [];
  const r = new ByteReader(bytes, { structure });
  let total = 0;
  while (r.remaining > 0) {
    const offset = r.pos;
    if (r.remaining < 28)
      throw new FormatError('ESL_TRUNCATED', 'signature list header is truncated', { structure, offset });
    const type = guidFromBytes(bytes, offset);
    r.skip(16);
    const listSize = r.u32();
    const headerSize = r.u32();
    const signatureSize = r.u32();
    if (listSize < 28 || listSize > bytes.length - offset) {
      throw new FormatError('ESL_BAD_SIZE', `SignatureListSize ${listSize} does not fit the buffer`, {
        structure,
        offset: offset + 16,
      });
    }
    const body = listSize - 28;
    if (headerSize > body) {
      throw new FormatError('ESL_BAD_HEADER_SIZE', `SignatureHeaderSize ${headerSize} exceeds the list`, {
        structure,
        offset: offset + 20,
      });
    }
    const sigArea = body - headerSize;
    if (signatureSize < 16 || sigArea % signatureSize !== 0) {
      throw new FormatError(
        'ESL_BAD_SIGNATURE_SIZE',
        `SignatureSize ${signatureSize} does not divide the ${sigArea}-byte signature area`,
        {
          structure,
          offset: offset + 24,
        },
      );
    }
    const typeName = signatureTypeName(type);
    const fixed = typeName ? EFI_CERT_TYPES[typeName].dataSize : undefined;
    if (fixed !== undefined && signatureSize !== 16 + fixed) {
      throw new FormatError(
        'ESL_BAD_SIGNATURE_SIZE',
        `SignatureSize ${signatureSize} is wrong for ${typeName} (expected ${16 + fixed})`,
        {
          structure,
          offset: offset + 24,
        },
      );
    }
    const header = r.bytesView(headerSize, 'SignatureHeader');
    const count = sigArea / signatureSize;
    total += count;
    if (total > maxEntries)
      throw new LimitError('ESL_TOO_MANY', `more than ${maxEntries} signatures`, { structure, offset });
    const signatures: SignatureData[] = [];
    for (let i = 0; i < count; i++) {
      const at = r.pos;
      r.skip(16);
      signatures.push({
        owner: guidFromBytes(bytes, at),
        data: r.bytesView(signatureSize - 16, 'SignatureData'),
      });
    }
    const list: SignatureList = { type, header, signatureSize, signatures, offset };
    if (typeName) list.typeName = typeName;
    out.push(list);
  }
  return out;
}

/** Input of {@link buildSignatureList}: a type (name or GUID) and same-sized signature data. */
export interface SignatureListInput {
  type: SignatureTypeName | string;
  signatures: { owner: string; data: Uint8Array }[];
  header?: Uint8Array;
}

/** Encodes one EFI_SIGNATURE_LIST. All entries must have the same data size (a list has one SignatureSize). */
export function buildSignatureList(input: SignatureListInput): Uint8Array {
  // Own keys only: a type named `constructor` must not find Object.prototype.constructor.
  const known = Object.hasOwn(EFI_CERT_TYPES, input.type)
    ? EFI_CERT_TYPES[input.type as SignatureTypeName]
    : undefined;
  const guid = known ? known.guid : input.type;
  const header = input.header ?? new Uint8Array(0);
  if (input.signatures.length === 0)
    throw new UsageError('ESL_EMPTY', 'a signature list needs at least one signature');
  const dataSize = input.signatures[0]!.data.length;
  if (input.signatures.some((s) => s.data.length !== dataSize))
    throw new UsageError(
      'ESL_MIXED_SIZES',
      'all signatures of one list must have the same size; build one list per size',
    );
  if (known?.dataSize !== undefined && dataSize !== known.dataSize)
    throw new UsageError(
      'ESL_BAD_DATA_SIZE',
      `${input.type} signatures are ${known.dataSize} bytes, got ${dataSize}`,
    );
  const signatureSize = 16 + dataSize;
  const listSize = 28 + header.length + signatureSize * input.signatures.length;
  const out = new Uint8Array(listSize);
  const v = new DataView(out.buffer);
  guidToBytes(guid, out, 0);
  v.setUint32(16, listSize, true);
  v.setUint32(20, header.length, true);
  v.setUint32(24, signatureSize, true);
  out.set(header, 28);
  let p = 28 + header.length;
  for (const s of input.signatures) {
    guidToBytes(s.owner, out, p);
    out.set(s.data, p + 16);
    p += signatureSize;
  }
  return out;
}

/** Encodes several lists, one per input (X.509 certificates of different sizes need one list each). */
export function buildSignatureLists(inputs: SignatureListInput[]): Uint8Array {
  const parts = inputs.map(buildSignatureList);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
