import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
import { repoRoot } from '@lsvm/testkit';
import { type BuildCatalogInput, type CatalogSigner, readCertificates } from '../src/index.js';

/**
 * The published test vector (docs/formats/vsc.md §10, test-vectors/vsc/): its inputs are defined
 * by formulas so anyone can rebuild them, and signed with RSA PKCS#1 v1.5 (deterministic), so the
 * whole .vsc file is reproducible byte for byte.
 */
export const VECTOR_DIR = join(repoRoot, 'test-vectors', 'vsc');
export const VECTOR_BLOCK_SIZE = 16384;

/** Boot: 80 sectors, byte i = i mod 251. Root: 41 sectors, byte i = (i × 7 + 3) mod 256. */
export function vectorInput(): Omit<BuildCatalogInput, 'certificates'> {
  const boot = new MemoryDevice(new Uint8Array(80 * 512).map((_, i) => i % 251));
  const root = new MemoryDevice(new Uint8Array(41 * 512).map((_, i) => (i * 7 + 3) & 0xff));
  return {
    name: 'lsvm test vector',
    version: '1.0.0.0',
    targetType: 'PreprocessedLinux',
    disk: { diskGuid: '5b0e6c71-2f3a-4b8e-9d1c-0a1b2c3d4e5f', sectorSize: 512 },
    created: new Date('2026-01-02T03:04:05Z'),
    volumes: [
      {
        device: boot,
        index: 2,
        role: 'boot',
        partitionGuid: 'aaaaaaaa-0000-4000-8000-000000000002',
        typeGuid: '0fc63daf-8483-4772-8e79-3d69d8477de4',
        firstLba: 2048,
        lastLba: 2127,
      },
      {
        device: root,
        index: 3,
        role: 'root',
        partitionGuid: 'aaaaaaaa-0000-4000-8000-000000000003',
        typeGuid: '0fc63daf-8483-4772-8e79-3d69d8477de4',
        firstLba: 4096,
        lastLba: 4136,
      },
    ],
  };
}

/** The public test signer (its key is published with the vector on purpose). */
export function vectorSigner(): CatalogSigner {
  return {
    certificate: readCertificates(readFileSync(join(VECTOR_DIR, 'signer.pem')))[0]!,
    privateKey: readFileSync(join(VECTOR_DIR, 'signer.key')),
  };
}
