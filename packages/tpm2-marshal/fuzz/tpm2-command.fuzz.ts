import { buildCommand, parseCommand } from '../src/index.js';

/** The command parser (what a proxy or TPM front end runs). Contract: returns or throws an LsvmError. */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  const c = parseCommand(bytes);
  const again = buildCommand({ code: c.code, handles: c.handles, auths: c.auths, parameters: c.parameters });
  if (Buffer.compare(again, bytes) !== 0) throw new Error('command round trip changed the bytes');
}
