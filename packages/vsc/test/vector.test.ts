import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@lsvm/core';
import { describeWithPeers, run, tempDir } from '@lsvm/testkit';
import { decode as cborxDecode } from 'cbor-x';
import {
  certificateThumbprint,
  createSignedCatalog,
  decodeCatalog,
  decodeSignedCatalog,
  verifyCatalogSignature,
} from '../src/index.js';
import { VECTOR_BLOCK_SIZE, VECTOR_DIR, vectorInput, vectorSigner } from './vector.js';

const file = (name: string): Buffer => readFileSync(join(VECTOR_DIR, name));
const expected = JSON.parse(file('expected.json').toString('utf8')) as {
  signerThumbprint: string;
  volumes: { index: number; blockHashes: string; rootHash: string }[];
};

describe('published test vector (test-vectors/vsc)', () => {
  it.each([0, 2])('is rebuilt byte for byte from its inputs (%i workers)', async (workers) => {
    const s = await createSignedCatalog(vectorInput(), vectorSigner(), {
      blockSize: VECTOR_BLOCK_SIZE,
      workers,
    });
    expect(Buffer.from(s.catalogBytes).equals(file('catalog.cbor'))).toBe(true);
    expect(Buffer.from(s.signature).equals(file('signature.der'))).toBe(true);
    expect(Buffer.from(s.file).equals(file('vector.vsc'))).toBe(true);
  });

  it('splits into the published catalog and signature, and decodes to the published fields', () => {
    const parts = decodeSignedCatalog(file('vector.vsc'));
    expect(Buffer.from(parts.catalog).equals(file('catalog.cbor'))).toBe(true);
    expect(Buffer.from(parts.signature).equals(file('signature.der'))).toBe(true);
    const c = decodeCatalog(parts.catalog);
    expect(c).toMatchObject({
      name: 'lsvm test vector',
      version: '1.0.0.0',
      targetType: 'PreprocessedLinux',
      created: '2026-01-02T03:04:05Z',
    });
    expect(
      c.volumes.map((v) => ({
        index: v.index,
        blockHashes: toHex(v.blockHashes),
        rootHash: toHex(v.rootHash),
      })),
    ).toEqual(expected.volumes);
    // A general CBOR decoder reads the same structure.
    const general = cborxDecode(file('catalog.cbor')) as Record<string, unknown>;
    expect(general.magic).toBe('LSVM-VSC');
    expect(general.templateVersion).toEqual([1, 0, 0, 0]);
  });

  it('has block hashes anyone can recompute: SHA-256 of each block, root = SHA-256 of the list', () => {
    const input = vectorInput();
    input.volumes.forEach((v, i) => {
      const bytes = (v.device as unknown as { bytes: Uint8Array }).bytes;
      const hashes: Buffer[] = [];
      for (let o = 0; o < bytes.length; o += VECTOR_BLOCK_SIZE)
        hashes.push(
          createHash('sha256')
            .update(bytes.subarray(o, o + VECTOR_BLOCK_SIZE))
            .digest(),
        );
      const list = Buffer.concat(hashes);
      expect(list.toString('hex')).toBe(expected.volumes[i]!.blockHashes);
      expect(createHash('sha256').update(list).digest('hex')).toBe(expected.volumes[i]!.rootHash);
    });
  });

  it('verifies with the signer pinned or trusted directly', () => {
    const signer = vectorSigner();
    expect(certificateThumbprint(signer.certificate)).toBe(expected.signerThumbprint);
    const time = new Date('2026-06-01T00:00:00Z');
    expect(
      verifyCatalogSignature(file('vector.vsc'), { signerThumbprint: expected.signerThumbprint, time }),
    ).toMatchObject({ valid: true });
    expect(
      verifyCatalogSignature(file('vector.vsc'), { trustAnchors: [signer.certificate], time }),
    ).toMatchObject({ valid: true });
  });
});

describeWithPeers(['openssl'], 'published test vector (openssl)', () => {
  it('openssl cms -verify accepts the published signature over catalog.cbor', () => {
    const r = run('openssl', [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      join(VECTOR_DIR, 'signature.der'),
      '-content',
      join(VECTOR_DIR, 'catalog.cbor'),
      '-CAfile',
      join(VECTOR_DIR, 'signer.pem'),
      '-purpose',
      'any',
      '-out',
      '/dev/null',
    ]);
    expect(r.stderr).toMatch(/Verification successful/);
    expect(r.status).toBe(0);
  });

  it('openssl dgst agrees with the published block hashes', () => {
    const tmp = tempDir('lsvm-vsc-vec-');
    try {
      const boot = (vectorInput().volumes[0]!.device as unknown as { bytes: Uint8Array }).bytes;
      writeFileSync(join(tmp.path, 'b0'), boot.subarray(0, VECTOR_BLOCK_SIZE));
      writeFileSync(join(tmp.path, 'b2'), boot.subarray(2 * VECTOR_BLOCK_SIZE));
      const h0 = run('openssl', ['dgst', '-sha256', '-r', join(tmp.path, 'b0')]).stdout.slice(0, 64);
      const h2 = run('openssl', ['dgst', '-sha256', '-r', join(tmp.path, 'b2')]).stdout.slice(0, 64);
      expect(expected.volumes[0]!.blockHashes).toBe(
        `${h0}${expected.volumes[0]!.blockHashes.slice(64, 128)}${h2}`,
      );
    } finally {
      tmp.cleanup();
    }
  });
});
