import { FormatError, LimitError } from '@lsvm/core';
import { DEFAULT_CATALOG_LIMITS, type CatalogLimits } from './catalog.js';
import { decodeCanonical, encodeCanonical } from './cbor.js';
import { MAX_SIGNATURE_BYTES } from './signature.js';

/**
 * The `.vsc` file (docs/formats/vsc.md §2): the self-describe CBOR tag 55799 (bytes d9 d9 f7),
 * then a two-element array — the catalog's canonical CBOR bytes as a byte string, and the DER CMS
 * signature as a byte string. The catalog is carried as opaque bytes so that the signature is
 * checked over exactly what was signed; nothing is re-encoded on the way.
 */
export interface SignedCatalogFile {
  /** Canonical CBOR of the catalog: the signed content. */
  catalog: Uint8Array;
  /** DER ContentInfo holding the detached CMS SignedData. */
  signature: Uint8Array;
}

const STRUCTURE = 'VSC file';

/** Encodes a `.vsc` file from catalog bytes and signature bytes. */
export function encodeSignedCatalog(file: SignedCatalogFile): Uint8Array {
  return encodeCanonical([file.catalog, file.signature], { selfDescribe: true });
}

/**
 * Splits a `.vsc` file into catalog bytes and signature bytes, without decoding either. The
 * returned arrays are copies. Throws a {@link FormatError} unless the envelope is exactly as
 * specified, and a {@link LimitError} when a part exceeds its limit.
 */
export function decodeSignedCatalog(
  bytes: Uint8Array,
  limits: Partial<CatalogLimits> = {},
): SignedCatalogFile {
  const lim = { ...DEFAULT_CATALOG_LIMITS, ...limits };
  const max = lim.maxCatalogBytes + MAX_SIGNATURE_BYTES + 32;
  if (bytes.length > max) {
    throw new LimitError('VSC_FILE_TOO_LARGE', `a ${bytes.length}-byte file exceeds the limit of ${max}`, {
      structure: STRUCTURE,
    });
  }
  if (bytes.length < 3 || bytes[0] !== 0xd9 || bytes[1] !== 0xd9 || bytes[2] !== 0xf7) {
    throw new FormatError(
      'VSC_BAD_MAGIC',
      'not a volume signature catalog file (no d9 d9 f7 self-describe tag)',
      { structure: STRUCTURE, offset: 0 },
    );
  }
  const v = decodeCanonical(bytes, { selfDescribe: true, structure: STRUCTURE, maxItems: 16 });
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] instanceof Uint8Array) || !(v[1] instanceof Uint8Array)) {
    throw new FormatError(
      'VSC_BAD_FILE',
      'a .vsc file is an array of two byte strings: catalog and signature',
      { structure: STRUCTURE },
    );
  }
  if (v[0].length > lim.maxCatalogBytes) {
    throw new LimitError(
      'VSC_CATALOG_TOO_LARGE',
      `a ${v[0].length}-byte catalog exceeds the limit of ${lim.maxCatalogBytes}`,
      { structure: STRUCTURE },
    );
  }
  if (v[1].length > MAX_SIGNATURE_BYTES) {
    throw new LimitError(
      'VSC_SIGNATURE_TOO_LARGE',
      `a ${v[1].length}-byte signature exceeds the limit of ${MAX_SIGNATURE_BYTES}`,
      { structure: STRUCTURE },
    );
  }
  return { catalog: v[0].slice(), signature: v[1].slice() };
}
