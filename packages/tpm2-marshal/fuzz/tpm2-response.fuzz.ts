import { COMMAND_SHAPES, RESPONSE_PARSERS, parseResponse } from '../src/index.js';

/** Command codes in a fixed order; the first input byte picks which command's response parser runs. */
export const RESPONSE_CODES: readonly number[] = [...RESPONSE_PARSERS.keys()].sort((a, b) => a - b);

/**
 * Response framing and every command's response-parameter parser. Input: one selector byte, then
 * a whole response frame. Contract: returns or throws an LsvmError.
 */
export function fuzz(data: Buffer): void {
  if (data.length < 1) return;
  const code = RESPONSE_CODES[data[0]! % RESPONSE_CODES.length]!;
  const shape = COMMAND_SHAPES.get(code)!;
  const resp = parseResponse(new Uint8Array(data.subarray(1)), shape.responseHandles);
  if (resp.rc === 0) RESPONSE_PARSERS.get(code)!(resp.parameters, resp.handles);
}
