/**
 * Regenerates test-vectors/vsc/ from the inputs in vector.ts:
 *   node --conditions=lsvm-source --import tsx packages/vsc/test/make-vector.ts
 * The vector test then checks our output against the committed files byte for byte.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@lsvm/core';
import { certificateThumbprint, createSignedCatalog } from '../src/index.js';
import { VECTOR_BLOCK_SIZE, VECTOR_DIR, vectorInput, vectorSigner } from './vector.js';

const signer = vectorSigner();
const s = await createSignedCatalog(vectorInput(), signer, { blockSize: VECTOR_BLOCK_SIZE, workers: 0 });
writeFileSync(join(VECTOR_DIR, 'catalog.cbor'), s.catalogBytes);
writeFileSync(join(VECTOR_DIR, 'signature.der'), s.signature);
writeFileSync(join(VECTOR_DIR, 'vector.vsc'), s.file);
const summary = {
  signerThumbprint: certificateThumbprint(signer.certificate),
  catalogBytes: s.catalogBytes.length,
  signatureBytes: s.signature.length,
  fileBytes: s.file.length,
  volumes: s.catalog.volumes.map((v) => ({
    index: v.index,
    blockHashes: toHex(v.blockHashes),
    rootHash: toHex(v.rootHash),
  })),
};
writeFileSync(join(VECTOR_DIR, 'expected.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(JSON.stringify(summary, null, 2));
