import type { ByteReader } from '@lsvm/core';
import { TPMS_AUTH_RESPONSE, type TpmsAuthResponse } from './auth-area.js';
import { HEADER_SIZE, readAuthArea, readHeader } from './command.js';
import { TPM_ST } from './constants.js';
import { bad, hex, tpmReader, within } from './marshal.js';

/** A response in parsed form (Part 1 §18.8). `parameters` is raw: the command's parser reads it. */
export interface ParsedResponse {
  tag: number;
  rc: number;
  handles: number[];
  parameters: Uint8Array;
  auths: TpmsAuthResponse[];
}

/**
 * Parses a response frame: header, `responseHandles` handles, then for TPM_ST_SESSIONS a u32
 * parameterSize, the parameters and one TPMS_AUTH_RESPONSE per session up to the end. An error
 * response (rc ≠ 0) must be the bare 10-byte header.
 */
export function parseResponse(bytes: Uint8Array, responseHandles: number): ParsedResponse {
  const r = tpmReader(bytes, 'TPM response');
  return within(r, 'TPM response', () => {
    const { tag, code: rc } = readHeader(r, bytes.length, 'response');
    if (tag !== TPM_ST.SESSIONS && tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.RSP_COMMAND)
      bad('TPM2_BAD_TAG', `bad response tag ${hex(tag)}`, r, 0);
    if (rc !== 0) {
      if (bytes.length !== HEADER_SIZE)
        bad('TPM2_SIZE', `error response carries ${bytes.length - HEADER_SIZE} extra bytes`, r, HEADER_SIZE);
      return { tag, rc, handles: [], parameters: new Uint8Array(0), auths: [] };
    }
    if (tag === TPM_ST.RSP_COMMAND) bad('TPM2_BAD_TAG', 'TPM_ST_RSP_COMMAND with a success code', r, 0);
    const handles: number[] = [];
    for (let i = 0; i < responseHandles; i++) handles.push(r.u32());
    if (tag === TPM_ST.NO_SESSIONS)
      return { tag, rc, handles, parameters: r.bytesCopy(r.remaining), auths: [] };
    const psAt = r.pos;
    const parameterSize = r.u32();
    if (parameterSize > r.remaining)
      bad('TPM2_SIZE', `parameterSize ${parameterSize} exceeds the ${r.remaining} bytes left`, r, psAt);
    const parameters = r.bytesCopy(parameterSize);
    const auths = within(r, 'response authorization area', () =>
      readAuthArea(r, r.remaining, (x: ByteReader) => TPMS_AUTH_RESPONSE.read(x), 'authorization area'),
    );
    if (auths.length === 0)
      bad('TPM2_AUTHSIZE', 'TPM_ST_SESSIONS response without an authorization area', r, r.pos);
    return { tag, rc, handles, parameters, auths };
  });
}
