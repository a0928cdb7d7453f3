import { isLsvmError } from '@lsvm/core';
import {
  checkCmsSignature,
  decodeCanonical,
  decodeCatalog,
  decodeSignedCatalog,
  verifyCatalogSignature,
} from '../src/index.js';

/**
 * Fuzz target `vsc`: the input is a `.vsc` file or bare catalog bytes. It splits the envelope,
 * decodes the catalog strictly (only canonical CBOR is accepted; the round trip is property-tested
 * in test/catalog.test.ts), parses and checks the CMS signature over the catalog,
 * and runs the whole signature verification with a pinned thumbprint. Contract: returns or throws
 * an LsvmError — never a TypeError/RangeError, a hang or a huge allocation.
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const guard = (f: () => unknown): void => {
    try {
      f();
    } catch (e) {
      if (!isLsvmError(e)) throw e;
    }
  };
  guard(() => decodeCanonical(bytes));
  guard(() => decodeCatalog(bytes));
  guard(() => {
    const parts = decodeSignedCatalog(bytes);
    guard(() => decodeCatalog(parts.catalog));
    checkCmsSignature(parts.signature, parts.catalog);
  });
  guard(() => verifyCatalogSignature(bytes, { signerThumbprint: '0'.repeat(64) }));
}
