import { createHash } from 'node:crypto';
import type { HashAlgorithm } from './algorithms.js';

/**
 * The root hash of a volume (docs/formats/vsc.md §5): the digest, with the volume's algorithm, of
 * its block hashes concatenated in block order — a hash of the list, not a Merkle tree.
 *
 * Why not a Merkle tree: a tree pays off when a verifier holds only the root and checks single
 * blocks against inclusion proofs. A catalog always carries every block hash (verification must
 * name each changed block), so a verifier holds the whole list anyway and a tree would add
 * structure and rules without adding a capability. The flat form can be recomputed with any
 * hashing tool (`sha256sum` over the hash list), which is what an open format wants.
 */
export function computeRootHash(algorithm: HashAlgorithm, blockHashes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(blockHashes).digest());
}
