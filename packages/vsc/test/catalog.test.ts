import { LimitError, LsvmError } from '@lsvm/core';
import fc from 'fast-check';
import { arbCatalog, catalogVolume as volume, sampleCatalog } from './fixtures.js';
import { decodeCatalog, encodeCanonical, encodeCatalog, decodeCanonical } from '../src/index.js';

/** The decoded CBOR model of a catalog, edited freely by the tampering cases. */
// biome-ignore lint/suspicious/noExplicitAny: tests reach into arbitrary nested fields
type CborModel = Record<string, any>;

function hexBytes(_k: string, v: unknown): unknown {
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
}

function errorOf(f: () => unknown): LsvmError {
  try {
    f();
  } catch (e) {
    if (e instanceof LsvmError) return e;
    throw new Error(`not an LsvmError: ${String(e)}`);
  }
  throw new Error('did not throw');
}

/** Re-encodes the catalog's CBOR model after `edit` — a catalog that is canonical but wrong. */
function tampered(edit: (m: CborModel) => void): Uint8Array {
  const m = decodeCanonical(encodeCatalog(sampleCatalog())) as CborModel;
  edit(m);
  return encodeCanonical(m);
}

describe('catalog encoding', () => {
  it('round-trips: decode(encode(c)) = c and encode(decode(b)) = b', () => {
    fc.assert(
      fc.property(arbCatalog, (c) => {
        const bytes = encodeCatalog(c);
        const back = decodeCatalog(bytes);
        // Compare byte strings as hex: jest's deep equality walks typed arrays element by element.
        expect(JSON.stringify(back, hexBytes)).toBe(JSON.stringify(c, hexBytes));
        expect(Buffer.from(encodeCatalog(back)).equals(bytes)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('is proportional: 100 GiB at 1 MiB blocks is about 3.2 MB', () => {
    const c = sampleCatalog();
    c.volumes = [volume(2, 2048, (100 * 2 ** 30) / 512, 'sha256', 2 ** 20, 512, 3)];
    const bytes = encodeCatalog(c);
    expect(bytes.length).toBeGreaterThan(102400 * 32);
    expect(bytes.length).toBeLessThan(102400 * 32 + 1024);
  });

  it('keeps byte strings independent of the input buffer', () => {
    const bytes = encodeCatalog(sampleCatalog());
    const c = decodeCatalog(bytes);
    bytes.fill(0);
    expect(c.volumes[0]!.rootHash.some((b) => b !== 0)).toBe(true);
  });

  it.each<[string, (m: CborModel) => void, string, 'format' | 'unsupported']>([
    ['a wrong magic', (m) => (m.magic = 'LSVM-VSX'), 'VSC_BAD_MAGIC', 'format'],
    ['a newer format version', (m) => (m.formatVersion = 2), 'VSC_UNSUPPORTED_VERSION', 'unsupported'],
    ['an unknown field', (m) => (m.extra = 1), 'VSC_UNKNOWN_FIELD', 'format'],
    ['a missing field', (m) => delete m.created, 'VSC_MISSING_FIELD', 'format'],
    [
      'a version part above 65535',
      (m) => (m.templateVersion = [65536, 0, 0, 0]),
      'VSC_BAD_VERSION',
      'format',
    ],
    ['an unknown target', (m) => (m.targetType = 'Solaris'), 'VSC_BAD_TARGET', 'format'],
    ['an upper-case GUID', (m) => (m.disk.guid = m.disk.guid.toUpperCase()), 'VSC_BAD_GUID', 'format'],
    ['a bad sector size', (m) => (m.disk.sectorSize = 1000), 'VSC_BAD_SECTOR_SIZE', 'format'],
    ['a bad time', (m) => (m.created = '2026-02-30T00:00:00Z'), 'VSC_BAD_TIME', 'format'],
    ['a local time', (m) => (m.created = '2026-02-03T00:00:00+01:00'), 'VSC_BAD_TIME', 'format'],
    ['an empty name', (m) => (m.name = ''), 'VSC_BAD_NAME', 'format'],
    ['a control character in the name', (m) => (m.name = 'a\nb'), 'VSC_BAD_NAME', 'format'],
    ['no volume', (m) => (m.volumes = []), 'VSC_NO_VOLUMES', 'format'],
    ['an unknown role', (m) => (m.volumes[0].role = 'swap'), 'VSC_BAD_ROLE', 'format'],
    [
      'an unknown algorithm',
      (m) => (m.volumes[0].algorithm = 'md5'),
      'VSC_UNSUPPORTED_ALGORITHM',
      'unsupported',
    ],
    [
      'a block size not a power of two',
      (m) => (m.volumes[0].blockSize = 65537),
      'VSC_BAD_BLOCK_SIZE',
      'format',
    ],
    [
      'a block size of 128 MiB',
      (m) => (m.volumes[0].blockSize = 128 * 2 ** 20),
      'VSC_BAD_BLOCK_SIZE',
      'format',
    ],
    ['a length not matching the LBAs', (m) => (m.volumes[0].length += 512), 'VSC_BAD_VOLUME', 'format'],
    [
      'last LBA before first',
      (m) => (m.volumes[0].lastLba = m.volumes[0].firstLba - 1),
      'VSC_BAD_VOLUME',
      'format',
    ],
    [
      'a short hash list',
      (m) => (m.volumes[0].blockHashes = m.volumes[0].blockHashes.subarray(1)),
      'VSC_BAD_HASH_LIST',
      'format',
    ],
    [
      'a wrong root hash',
      (m) => (m.volumes[0].rootHash = new Uint8Array(32)),
      'VSC_ROOT_HASH_MISMATCH',
      'format',
    ],
    [
      'overlapping volumes',
      (m) => (m.volumes[1].firstLba = m.volumes[0].lastLba),
      'VSC_BAD_VOLUME',
      'format',
    ],
    [
      'a duplicate partition GUID',
      (m) => (m.volumes[1].partitionGuid = m.volumes[0].partitionGuid),
      'VSC_DUPLICATE_VOLUME',
      'format',
    ],
    ['no certificate', (m) => (m.certificates = []), 'VSC_NO_CERTIFICATES', 'format'],
    ['a number where text belongs', (m) => (m.name = 5), 'VSC_BAD_FIELD', 'format'],
    ['a u64 beyond 2^53', (m) => (m.volumes[0].lastLba = 1n << 60n), 'VSC_BAD_FIELD', 'format'],
  ])('rejects %s', (_what, edit, code, kind) => {
    const e = errorOf(() => decodeCatalog(tampered(edit)));
    expect(e.code).toBe(code);
    expect(e.kind).toBe(kind);
  });

  it('applies its limits', () => {
    const bytes = encodeCatalog(sampleCatalog());
    expect(errorOf(() => decodeCatalog(bytes, { maxCatalogBytes: 100 }))).toBeInstanceOf(LimitError);
    expect(errorOf(() => decodeCatalog(bytes, { maxVolumes: 1 })).code).toBe('VSC_TOO_MANY_VOLUMES');
    expect(errorOf(() => decodeCatalog(bytes, { maxCertificateBytes: 4 })).code).toBe(
      'VSC_CERTIFICATE_TOO_LARGE',
    );
  });

  it('validates before encoding', () => {
    const c = sampleCatalog();
    c.version = '1.2.3';
    expect(errorOf(() => encodeCatalog(c)).code).toBe('VSC_BAD_VERSION');
  });

  it('rejects every truncation and throws only LsvmErrors on mutated bytes', () => {
    const bytes = encodeCatalog(sampleCatalog());
    for (let n = 0; n < bytes.length; n += 7)
      expect(() => decodeCatalog(bytes.subarray(0, n))).toThrow(LsvmError);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (flips) => {
          const m = bytes.slice();
          for (const [i, x] of flips) m[i]! ^= x;
          try {
            decodeCatalog(m);
          } catch (e) {
            expect(e).toBeInstanceOf(LsvmError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
