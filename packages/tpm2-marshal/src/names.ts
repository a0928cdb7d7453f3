import { TPM_HT } from './constants.js';
import { hash } from './hash.js';
import { marshal } from './marshal.js';
import { TPMS_NV_PUBLIC, type TpmsNvPublic } from './nv.js';
import { TPMT_PUBLIC, type TpmtPublic } from './public.js';

/**
 * Names (Part 1 §16): an object's or NV index's name is its nameAlg (2 bytes) followed by the
 * hash of its marshalled public area; a PCR, session or permanent handle's name is the handle
 * itself, big-endian.
 */
function withAlg(alg: number, digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + digest.length);
  out[0] = alg >> 8;
  out[1] = alg & 0xff;
  out.set(digest, 2);
  return out;
}

/** Name of an object from its public area. */
export function objectName(pub: TpmtPublic): Uint8Array {
  return withAlg(pub.nameAlg, hash(pub.nameAlg, marshal(TPMT_PUBLIC, pub)));
}

/** Name of an NV index from its public area. */
export function nvName(pub: TpmsNvPublic): Uint8Array {
  return withAlg(pub.nameAlg, hash(pub.nameAlg, marshal(TPMS_NV_PUBLIC, pub)));
}

/** The name of a handle whose name is the handle itself (PCR, session, permanent). */
export function handleName(handle: number): Uint8Array {
  return new Uint8Array([handle >>> 24, (handle >>> 16) & 0xff, (handle >>> 8) & 0xff, handle & 0xff]);
}

/** True for handles whose name is the handle value (no ReadPublic needed). */
export function isSelfNamed(handle: number): boolean {
  const ht = handle >>> 24;
  return (
    ht === TPM_HT.PCR || ht === TPM_HT.HMAC_SESSION || ht === TPM_HT.POLICY_SESSION || ht === TPM_HT.PERMANENT
  );
}
