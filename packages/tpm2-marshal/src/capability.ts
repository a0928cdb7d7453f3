import { TPM_CAP } from './constants.js';
import { type Codec, bad, hex, list, struct, u16, u32, within } from './marshal.js';
import {
  PCR_SELECT_MAX,
  PCR_SELECT_MIN,
  TPML_PCR_SELECTION,
  type TpmsPcrSelection,
  pcrsFromBitmap,
} from './pcr-selection.js';
import { TPMT_HA, type TpmtHa } from './schemes.js';

/**
 * TPMS_CAPABILITY_DATA (Part 2 §10.10): the answer to GetCapability. The list bounds are the
 * reference implementation's, derived from MAX_CAP_BUFFER = 1024 (MAX_CAP_DATA = 1016).
 */
const MAX_CAP_DATA = 1016;
export const MAX_CAP_ALGS = Math.floor(MAX_CAP_DATA / 6);
export const MAX_CAP_HANDLES = Math.floor(MAX_CAP_DATA / 4);
export const MAX_CAP_CC = Math.floor(MAX_CAP_DATA / 4);
export const MAX_TPM_PROPERTIES = Math.floor(MAX_CAP_DATA / 8);
export const MAX_PCR_PROPERTIES = Math.floor(MAX_CAP_DATA / 5);
export const MAX_ECC_CURVES = Math.floor(MAX_CAP_DATA / 2);
export const MAX_TAGGED_POLICIES = Math.floor(MAX_CAP_DATA / 70);
export const MAX_ACT_DATA = Math.floor(MAX_CAP_DATA / 12);

/** TPMS_ALG_PROPERTY. */
export interface TpmsAlgProperty {
  alg: number;
  algProperties: number;
}
/** TPMS_TAGGED_PROPERTY. */
export interface TpmsTaggedProperty {
  property: number;
  value: number;
}
/** TPMS_TAGGED_PCR_SELECT. */
export interface TpmsTaggedPcrSelect {
  tag: number;
  pcrs: number[];
}
/** TPMS_TAGGED_POLICY. */
export interface TpmsTaggedPolicy {
  handle: number;
  policyHash: TpmtHa;
}
/** TPMS_ACT_DATA. */
export interface TpmsActData {
  handle: number;
  timeout: number;
  attributes: number;
}

const TPMS_ALG_PROPERTY = struct<TpmsAlgProperty>('TPMS_ALG_PROPERTY', [
  ['alg', u16],
  ['algProperties', u32],
]);
const TPMS_TAGGED_PROPERTY = struct<TpmsTaggedProperty>('TPMS_TAGGED_PROPERTY', [
  ['property', u32],
  ['value', u32],
]);
const TPMS_TAGGED_PCR_SELECT: Codec<TpmsTaggedPcrSelect> = {
  name: 'TPMS_TAGGED_PCR_SELECT',
  write(w, v) {
    w.u32(v.tag);
    const b = new Uint8Array(PCR_SELECT_MIN);
    for (const p of v.pcrs) b[p >> 3]! |= 1 << (p & 7);
    w.u8(b.length).bytes(b);
  },
  read(r) {
    const tag = r.u32();
    const at = r.pos;
    const n = r.u8();
    if (n < PCR_SELECT_MIN || n > PCR_SELECT_MAX)
      bad('TPM2_BAD_VALUE', `sizeofSelect ${n} is out of bounds`, r, at);
    return { tag, pcrs: pcrsFromBitmap(r.bytesView(n)) };
  },
};
const TPMS_TAGGED_POLICY = struct<TpmsTaggedPolicy>('TPMS_TAGGED_POLICY', [
  ['handle', u32],
  ['policyHash', TPMT_HA],
]);
const TPMS_ACT_DATA = struct<TpmsActData>('TPMS_ACT_DATA', [
  ['handle', u32],
  ['timeout', u32],
  ['attributes', u32],
]);

/** TPMS_CAPABILITY_DATA as a union on `capability`. */
export type TpmsCapabilityData =
  | { capability: typeof TPM_CAP.ALGS; algorithms: TpmsAlgProperty[] }
  | { capability: typeof TPM_CAP.HANDLES; handles: number[] }
  | { capability: typeof TPM_CAP.COMMANDS; commands: number[] }
  | { capability: typeof TPM_CAP.PP_COMMANDS; commandCodes: number[] }
  | { capability: typeof TPM_CAP.AUDIT_COMMANDS; commandCodes: number[] }
  | { capability: typeof TPM_CAP.PCRS; pcrs: TpmsPcrSelection[] }
  | { capability: typeof TPM_CAP.TPM_PROPERTIES; properties: TpmsTaggedProperty[] }
  | { capability: typeof TPM_CAP.PCR_PROPERTIES; pcrProperties: TpmsTaggedPcrSelect[] }
  | { capability: typeof TPM_CAP.ECC_CURVES; curves: number[] }
  | { capability: typeof TPM_CAP.AUTH_POLICIES; policies: TpmsTaggedPolicy[] }
  | { capability: typeof TPM_CAP.ACT; act: TpmsActData[] };

const L_ALGS = list('TPML_ALG_PROPERTY', TPMS_ALG_PROPERTY, MAX_CAP_ALGS);
const L_HANDLES = list('TPML_HANDLE', u32, MAX_CAP_HANDLES);
const L_CCA = list('TPML_CCA', u32, MAX_CAP_CC);
const L_CC = list('TPML_CC', u32, MAX_CAP_CC);
const L_PROPS = list('TPML_TAGGED_TPM_PROPERTY', TPMS_TAGGED_PROPERTY, MAX_TPM_PROPERTIES);
const L_PCRPROPS = list('TPML_TAGGED_PCR_PROPERTY', TPMS_TAGGED_PCR_SELECT, MAX_PCR_PROPERTIES);
const L_CURVES = list('TPML_ECC_CURVE', u16, MAX_ECC_CURVES);
const L_POLICIES = list('TPML_TAGGED_POLICY', TPMS_TAGGED_POLICY, MAX_TAGGED_POLICIES);
const L_ACT = list('TPML_ACT_DATA', TPMS_ACT_DATA, MAX_ACT_DATA);

export const TPMS_CAPABILITY_DATA: Codec<TpmsCapabilityData> = {
  name: 'TPMS_CAPABILITY_DATA',
  write(w, v) {
    w.u32(v.capability);
    switch (v.capability) {
      case TPM_CAP.ALGS:
        return L_ALGS.write(w, v.algorithms);
      case TPM_CAP.HANDLES:
        return L_HANDLES.write(w, v.handles);
      case TPM_CAP.COMMANDS:
        return L_CCA.write(w, v.commands);
      case TPM_CAP.PP_COMMANDS:
      case TPM_CAP.AUDIT_COMMANDS:
        return L_CC.write(w, v.commandCodes);
      case TPM_CAP.PCRS:
        return TPML_PCR_SELECTION.write(w, v.pcrs);
      case TPM_CAP.TPM_PROPERTIES:
        return L_PROPS.write(w, v.properties);
      case TPM_CAP.PCR_PROPERTIES:
        return L_PCRPROPS.write(w, v.pcrProperties);
      case TPM_CAP.ECC_CURVES:
        return L_CURVES.write(w, v.curves);
      case TPM_CAP.AUTH_POLICIES:
        return L_POLICIES.write(w, v.policies);
      case TPM_CAP.ACT:
        return L_ACT.write(w, v.act);
    }
  },
  read(r) {
    return within(r, 'TPMS_CAPABILITY_DATA', () => {
      const at = r.pos;
      const capability = r.u32();
      switch (capability) {
        case TPM_CAP.ALGS:
          return { capability, algorithms: L_ALGS.read(r) };
        case TPM_CAP.HANDLES:
          return { capability, handles: L_HANDLES.read(r) };
        case TPM_CAP.COMMANDS:
          return { capability, commands: L_CCA.read(r) };
        case TPM_CAP.PP_COMMANDS:
        case TPM_CAP.AUDIT_COMMANDS:
          return { capability, commandCodes: L_CC.read(r) };
        case TPM_CAP.PCRS:
          return { capability, pcrs: TPML_PCR_SELECTION.read(r) };
        case TPM_CAP.TPM_PROPERTIES:
          return { capability, properties: L_PROPS.read(r) };
        case TPM_CAP.PCR_PROPERTIES:
          return { capability, pcrProperties: L_PCRPROPS.read(r) };
        case TPM_CAP.ECC_CURVES:
          return { capability, curves: L_CURVES.read(r) };
        case TPM_CAP.AUTH_POLICIES:
          return { capability, policies: L_POLICIES.read(r) };
        case TPM_CAP.ACT:
          return { capability, act: L_ACT.read(r) };
        default:
          return bad('TPM2_BAD_SELECTOR', `${hex(capability, 8)} is not a valid TPM_CAP`, r, at);
      }
    });
  },
};
