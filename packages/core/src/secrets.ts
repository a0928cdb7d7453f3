/**
 * Helpers for the secrets rule (DESIGN.md rule 6): compare MACs and digests in constant time and
 * zero buffers that held keys once done.
 */

/**
 * Constant-time equality of two byte strings. Lengths are not secret (they are format constants);
 * a length mismatch returns false immediately. The loop always visits every byte.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Overwrites buffers with zeros. Accepts undefined for convenience in `finally` blocks. */
export function zeroize(...buffers: (Uint8Array | undefined | null)[]): void {
  for (const b of buffers) b?.fill(0);
}
