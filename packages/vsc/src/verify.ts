import {
  type LongOperationOptions,
  UsageError,
  constantTimeEqual,
  isLsvmError,
  normalizeGuid,
  throwIfAborted,
} from '@lsvm/core';
import { DIGEST_LENGTH } from './algorithms.js';
import {
  type Catalog,
  type CatalogLimits,
  type CatalogVolume,
  type DiskIdentity,
  type VolumeRole,
  decodeCatalog,
} from './catalog.js';
import { type CertificateInfo, parseCertificate } from './certificate.js';
import type { PartitionSource } from './partition-source.js';
import { type SignatureFailureReason, SignatureCheckFailure, checkCmsSignature } from './signature.js';
import { decodeSignedCatalog } from './signed-catalog.js';
import { type TrustOptions, evaluateTrust } from './trust.js';
import { HashPool, hashVolume } from './volume-hash.js';

/**
 * Verification in two steps (docs/formats/vsc.md §8): (1) the signature over the exact catalog
 * bytes and the signer's trust; (2) the disk's partitions against the catalog.
 */

/** Options of {@link verifyCatalogSignature}. */
export interface VerifySignatureOptions extends TrustOptions {
  limits?: Partial<CatalogLimits>;
}

/** Outcome of step 1. */
export interface SignatureVerdict {
  valid: boolean;
  /** `ok`, or why the signature is not accepted. */
  reason: SignatureFailureReason;
  /** Human explanation. */
  message: string;
  /** The signer, once the signature itself verified. */
  signer?: { subject: string; thumbprint: string };
  /** The decoded catalog — present only when `valid`. */
  catalog?: Catalog;
  /** Certificate path signer → anchor, when trust came from anchors. */
  chain?: { subject: string; thumbprint: string }[];
}

/**
 * Step 1: checks a `.vsc` file's signature over its catalog bytes (never re-encoded), decodes the
 * catalog only after the signature verified, checks that the signed catalog names the same signer
 * certificate, then decides trust ({@link evaluateTrust}). A malformed file or signature is a
 * verdict (`malformed`), not an exception; a missing trust policy is a UsageError.
 */
export function verifyCatalogSignature(file: Uint8Array, options: VerifySignatureOptions): SignatureVerdict {
  const anchors: CertificateInfo[] = (options.trustAnchors ?? []).map(parseCertificate);
  if (anchors.length === 0 && options.signerThumbprint === undefined) {
    // Checked before any parsing so that a missing policy is always reported as such.
    throw new UsageError(
      'VSC_NO_TRUST',
      'give trust anchors or a signer thumbprint: a signature alone proves nothing',
    );
  }
  let parts: { catalog: Uint8Array; signature: Uint8Array };
  try {
    parts = decodeSignedCatalog(file, options.limits);
  } catch (e) {
    if (isLsvmError(e) && e.kind !== 'usage' && e.kind !== 'io') return fail('malformed', e.message);
    throw e;
  }
  const checked = checkCmsSignature(parts.signature, parts.catalog);
  if (checked instanceof SignatureCheckFailure) return fail(checked.reason, checked.message);
  const signer = { subject: checked.signer.subject, thumbprint: checked.signer.thumbprint };
  let catalog: Catalog;
  try {
    catalog = decodeCatalog(parts.catalog, options.limits);
  } catch (e) {
    if (isLsvmError(e) && e.kind !== 'usage' && e.kind !== 'io')
      return { ...fail('malformed', `signed catalog is invalid: ${e.message}`), signer };
    throw e;
  }
  const first = catalog.certificates[0]!;
  if (!constantTimeEqual(first, checked.signer.der)) {
    return {
      ...fail('signer-mismatch', 'the catalog names a different signer certificate than the signature'),
      signer,
    };
  }
  let fromCatalog: CertificateInfo[];
  try {
    fromCatalog = catalog.certificates.slice(1).map(parseCertificate);
  } catch (e) {
    return { ...fail('malformed', (e as Error).message), signer };
  }
  const trust = evaluateTrust(checked.signer, [...checked.certificates, ...fromCatalog], anchors, options);
  if (trust instanceof SignatureCheckFailure) return { ...fail(trust.reason, trust.message), signer };
  return {
    valid: true,
    reason: 'ok',
    message: `signed by ${signer.subject}`,
    signer,
    catalog,
    chain: trust.map((c) => ({ subject: c.subject, thumbprint: c.thumbprint })),
  };
}

function fail(reason: Exclude<SignatureFailureReason, 'ok'>, message: string): SignatureVerdict {
  return { valid: false, reason, message };
}

/** A run of changed blocks of one volume (adjacent blocks merged). */
export interface ChangedRange {
  firstBlock: number;
  lastBlock: number;
  /** Byte offset within the partition. */
  offset: number;
  /** Byte length (the last block of a volume may be short). */
  length: number;
}

/** Per-volume status. */
export type VolumeStatus = 'match' | 'changed' | 'missing' | 'resized' | 'identity-changed' | 'not-checked';

/** Result for one catalog volume. */
export interface VolumeReport {
  index: number;
  role: VolumeRole;
  partitionGuid: string;
  status: VolumeStatus;
  /** Changed block ranges; empty unless contents were compared and differ. */
  changed: ChangedRange[];
  /** Identity differences found (moved, retyped, renumbered, resized…), in words. */
  problems: string[];
}

/** Result of {@link verifyVolumes}. */
export interface VolumesReport {
  /** True when the disk identity and every volume match. */
  match: boolean;
  /** Disk-level differences (disk GUID, sector size). */
  diskProblems: string[];
  volumes: VolumeReport[];
}

/** Options of {@link verifyVolumes}. */
export interface VerifyVolumesOptions extends LongOperationOptions {
  /** Stop at the first difference found; later volumes are reported `not-checked`. */
  firstDifference?: boolean;
  /** Hashing worker threads (default: available parallelism, at most 8; 0 = calling thread). */
  workers?: number;
  pool?: HashPool;
}

/**
 * Step 2: compares the disk's partitions with the catalog. `partitions` are all partitions of the
 * disk (or at least the protected ones); each catalog volume is found by its partition GUID (or,
 * failing that, by its entry number, which is then an identity change). Contents are hashed only
 * when the byte length is unchanged.
 */
export async function verifyVolumes(
  catalog: Catalog,
  disk: DiskIdentity,
  partitions: PartitionSource[],
  options: VerifyVolumesOptions = {},
): Promise<VolumesReport> {
  const diskProblems: string[] = [];
  if (normalizeGuid(disk.diskGuid) !== catalog.disk.diskGuid)
    diskProblems.push(`disk GUID is ${normalizeGuid(disk.diskGuid)}, catalog says ${catalog.disk.diskGuid}`);
  if (disk.sectorSize !== catalog.disk.sectorSize)
    diskProblems.push(`sector size is ${disk.sectorSize}, catalog says ${catalog.disk.sectorSize}`);
  let stop = options.firstDifference === true && diskProblems.length > 0;

  const plan: { v: CatalogVolume; p: PartitionSource | undefined; report: VolumeReport }[] =
    catalog.volumes.map((v) => {
      const byGuid = partitions.find((p) => normalizeGuid(p.partitionGuid) === v.partitionGuid);
      const p = byGuid ?? partitions.find((q) => q.index === v.index);
      const report: VolumeReport = {
        index: v.index,
        role: v.role,
        partitionGuid: v.partitionGuid,
        status: 'match',
        changed: [],
        problems: [],
      };
      if (p === undefined) {
        report.status = 'missing';
        report.problems.push(`partition ${v.partitionGuid} (number ${v.index}) is not on the disk`);
        return { v, p, report };
      }
      const pr = report.problems;
      if (byGuid === undefined)
        pr.push(`partition number ${v.index} now has GUID ${normalizeGuid(p.partitionGuid)}`);
      if (p.index !== v.index) pr.push(`partition number is ${p.index}, catalog says ${v.index}`);
      if (normalizeGuid(p.typeGuid) !== v.typeGuid)
        pr.push(`type GUID is ${normalizeGuid(p.typeGuid)}, catalog says ${v.typeGuid}`);
      if (p.firstLba !== v.firstLba || p.lastLba !== v.lastLba)
        pr.push(`LBAs are ${p.firstLba}..${p.lastLba}, catalog says ${v.firstLba}..${v.lastLba}`);
      if (p.device.size !== v.length) {
        report.status = 'resized';
        pr.push(`size is ${p.device.size} bytes, catalog says ${v.length}`);
      } else if (pr.length > 0) report.status = 'identity-changed';
      return { v, p, report };
    });

  const toHash = plan.filter((x) => x.p !== undefined && x.report.status !== 'resized');
  const total = toHash.reduce((s, x) => s + x.v.length, 0);
  let before = 0;
  const pool = options.pool ?? HashPool.create(options.workers);
  try {
    for (const x of plan) {
      if (stop) {
        if (x.report.status === 'match') x.report.status = 'not-checked';
        continue;
      }
      if (x.report.status !== 'match' && options.firstDifference) {
        stop = true;
        continue;
      }
      if (x.p === undefined || x.report.status === 'resized') continue;
      throwIfAborted(options.signal);
      const { v, report } = x;
      const dl = DIGEST_LENGTH[v.algorithm];
      const changedBlocks: number[] = [];
      const base = before;
      await hashVolume(x.p.device, {
        algorithm: v.algorithm,
        blockSize: v.blockSize,
        pool,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (done) => options.onProgress?.(base + done, total),
        onBlocks: (firstBlock, hashes) => {
          const n = hashes.length / dl;
          for (let i = 0; i < n; i++) {
            const b = firstBlock + i;
            const want = v.blockHashes.subarray(b * dl, (b + 1) * dl);
            if (!constantTimeEqual(want, hashes.subarray(i * dl, (i + 1) * dl))) {
              changedBlocks.push(b);
              if (options.firstDifference) return false;
            }
          }
          return true;
        },
      });
      before += v.length;
      report.changed = mergeRanges(changedBlocks, v.blockSize, v.length);
      if (report.changed.length > 0) {
        if (report.status === 'match') report.status = 'changed';
        if (options.firstDifference) stop = true;
      } else if (report.status !== 'match' && options.firstDifference) stop = true;
    }
  } finally {
    if (options.pool === undefined) await pool.close();
  }
  const match = diskProblems.length === 0 && plan.every((x) => x.report.status === 'match');
  return { match, diskProblems, volumes: plan.map((x) => x.report) };
}

/** Merges sorted block numbers into ranges of adjacent blocks, with byte offsets and lengths. */
export function mergeRanges(blocks: number[], blockSize: number, volumeLength: number): ChangedRange[] {
  const out: ChangedRange[] = [];
  for (const b of blocks) {
    const last = out[out.length - 1];
    if (last !== undefined && last.lastBlock + 1 === b) last.lastBlock = b;
    else out.push({ firstBlock: b, lastBlock: b, offset: 0, length: 0 });
  }
  for (const r of out) {
    r.offset = r.firstBlock * blockSize;
    r.length = Math.min(volumeLength, (r.lastBlock + 1) * blockSize) - r.offset;
  }
  return out;
}
