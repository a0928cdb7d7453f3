import { TPM2B_DIGEST, TPMI_ALG_HASH } from './basic.js';
import { type Codec, bad, hex, sized, struct } from './marshal.js';

/** MAX_NV_INDEX_SIZE of the reference implementation (Part 2 §13.5 dataSize bound). */
export const MAX_NV_INDEX_SIZE = 2048;
/** TPMA_NV bits 8..9 and 20..24 are reserved (Part 2 §13.4). */
export const TPMA_NV_RESERVED = 0x01f00300;

/** TPMS_NV_PUBLIC (Part 2 §13.5). */
export interface TpmsNvPublic {
  nvIndex: number;
  nameAlg: number;
  attributes: number;
  authPolicy: Uint8Array;
  dataSize: number;
}

const NV_INDEX: Codec<number> = {
  name: 'TPMI_RH_NV_INDEX',
  write: (w, v) => void w.u32(v >>> 0),
  read(r) {
    const at = r.pos;
    const v = r.u32();
    if (v >>> 24 !== 0x01) bad('TPM2_BAD_VALUE', `${hex(v, 8)} is not an NV index handle`, r, at);
    return v;
  },
};
const TPMA_NV_CODEC: Codec<number> = {
  name: 'TPMA_NV',
  write: (w, v) => void w.u32(v >>> 0),
  read(r) {
    const at = r.pos;
    const v = r.u32();
    if ((v & TPMA_NV_RESERVED) !== 0)
      bad('TPM2_RESERVED_BITS', `TPMA_NV ${hex(v, 8)} sets reserved bits`, r, at);
    return v;
  },
};
const DATA_SIZE: Codec<number> = {
  name: 'UINT16',
  write: (w, v) => void w.u16(v),
  read(r) {
    const at = r.pos;
    const v = r.u16();
    if (v > MAX_NV_INDEX_SIZE) bad('TPM2_SIZE', `NV dataSize ${v} exceeds ${MAX_NV_INDEX_SIZE}`, r, at);
    return v;
  },
};

export const TPMS_NV_PUBLIC: Codec<TpmsNvPublic> = struct<TpmsNvPublic>('TPMS_NV_PUBLIC', [
  ['nvIndex', NV_INDEX],
  ['nameAlg', TPMI_ALG_HASH],
  ['attributes', TPMA_NV_CODEC],
  ['authPolicy', TPM2B_DIGEST],
  ['dataSize', DATA_SIZE],
]);
/** TPM2B_NV_PUBLIC: sized, size zero refused. */
export const TPM2B_NV_PUBLIC = sized('TPM2B_NV_PUBLIC', TPMS_NV_PUBLIC) as Codec<TpmsNvPublic>;

/** TPM_NT (index type) from TPMA_NV bits 4..7. */
export function nvType(attributes: number): number {
  return (attributes >>> 4) & 0xf;
}
