import { type LongOperationOptions, UsageError, normalizeGuid, throwIfAborted } from '@lsvm/core';
import {
  DEFAULT_BLOCK_SIZE,
  DIGEST_LENGTH,
  type HashAlgorithm,
  isHashAlgorithm,
  isValidBlockSize,
} from './algorithms.js';
import {
  type Catalog,
  type CatalogVolume,
  type DiskIdentity,
  type TargetType,
  type VolumeRole,
  encodeCatalog,
  validateCatalog,
} from './catalog.js';
import { type PartitionSource, checkPartitionSource } from './partition-source.js';
import { computeRootHash } from './root-hash.js';
import { type CatalogSigner, type RsaPadding, type SignatureDigest, signCatalogBytes } from './signature.js';
import { encodeSignedCatalog } from './signed-catalog.js';
import { formatTemplateVersion } from './template-version.js';
import { HashPool, hashVolume } from './volume-hash.js';

/** A partition to protect, with the role it plays. */
export interface ProtectedPartition extends PartitionSource {
  role: VolumeRole;
}

/** What a catalog is built from. */
export interface BuildCatalogInput {
  /** Template name. */
  name: string;
  /** Template version `a.b.c.d`. */
  version: string;
  /** Default `PreprocessedLinux`. */
  targetType?: TargetType;
  disk: DiskIdentity;
  volumes: ProtectedPartition[];
  /** Signer certificate chain, DER, signer first. */
  certificates: Uint8Array[];
  /** Creation time (default now), truncated to whole seconds. */
  created?: Date;
}

/** Options of {@link buildCatalog}. */
export interface BuildCatalogOptions extends LongOperationOptions {
  /** Default `sha256`. */
  algorithm?: HashAlgorithm;
  /** Default 1 MiB. */
  blockSize?: number;
  /** Hashing worker threads (default: available parallelism, at most 8; 0 = calling thread). */
  workers?: number;
  /** A pool to reuse instead of starting one. */
  pool?: HashPool;
}

/**
 * Hashes each protected partition (streaming, in parallel workers) and assembles the catalog.
 * Progress is reported in bytes over all volumes.
 */
export async function buildCatalog(
  input: BuildCatalogInput,
  options: BuildCatalogOptions = {},
): Promise<Catalog> {
  const sectorSize = input.disk.sectorSize;
  const volumes = [...input.volumes].sort((a, b) => a.firstLba - b.firstLba);
  for (const v of volumes) checkPartitionSource(v, sectorSize);
  if (volumes.length === 0) throw new UsageError('VSC_NO_VOLUMES', 'no partition to protect');
  const created = toRfc3339(input.created ?? new Date());
  const algorithm = options.algorithm ?? 'sha256';
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!isHashAlgorithm(algorithm))
    throw new UsageError('VSC_UNSUPPORTED_ALGORITHM', `unknown hash algorithm ${String(algorithm)}`);
  if (!isValidBlockSize(blockSize)) {
    throw new UsageError(
      'VSC_BAD_BLOCK_SIZE',
      `block size ${blockSize} is not a power of two from 4 KiB to 64 MiB`,
    );
  }

  // Validate everything that does not need the hashes before spending minutes hashing.
  const skeleton: Catalog = {
    name: input.name,
    version: formatTemplateVersion(input.version),
    targetType: input.targetType ?? 'PreprocessedLinux',
    disk: { diskGuid: normalizeGuid(input.disk.diskGuid), sectorSize },
    created,
    volumes: [],
    certificates: input.certificates,
  };
  // Hash lists of the right length (zeros) stand in for the real ones, so every other check runs now.
  const placeholder = (v: ProtectedPartition): CatalogVolume => {
    const blockHashes = new Uint8Array(Math.ceil(v.device.size / blockSize) * DIGEST_LENGTH[algorithm]);
    return {
      ...identity(v, sectorSize),
      algorithm,
      blockSize,
      blockHashes,
      rootHash: computeRootHash(algorithm, blockHashes),
    };
  };
  validateCatalog({ ...skeleton, volumes: volumes.map(placeholder) });

  const total = volumes.reduce((s, v) => s + v.device.size, 0);
  let before = 0;
  const pool = options.pool ?? HashPool.create(options.workers);
  try {
    const out: CatalogVolume[] = [];
    for (const v of volumes) {
      throwIfAborted(options.signal);
      const base = before;
      const h = await hashVolume(v.device, {
        algorithm,
        blockSize,
        pool,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (done) => options.onProgress?.(base + done, total),
      });
      before += v.device.size;
      out.push({
        ...identity(v, sectorSize),
        algorithm,
        blockSize,
        blockHashes: h.blockHashes,
        rootHash: computeRootHash(algorithm, h.blockHashes),
      });
    }
    const catalog: Catalog = { ...skeleton, volumes: out };
    validateCatalog(catalog);
    return catalog;
  } finally {
    if (options.pool === undefined) await pool.close();
  }
}

function identity(
  v: ProtectedPartition,
  sectorSize: number,
): Omit<CatalogVolume, 'algorithm' | 'blockSize' | 'blockHashes' | 'rootHash'> {
  return {
    index: v.index,
    role: v.role,
    partitionGuid: normalizeGuid(v.partitionGuid),
    typeGuid: normalizeGuid(v.typeGuid),
    firstLba: v.firstLba,
    lastLba: v.lastLba,
    length: (v.lastLba - v.firstLba + 1) * sectorSize,
  };
}

/** RFC 3339 UTC with whole seconds, as the catalog stores times. */
export function toRfc3339(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new UsageError('VSC_BAD_TIME', 'invalid creation time');
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Options of {@link createSignedCatalog}. */
export interface CreateSignedCatalogOptions extends BuildCatalogOptions {
  /** Signature digest (default SHA-256; SHA-384 for P-384 keys). */
  digest?: SignatureDigest;
  /** RSA padding (default PKCS#1 v1.5). */
  padding?: RsaPadding;
}

/** Result of {@link createSignedCatalog}. */
export interface SignedCatalog {
  catalog: Catalog;
  /** Canonical CBOR of the catalog: the signed bytes. */
  catalogBytes: Uint8Array;
  /** DER CMS SignedData (detached). */
  signature: Uint8Array;
  /** The `.vsc` file: envelope of the two. */
  file: Uint8Array;
}

/**
 * Builds, encodes and signs a catalog: the whole "protect a template disk" step. The catalog's
 * certificate chain is the signer's certificate followed by `signer.chain`; the signingTime
 * attribute equals the catalog's creation time, so the same inputs give the same file (for RSA
 * PKCS#1 v1.5, whose signatures are deterministic).
 */
export async function createSignedCatalog(
  input: Omit<BuildCatalogInput, 'certificates'>,
  signer: CatalogSigner,
  options: CreateSignedCatalogOptions = {},
): Promise<SignedCatalog> {
  const created = new Date(Math.floor((input.created ?? new Date()).getTime() / 1000) * 1000);
  const signOptions = {
    signingTime: created,
    ...(options.digest ? { digest: options.digest } : {}),
    ...(options.padding ? { padding: options.padding } : {}),
  };
  // Refuse a wrong key or certificate before hashing for minutes: sign an empty message first.
  signCatalogBytes(new Uint8Array(0), signer, signOptions);
  const catalog = await buildCatalog(
    { ...input, created, certificates: [signer.certificate, ...(signer.chain ?? [])] },
    options,
  );
  const catalogBytes = encodeCatalog(catalog);
  const signature = signCatalogBytes(catalogBytes, signer, signOptions);
  return {
    catalog,
    catalogBytes,
    signature,
    file: encodeSignedCatalog({ catalog: catalogBytes, signature }),
  };
}
