import { TPM2B_AUTH, TPM2B_NONCE } from './basic.js';
import { TPMA_SESSION_RESERVED, TPM_RS_PW } from './constants.js';
import { type Codec, bad, hex, struct } from './marshal.js';

/** TPMS_AUTH_COMMAND (Part 2 §10.13.2): one session's entry in a command's authorization area. */
export interface TpmsAuthCommand {
  sessionHandle: number;
  nonce: Uint8Array;
  sessionAttributes: number;
  hmac: Uint8Array;
}
/** TPMS_AUTH_RESPONSE (Part 2 §10.13.3). */
export interface TpmsAuthResponse {
  nonce: Uint8Array;
  sessionAttributes: number;
  hmac: Uint8Array;
}

/** TPMI_SH_AUTH_SESSION+: TPM_RS_PW or an HMAC / policy session handle. */
const TPMI_SH_AUTH_SESSION: Codec<number> = {
  name: 'TPMI_SH_AUTH_SESSION',
  write: (w, v) => void w.u32(v >>> 0),
  read(r) {
    const at = r.pos;
    const v = r.u32();
    const ht = v >>> 24;
    if (v !== TPM_RS_PW && ht !== 0x02 && ht !== 0x03)
      bad('TPM2_BAD_VALUE', `${hex(v, 8)} is not a valid session handle`, r, at);
    return v;
  },
};
/** TPMA_SESSION with the reserved-bit check (bits 3 and 4). */
export const TPMA_SESSION_CODEC: Codec<number> = {
  name: 'TPMA_SESSION',
  write: (w, v) => void w.u8(v),
  read(r) {
    const at = r.pos;
    const v = r.u8();
    if ((v & TPMA_SESSION_RESERVED) !== 0)
      bad('TPM2_RESERVED_BITS', `TPMA_SESSION ${hex(v, 2)} sets reserved bits`, r, at);
    return v;
  },
};

export const TPMS_AUTH_COMMAND: Codec<TpmsAuthCommand> = struct<TpmsAuthCommand>('TPMS_AUTH_COMMAND', [
  ['sessionHandle', TPMI_SH_AUTH_SESSION],
  ['nonce', TPM2B_NONCE],
  ['sessionAttributes', TPMA_SESSION_CODEC],
  ['hmac', TPM2B_AUTH],
]);
export const TPMS_AUTH_RESPONSE: Codec<TpmsAuthResponse> = struct<TpmsAuthResponse>('TPMS_AUTH_RESPONSE', [
  ['nonce', TPM2B_NONCE],
  ['sessionAttributes', TPMA_SESSION_CODEC],
  ['hmac', TPM2B_AUTH],
]);
