import { FormatError } from '@lsvm/core';
import { TPM2B_DATA, TPM2B_DIGEST, TPM2B_NAME } from './basic.js';
import { TPM_RH, TPM_ST } from './constants.js';
import { type Codec, bad, hex, restricted, sized, struct, u8, u16, u32, within } from './marshal.js';
import { TPML_PCR_SELECTION, type TpmsPcrSelection } from './pcr-selection.js';

/** TPMS_CREATION_DATA (Part 2 §15.1): what the TPM certifies about an object's creation. */
export interface TpmsCreationData {
  pcrSelect: TpmsPcrSelection[];
  pcrDigest: Uint8Array;
  locality: number;
  parentNameAlg: number;
  parentName: Uint8Array;
  parentQualifiedName: Uint8Array;
  outsideInfo: Uint8Array;
}
export const TPMS_CREATION_DATA: Codec<TpmsCreationData> = struct<TpmsCreationData>('TPMS_CREATION_DATA', [
  ['pcrSelect', TPML_PCR_SELECTION],
  ['pcrDigest', TPM2B_DIGEST],
  ['locality', u8],
  ['parentNameAlg', u16],
  ['parentName', TPM2B_NAME],
  ['parentQualifiedName', TPM2B_NAME],
  ['outsideInfo', TPM2B_DATA],
]);
/** TPM2B_CREATION_DATA: sized, size zero refused. */
export const TPM2B_CREATION_DATA = sized(
  'TPM2B_CREATION_DATA',
  TPMS_CREATION_DATA,
) as Codec<TpmsCreationData>;

/** TPMI_RH_HIERARCHY+ : owner, platform, endorsement or null. */
export const TPMI_RH_HIERARCHY = restricted(
  'TPMI_RH_HIERARCHY',
  u32,
  new Set([TPM_RH.OWNER, TPM_RH.PLATFORM, TPM_RH.ENDORSEMENT, TPM_RH.NULL]),
);

/** A ticket (TPMT_TK_CREATION, _VERIFIED, _AUTH, _HASHCHECK; Part 2 §10.7). */
export interface TpmtTicket {
  tag: number;
  hierarchy: number;
  digest: Uint8Array;
}

function ticket(name: string, tags: readonly number[]): Codec<TpmtTicket> {
  return {
    name,
    write(w, v) {
      if (!tags.includes(v.tag)) throw new FormatError('TPM2_BAD_TAG', `${hex(v.tag)} is not a ${name} tag`);
      w.u16(v.tag);
      TPMI_RH_HIERARCHY.write(w, v.hierarchy);
      TPM2B_DIGEST.write(w, v.digest);
    },
    read(r) {
      return within(r, name, () => {
        const at = r.pos;
        const tag = r.u16();
        if (!tags.includes(tag)) bad('TPM2_BAD_TAG', `${hex(tag)} is not a valid ${name} tag`, r, at);
        return { tag, hierarchy: TPMI_RH_HIERARCHY.read(r), digest: TPM2B_DIGEST.read(r) };
      });
    },
  };
}
export const TPMT_TK_CREATION = ticket('TPMT_TK_CREATION', [TPM_ST.CREATION]);
export const TPMT_TK_VERIFIED = ticket('TPMT_TK_VERIFIED', [TPM_ST.VERIFIED]);
export const TPMT_TK_AUTH = ticket('TPMT_TK_AUTH', [TPM_ST.AUTH_SECRET, TPM_ST.AUTH_SIGNED]);
export const TPMT_TK_HASHCHECK = ticket('TPMT_TK_HASHCHECK', [TPM_ST.HASHCHECK]);

/** The NULL ticket (tag, TPM_RH_NULL, empty digest) PolicyAuthorize takes when no ticket applies. */
export function nullTicket(tag: number): TpmtTicket {
  return { tag, hierarchy: TPM_RH.NULL, digest: new Uint8Array(0) };
}
