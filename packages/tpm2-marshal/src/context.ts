import { TPM2B_CONTEXT_DATA } from './basic.js';
import { TPMI_RH_HIERARCHY } from './creation.js';
import { type Codec, bad, hex, struct, u64 } from './marshal.js';

/** TPMS_CONTEXT (Part 2 §14.5): a saved object or session context. */
export interface TpmsContext {
  sequence: bigint;
  savedHandle: number;
  hierarchy: number;
  contextBlob: Uint8Array;
}

/** TPMI_DH_SAVED: an HMAC or policy session, or one of the three transient-object markers. */
const TPMI_DH_SAVED: Codec<number> = {
  name: 'TPMI_DH_SAVED',
  write: (w, v) => void w.u32(v >>> 0),
  read(r) {
    const at = r.pos;
    const v = r.u32();
    const ht = v >>> 24;
    if (!(ht === 0x02 || ht === 0x03 || v === 0x80000000 || v === 0x80000001 || v === 0x80000002))
      bad('TPM2_BAD_VALUE', `${hex(v, 8)} is not a valid TPMI_DH_SAVED`, r, at);
    return v;
  },
};

export const TPMS_CONTEXT: Codec<TpmsContext> = struct<TpmsContext>('TPMS_CONTEXT', [
  ['sequence', u64],
  ['savedHandle', TPMI_DH_SAVED],
  ['hierarchy', TPMI_RH_HIERARCHY],
  ['contextBlob', TPM2B_CONTEXT_DATA],
]);
