import {
  FormatError,
  LimitError,
  UnsupportedError,
  constantTimeEqual,
  isGuid,
  normalizeGuid,
} from '@lsvm/core';
import { DIGEST_LENGTH, type HashAlgorithm, isHashAlgorithm, isValidBlockSize } from './algorithms.js';
import { type CborMap, type CborValue, decodeCanonical, encodeCanonical } from './cbor.js';
import { computeRootHash } from './root-hash.js';
import { type TemplateVersion, formatTemplateVersion } from './template-version.js';

/**
 * The catalog: what a Volume Signature Catalog says about a template disk (docs/formats/vsc.md §3).
 * These are the decoded, validated values; {@link encodeCatalog} and {@link decodeCatalog} convert
 * to and from the canonical CBOR bytes the signature covers.
 */

/** `magic` field value. */
export const CATALOG_MAGIC = 'LSVM-VSC';
/** The one format version this library reads and writes. */
export const CATALOG_FORMAT_VERSION = 1;

/** What the template is for, as the shielding data file names it. */
export type TargetType = 'PreprocessedLinux' | 'Windows';
/** Every target type. */
export const TARGET_TYPES: readonly TargetType[] = ['PreprocessedLinux', 'Windows'];

/** Role of a protected volume: the boot partition, the root partition, or another one. */
export type VolumeRole = 'boot' | 'root' | 'other';
/** Every volume role. */
export const VOLUME_ROLES: readonly VolumeRole[] = ['boot', 'root', 'other'];

/** The disk a catalog describes, as its GPT names it. */
export interface DiskIdentity {
  /** GPT disk GUID (canonical lower-case string). */
  diskGuid: string;
  /** Logical sector size in bytes; LBAs count in these. */
  sectorSize: number;
}

/** One protected volume (a GPT partition) and the hashes of its blocks. */
export interface CatalogVolume {
  /** GPT partition entry number, 1-based (what `--partitions 2,3` refers to). */
  index: number;
  role: VolumeRole;
  /** Unique partition GUID from the GPT entry. */
  partitionGuid: string;
  /** Partition type GUID from the GPT entry. */
  typeGuid: string;
  /** First LBA of the partition (inclusive). */
  firstLba: number;
  /** Last LBA of the partition (inclusive). */
  lastLba: number;
  /** Byte length: `(lastLba - firstLba + 1) × sectorSize`. */
  length: number;
  algorithm: HashAlgorithm;
  /** Block size in bytes (power of two, 4 KiB to 64 MiB). The last block may be shorter. */
  blockSize: number;
  /** The block digests, concatenated: `ceil(length / blockSize)` digests of the algorithm's length. */
  blockHashes: Uint8Array;
  /** Digest of `blockHashes` (docs/formats/vsc.md §5): a hash of the list, not a Merkle tree. */
  rootHash: Uint8Array;
}

/** A whole catalog. */
export interface Catalog {
  /** Template name (1 to 256 characters, no control characters). */
  name: string;
  /** Template version `a.b.c.d`. */
  version: TemplateVersion;
  targetType: TargetType;
  disk: DiskIdentity;
  /** Creation time, RFC 3339 UTC with second precision: `2026-11-26T19:00:00Z`. */
  created: string;
  /** Protected volumes, in ascending order of `firstLba`. */
  volumes: CatalogVolume[];
  /** The signer's certificate chain, DER, signer first. */
  certificates: Uint8Array[];
}

/** Bounds applied by {@link decodeCatalog} (docs/formats/vsc.md §7). */
export interface CatalogLimits {
  /** Largest encoded catalog accepted. Default 64 MiB (≈ 2 TiB of volumes at 1 MiB blocks). */
  maxCatalogBytes: number;
  /** Largest number of volumes. Default 128 (the GPT's usual entry count). */
  maxVolumes: number;
  /** Largest number of certificates in the chain. Default 8. */
  maxCertificates: number;
  /** Largest single certificate. Default 64 KiB. */
  maxCertificateBytes: number;
}

/** Default {@link CatalogLimits}. */
export const DEFAULT_CATALOG_LIMITS: Readonly<CatalogLimits> = Object.freeze({
  maxCatalogBytes: 64 * 1024 * 1024,
  maxVolumes: 128,
  maxCertificates: 8,
  maxCertificateBytes: 64 * 1024,
});

const STRUCTURE = 'VSC catalog';
const MAX_NAME_LENGTH = 256;
// C0 and C1 controls, DEL, and the Unicode line/paragraph separators: a name is shown to people.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CREATED_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

function bad(code: string, message: string): never {
  throw new FormatError(code, message, { structure: STRUCTURE });
}

/** Validates the catalog's fields and their consistency; throws the error a decoder would. */
export function validateCatalog(c: Catalog, limits: Partial<CatalogLimits> = {}): void {
  const lim = { ...DEFAULT_CATALOG_LIMITS, ...limits };
  checkName(c.name);
  formatTemplateVersion(c.version);
  if (!TARGET_TYPES.includes(c.targetType))
    bad('VSC_BAD_TARGET', `unknown target type ${JSON.stringify(c.targetType)}`);
  checkGuid(c.disk.diskGuid, 'disk GUID');
  const ss = c.disk.sectorSize;
  if (!Number.isSafeInteger(ss) || ss < 512 || ss > 65536 || (ss & (ss - 1)) !== 0) {
    bad('VSC_BAD_SECTOR_SIZE', `sector size ${ss} is not a power of two from 512 to 65536`);
  }
  checkCreated(c.created);
  if (c.volumes.length === 0) bad('VSC_NO_VOLUMES', 'a catalog protects at least one volume');
  if (c.volumes.length > lim.maxVolumes) {
    throw new LimitError(
      'VSC_TOO_MANY_VOLUMES',
      `${c.volumes.length} volumes exceed the limit of ${lim.maxVolumes}`,
      { structure: STRUCTURE },
    );
  }
  const seenGuids = new Set<string>();
  const seenIndex = new Set<number>();
  let prevLast = -1;
  for (const v of c.volumes) {
    checkVolume(v, ss);
    if (seenGuids.has(v.partitionGuid))
      bad('VSC_DUPLICATE_VOLUME', `partition ${v.partitionGuid} appears twice`);
    if (seenIndex.has(v.index)) bad('VSC_DUPLICATE_VOLUME', `partition number ${v.index} appears twice`);
    seenGuids.add(v.partitionGuid);
    seenIndex.add(v.index);
    if (v.firstLba <= prevLast)
      bad(
        'VSC_VOLUME_ORDER',
        `volume ${v.index} overlaps or precedes the previous one (volumes are sorted by first LBA)`,
      );
    prevLast = v.lastLba;
  }
  if (c.certificates.length === 0) bad('VSC_NO_CERTIFICATES', 'the signer certificate chain is empty');
  if (c.certificates.length > lim.maxCertificates) {
    throw new LimitError(
      'VSC_TOO_MANY_CERTIFICATES',
      `${c.certificates.length} certificates exceed the limit of ${lim.maxCertificates}`,
      { structure: STRUCTURE },
    );
  }
  for (const cert of c.certificates) {
    if (cert.length === 0) bad('VSC_BAD_CERTIFICATE', 'empty certificate');
    if (cert.length > lim.maxCertificateBytes) {
      throw new LimitError(
        'VSC_CERTIFICATE_TOO_LARGE',
        `a ${cert.length}-byte certificate exceeds the limit of ${lim.maxCertificateBytes}`,
        { structure: STRUCTURE },
      );
    }
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || [...name].length > MAX_NAME_LENGTH) {
    bad('VSC_BAD_NAME', `the template name must have 1 to ${MAX_NAME_LENGTH} characters`);
  }
  if (CONTROL.test(name)) bad('VSC_BAD_NAME', 'the template name holds a control character');
}

function checkGuid(s: string, what: string): void {
  if (typeof s !== 'string' || !isGuid(s) || normalizeGuid(s) !== s) {
    bad(
      'VSC_BAD_GUID',
      `${what} ${JSON.stringify(String(s).slice(0, 40))} is not a canonical lower-case GUID`,
    );
  }
}

function checkCreated(s: string): void {
  const m = typeof s === 'string' ? CREATED_RE.exec(s) : null;
  if (!m) bad('VSC_BAD_TIME', 'creation time must be RFC 3339 UTC with seconds, e.g. 2026-11-26T19:00:00Z');
  const d = new Date(s);
  if (Number.isNaN(d.getTime()) || d.toISOString().replace('.000Z', 'Z') !== s) {
    bad('VSC_BAD_TIME', `creation time ${s} is not a real instant`);
  }
}

function checkVolume(v: CatalogVolume, sectorSize: number): void {
  const where = `volume ${v.index}`;
  if (!Number.isSafeInteger(v.index) || v.index < 1 || v.index > 0xffffffff)
    bad('VSC_BAD_VOLUME', `${where}: partition number must be 1 or more`);
  if (!VOLUME_ROLES.includes(v.role)) bad('VSC_BAD_ROLE', `${where}: unknown role ${JSON.stringify(v.role)}`);
  checkGuid(v.partitionGuid, `${where} partition GUID`);
  checkGuid(v.typeGuid, `${where} type GUID`);
  if (
    !Number.isSafeInteger(v.firstLba) ||
    !Number.isSafeInteger(v.lastLba) ||
    v.firstLba < 0 ||
    v.lastLba < v.firstLba
  ) {
    bad('VSC_BAD_VOLUME', `${where}: LBA range ${v.firstLba}..${v.lastLba} is not valid`);
  }
  const expected = (v.lastLba - v.firstLba + 1) * sectorSize;
  if (!Number.isSafeInteger(expected) || v.length !== expected) {
    bad(
      'VSC_BAD_VOLUME',
      `${where}: length ${v.length} does not match LBAs ${v.firstLba}..${v.lastLba} × ${sectorSize}`,
    );
  }
  if (!isHashAlgorithm(v.algorithm)) {
    throw new UnsupportedError(
      'VSC_UNSUPPORTED_ALGORITHM',
      `${where}: hash algorithm ${JSON.stringify(v.algorithm)} is not supported`,
      { structure: STRUCTURE },
    );
  }
  if (!isValidBlockSize(v.blockSize))
    bad(
      'VSC_BAD_BLOCK_SIZE',
      `${where}: block size ${v.blockSize} is not a power of two from 4 KiB to 64 MiB`,
    );
  const dl = DIGEST_LENGTH[v.algorithm];
  const blocks = Math.ceil(v.length / v.blockSize);
  if (!(v.blockHashes instanceof Uint8Array) || v.blockHashes.length !== blocks * dl) {
    bad(
      'VSC_BAD_HASH_LIST',
      `${where}: ${blocks} blocks need ${blocks * dl} bytes of ${v.algorithm} hashes, found ${v.blockHashes?.length}`,
    );
  }
  if (!(v.rootHash instanceof Uint8Array) || v.rootHash.length !== dl)
    bad('VSC_BAD_ROOT_HASH', `${where}: root hash must be ${dl} bytes`);
  if (!constantTimeEqual(v.rootHash, computeRootHash(v.algorithm, v.blockHashes))) {
    throw new FormatError(
      'VSC_ROOT_HASH_MISMATCH',
      `${where}: the root hash does not match the block hashes`,
      { structure: STRUCTURE },
    );
  }
}

/** The CBOR data model of a catalog (docs/formats/vsc.md §3): text keys, canonical order applied by the encoder. */
function toCbor(c: Catalog): CborMap {
  return {
    magic: CATALOG_MAGIC,
    formatVersion: CATALOG_FORMAT_VERSION,
    name: c.name,
    templateVersion: [...formatTemplateVersion(c.version).split('.').map(Number)],
    targetType: c.targetType,
    disk: { guid: c.disk.diskGuid, sectorSize: c.disk.sectorSize },
    created: c.created,
    volumes: c.volumes.map((v) => ({
      index: v.index,
      role: v.role,
      partitionGuid: v.partitionGuid,
      typeGuid: v.typeGuid,
      firstLba: v.firstLba,
      lastLba: v.lastLba,
      length: v.length,
      algorithm: v.algorithm,
      blockSize: v.blockSize,
      blockHashes: v.blockHashes,
      rootHash: v.rootHash,
    })),
    certificates: c.certificates,
  };
}

/** Encodes a catalog to its canonical CBOR bytes (the bytes the signature covers). Validates first. */
export function encodeCatalog(c: Catalog): Uint8Array {
  validateCatalog(c);
  return encodeCanonical(toCbor(c));
}

/**
 * Decodes and validates canonical catalog bytes. Strict: any deviation from the deterministic
 * encoding, an unknown or missing field, or an inconsistent value is an {@link LsvmError}.
 * Byte strings in the result are copies, independent of `bytes`.
 */
export function decodeCatalog(bytes: Uint8Array, limits: Partial<CatalogLimits> = {}): Catalog {
  const lim = { ...DEFAULT_CATALOG_LIMITS, ...limits };
  if (bytes.length > lim.maxCatalogBytes) {
    throw new LimitError(
      'VSC_CATALOG_TOO_LARGE',
      `a ${bytes.length}-byte catalog exceeds the limit of ${lim.maxCatalogBytes}`,
      { structure: STRUCTURE },
    );
  }
  const root = decodeCanonical(bytes, {
    structure: STRUCTURE,
    maxItems: Math.max(64, lim.maxVolumes, lim.maxCertificates),
  });
  const m = asMap(root, 'catalog', [
    'magic',
    'formatVersion',
    'name',
    'templateVersion',
    'targetType',
    'disk',
    'created',
    'volumes',
    'certificates',
  ]);
  if (m.magic !== CATALOG_MAGIC)
    bad(
      'VSC_BAD_MAGIC',
      `not a volume signature catalog (magic ${JSON.stringify(String(m.magic).slice(0, 16))})`,
    );
  if (m.formatVersion !== CATALOG_FORMAT_VERSION) {
    throw new UnsupportedError(
      'VSC_UNSUPPORTED_VERSION',
      `catalog format version ${String(m.formatVersion)} is not supported (this library reads version ${CATALOG_FORMAT_VERSION})`,
      { structure: STRUCTURE },
    );
  }
  const tv = asArray(m.templateVersion, 'templateVersion');
  if (tv.length !== 4 || tv.some((p) => typeof p !== 'number' || p > 65535))
    bad('VSC_BAD_VERSION', 'templateVersion must be four integers 0..65535');
  const disk = asMap(m.disk, 'disk', ['guid', 'sectorSize']);
  const volumes = asArray(m.volumes, 'volumes');
  if (volumes.length > lim.maxVolumes) {
    throw new LimitError(
      'VSC_TOO_MANY_VOLUMES',
      `${volumes.length} volumes exceed the limit of ${lim.maxVolumes}`,
      { structure: STRUCTURE },
    );
  }
  const certs = asArray(m.certificates, 'certificates');
  const c: Catalog = {
    name: asText(m.name, 'name'),
    version: formatTemplateVersion(tv as number[]),
    targetType: asText(m.targetType, 'targetType') as TargetType,
    disk: {
      diskGuid: asText(disk.guid, 'disk.guid'),
      sectorSize: asUint(disk.sectorSize, 'disk.sectorSize'),
    },
    created: asText(m.created, 'created'),
    volumes: volumes.map((raw, i) => {
      const v = asMap(raw, `volumes[${i}]`, [
        'index',
        'role',
        'partitionGuid',
        'typeGuid',
        'firstLba',
        'lastLba',
        'length',
        'algorithm',
        'blockSize',
        'blockHashes',
        'rootHash',
      ]);
      return {
        index: asUint(v.index, 'index'),
        role: asText(v.role, 'role') as VolumeRole,
        partitionGuid: asText(v.partitionGuid, 'partitionGuid'),
        typeGuid: asText(v.typeGuid, 'typeGuid'),
        firstLba: asUint(v.firstLba, 'firstLba'),
        lastLba: asUint(v.lastLba, 'lastLba'),
        length: asUint(v.length, 'length'),
        algorithm: asText(v.algorithm, 'algorithm') as HashAlgorithm,
        blockSize: asUint(v.blockSize, 'blockSize'),
        blockHashes: asBytes(v.blockHashes, 'blockHashes').slice(),
        rootHash: asBytes(v.rootHash, 'rootHash').slice(),
      };
    }),
    certificates: certs.map((x, i) => asBytes(x, `certificates[${i}]`).slice()),
  };
  validateCatalog(c, lim);
  return c;
}

function asMap(v: CborValue | undefined, what: string, fields: string[]): CborMap {
  if (v === undefined || typeof v !== 'object' || v instanceof Uint8Array || Array.isArray(v))
    bad('VSC_BAD_FIELD', `${what} must be a map`);
  for (const f of fields)
    if (!(f in v)) bad('VSC_MISSING_FIELD', `${what} lacks the field ${JSON.stringify(f)}`);
  for (const k of Object.keys(v))
    if (!fields.includes(k))
      bad('VSC_UNKNOWN_FIELD', `${what} has an unknown field ${JSON.stringify(k.slice(0, 40))}`);
  return v;
}

function asArray(v: CborValue | undefined, what: string): CborValue[] {
  if (!Array.isArray(v)) bad('VSC_BAD_FIELD', `${what} must be an array`);
  return v;
}

function asText(v: CborValue | undefined, what: string): string {
  if (typeof v !== 'string') bad('VSC_BAD_FIELD', `${what} must be a text string`);
  return v;
}

function asUint(v: CborValue | undefined, what: string): number {
  if (typeof v === 'bigint') bad('VSC_BAD_FIELD', `${what} is beyond 2^53`);
  if (typeof v !== 'number') bad('VSC_BAD_FIELD', `${what} must be an unsigned integer`);
  return v;
}

function asBytes(v: CborValue | undefined, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) bad('VSC_BAD_FIELD', `${what} must be a byte string`);
  return v;
}
