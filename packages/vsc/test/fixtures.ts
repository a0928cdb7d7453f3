import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { type Catalog, type CatalogVolume, DIGEST_LENGTH, type HashAlgorithm } from '../src/index.js';

const guid = fc.uuid().map((u) => u.toLowerCase());
const algorithm = fc.constantFrom<HashAlgorithm>('sha256', 'sha384', 'sha512');

export function catalogVolume(
  index: number,
  firstLba: number,
  sectors: number,
  alg: HashAlgorithm,
  blockSize: number,
  sectorSize: number,
  seed: number,
): CatalogVolume {
  const length = sectors * sectorSize;
  const n = Math.ceil(length / blockSize);
  const blockHashes = new Uint8Array(n * DIGEST_LENGTH[alg]).map((_, i) => (i * 31 + seed) & 0xff);
  return {
    index,
    role: index === 2 ? 'boot' : index === 3 ? 'root' : 'other',
    partitionGuid: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    typeGuid: '0fc63daf-8483-4772-8e79-3d69d8477de4',
    firstLba,
    lastLba: firstLba + sectors - 1,
    length,
    algorithm: alg,
    blockSize,
    blockHashes,
    rootHash: new Uint8Array(createHash(alg).update(blockHashes).digest()),
  };
}

export const arbCatalog: fc.Arbitrary<Catalog> = fc
  .record({
    name: fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s)),
    version: fc.tuple(fc.nat(65535), fc.nat(65535), fc.nat(65535), fc.nat(65535)).map((p) => p.join('.')),
    targetType: fc.constantFrom('PreprocessedLinux' as const, 'Windows' as const),
    diskGuid: guid,
    sectorSize: fc.constantFrom(512, 4096),
    created: fc.date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    }),
    volumes: fc.array(
      fc.record({
        sectors: fc.integer({ min: 1, max: 5000 }),
        gap: fc.nat(1 << 40),
        alg: algorithm,
        bs: fc.integer({ min: 12, max: 16 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    certs: fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 3 }),
  })
  .map((r) => {
    let lba = 34;
    const volumes = r.volumes.map((v, i) => {
      lba += v.gap;
      const vol = catalogVolume(i + 1, lba, v.sectors, v.alg, 2 ** v.bs, r.sectorSize, i);
      lba += v.sectors;
      return vol;
    });
    return {
      name: r.name,
      version: r.version,
      targetType: r.targetType,
      disk: { diskGuid: r.diskGuid, sectorSize: r.sectorSize },
      created: new Date(Math.floor(r.created.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      volumes,
      certificates: r.certs,
    };
  });

export function sampleCatalog(): Catalog {
  return {
    name: 'Ubuntu 24.04 template',
    version: '1.2.3.4',
    targetType: 'PreprocessedLinux',
    disk: { diskGuid: '0d15c0de-1234-4abc-9def-0123456789ab', sectorSize: 512 },
    created: '2026-11-26T19:00:00Z',
    volumes: [
      catalogVolume(2, 4096, 2048, 'sha256', 65536, 512, 1),
      catalogVolume(3, 6144, 4120, 'sha256', 65536, 512, 2),
    ],
    certificates: [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])],
  };
}
