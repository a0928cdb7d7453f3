import { type ByteReader, FormatError, LimitError, UnsupportedError } from '@lsvm/core';
import { TPMS_AUTH_COMMAND, type TpmsAuthCommand } from './auth-area.js';
import { TPM_CC, TPM_ST, nameOf } from './constants.js';
import { bad, hex, tpmReader, tpmWriter, within } from './marshal.js';

/**
 * Command framing (Part 1 §18, Part 3 §5): a 10-byte header (tag, commandSize, commandCode), the
 * handle area, then, for TPM_ST_SESSIONS, a u32 authorizationSize and that many bytes of
 * TPMS_AUTH_COMMAND, then the parameters.
 */

/** Size of the command and response headers. */
export const HEADER_SIZE = 10;
/** Largest command or response this library builds or accepts (MAX_COMMAND_SIZE of a PC TPM is 4096; swtpm allows more). */
export const MAX_MESSAGE_SIZE = 64 * 1024;
/** At most three sessions per command (Part 1 §18.4). */
export const MAX_SESSIONS = 3;

/**
 * Shape of a command in Part 3: how many handles precede the parameters, how many of them need
 * authorization, how many handles the response returns, and whether the first command / response
 * parameter is a TPM2B that a session may encrypt (the `decrypt` / `encrypt` attributes).
 */
export interface CommandShape {
  handles: number;
  auth: number;
  responseHandles: number;
  encryptCommand: boolean;
  encryptResponse: boolean;
}

const S = (
  handles: number,
  auth: number,
  responseHandles: number,
  enc: boolean,
  dec: boolean,
): CommandShape => ({
  handles,
  auth,
  responseHandles,
  encryptCommand: enc,
  encryptResponse: dec,
});

/** Command shapes from Part 3, for the commands this library builds and parses. */
export const COMMAND_SHAPES: ReadonlyMap<number, CommandShape> = new Map([
  [TPM_CC.Startup, S(0, 0, 0, false, false)],
  [TPM_CC.Shutdown, S(0, 0, 0, false, false)],
  [TPM_CC.SelfTest, S(0, 0, 0, false, false)],
  [TPM_CC.GetRandom, S(0, 0, 0, false, true)],
  [TPM_CC.StirRandom, S(0, 0, 0, true, false)],
  [TPM_CC.GetCapability, S(0, 0, 0, false, false)],
  [TPM_CC.GetTestResult, S(0, 0, 0, false, true)],
  [TPM_CC.PCR_Read, S(0, 0, 0, false, false)],
  [TPM_CC.PCR_Extend, S(1, 1, 0, false, false)],
  [TPM_CC.PCR_Event, S(1, 1, 0, true, false)],
  [TPM_CC.PCR_Reset, S(1, 1, 0, false, false)],
  [TPM_CC.CreatePrimary, S(1, 1, 1, true, true)],
  [TPM_CC.Create, S(1, 1, 0, true, true)],
  [TPM_CC.CreateLoaded, S(1, 1, 1, true, true)],
  [TPM_CC.Load, S(1, 1, 1, true, false)],
  [TPM_CC.LoadExternal, S(0, 0, 1, true, true)],
  [TPM_CC.Import, S(1, 1, 0, true, true)],
  [TPM_CC.Duplicate, S(2, 1, 0, true, true)],
  [TPM_CC.ReadPublic, S(1, 0, 0, false, true)],
  [TPM_CC.Unseal, S(1, 1, 0, false, true)],
  [TPM_CC.ObjectChangeAuth, S(2, 1, 0, true, true)],
  [TPM_CC.FlushContext, S(0, 0, 0, false, false)],
  [TPM_CC.EvictControl, S(2, 1, 0, false, false)],
  [TPM_CC.ContextSave, S(1, 0, 0, false, false)],
  [TPM_CC.ContextLoad, S(0, 0, 1, false, false)],
  [TPM_CC.StartAuthSession, S(2, 0, 1, true, true)],
  [TPM_CC.PolicyPCR, S(1, 0, 0, true, false)],
  [TPM_CC.PolicyAuthValue, S(1, 0, 0, false, false)],
  [TPM_CC.PolicyPassword, S(1, 0, 0, false, false)],
  [TPM_CC.PolicyGetDigest, S(1, 0, 0, false, true)],
  [TPM_CC.PolicyRestart, S(1, 0, 0, false, false)],
  [TPM_CC.PolicyOR, S(1, 0, 0, false, false)],
  [TPM_CC.PolicyAuthorize, S(1, 0, 0, true, false)],
  [TPM_CC.PolicyCommandCode, S(1, 0, 0, false, false)],
  [TPM_CC.PolicySecret, S(2, 1, 0, true, true)],
  [TPM_CC.NV_DefineSpace, S(1, 1, 0, true, false)],
  [TPM_CC.NV_UndefineSpace, S(2, 1, 0, false, false)],
  [TPM_CC.NV_Write, S(2, 1, 0, true, false)],
  [TPM_CC.NV_Read, S(2, 1, 0, false, true)],
  [TPM_CC.NV_ReadPublic, S(1, 0, 0, false, true)],
  [TPM_CC.DictionaryAttackLockReset, S(1, 1, 0, false, false)],
  [TPM_CC.DictionaryAttackParameters, S(1, 1, 0, false, false)],
  [TPM_CC.Hash, S(0, 0, 0, true, true)],
  [TPM_CC.Clear, S(1, 1, 0, false, false)],
  [TPM_CC.HierarchyChangeAuth, S(1, 1, 0, true, false)],
  [TPM_CC.RSA_Encrypt, S(1, 0, 0, true, true)],
  [TPM_CC.RSA_Decrypt, S(1, 1, 0, true, true)],
]);

/** `TPM2_Unseal` style name of a command code. */
export function commandName(code: number): string {
  const n = nameOf(TPM_CC, code);
  return n === undefined ? `TPM2_CC_${hex(code, 8)}` : `TPM2_${n}`;
}

/** The shape of a command, or an {@link UnsupportedError} for one this library does not know. */
export function commandShape(code: number): CommandShape {
  const s = COMMAND_SHAPES.get(code);
  if (!s)
    throw new UnsupportedError('TPM2_COMMAND_UNSUPPORTED', `command ${commandName(code)} is not supported`);
  return s;
}

/** A command in parsed form. */
export interface ParsedCommand {
  tag: number;
  code: number;
  handles: number[];
  auths: TpmsAuthCommand[];
  parameters: Uint8Array;
}

/** Marshals a whole command. With no `auths` the tag is TPM_ST_NO_SESSIONS. */
export function buildCommand(c: Omit<ParsedCommand, 'tag'>): Uint8Array {
  if (c.auths.length > MAX_SESSIONS)
    throw new FormatError('TPM2_TOO_MANY_SESSIONS', 'at most three sessions');
  const w = tpmWriter(HEADER_SIZE + 4 * c.handles.length + c.parameters.length + 128);
  w.u16(c.auths.length > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
    .u32(0)
    .u32(c.code);
  for (const h of c.handles) w.u32(h >>> 0);
  if (c.auths.length > 0) {
    const a = tpmWriter();
    for (const s of c.auths) TPMS_AUTH_COMMAND.write(a, s);
    const area = a.finish();
    w.u32(area.length).bytes(area);
  }
  w.bytes(c.parameters);
  const end = w.pos;
  if (end > MAX_MESSAGE_SIZE)
    throw new LimitError('TPM2_COMMAND_TOO_LARGE', `command of ${end} bytes is too large`);
  w.seek(2).u32(end).seek(end);
  return w.finish().slice();
}

/** Reads and checks a 10-byte header; returns tag, size and code/rc. */
export function readHeader(
  r: ByteReader,
  total: number,
  what: string,
): { tag: number; size: number; code: number } {
  const tag = r.u16();
  const sizeAt = r.pos;
  const size = r.u32();
  const code = r.u32();
  if (size !== total)
    bad('TPM2_SIZE', `${what} size field ${size} does not match the ${total} bytes given`, r, sizeAt);
  if (size > MAX_MESSAGE_SIZE)
    throw new LimitError('TPM2_MESSAGE_TOO_LARGE', `${what} of ${size} bytes exceeds ${MAX_MESSAGE_SIZE}`, {
      structure: what,
    });
  return { tag, size, code };
}

/** Reads an authorization area of exactly `size` bytes. */
export function readAuthArea<T>(r: ByteReader, size: number, read: (r: ByteReader) => T, what: string): T[] {
  const start = r.pos;
  if (size > r.remaining)
    bad('TPM2_AUTHSIZE', `${what} size ${size} exceeds the ${r.remaining} bytes left`, r, start - 4);
  const end = start + size;
  const out: T[] = [];
  while (r.pos < end) {
    if (out.length === MAX_SESSIONS) bad('TPM2_AUTHSIZE', `more than ${MAX_SESSIONS} sessions`, r, r.pos);
    out.push(read(r));
    if (r.pos > end) bad('TPM2_AUTHSIZE', `${what} overruns its declared size`, r, start - 4);
  }
  return out;
}

/**
 * Parses a command as a TPM would (the shape comes from {@link COMMAND_SHAPES}): header, handles,
 * authorization area and the raw parameter bytes. Useful for proxies, loggers and fuzzing.
 */
export function parseCommand(bytes: Uint8Array): ParsedCommand {
  const r = tpmReader(bytes, 'TPM command');
  return within(r, 'TPM command', () => {
    const { tag, code } = readHeader(r, bytes.length, 'command');
    if (tag !== TPM_ST.SESSIONS && tag !== TPM_ST.NO_SESSIONS)
      bad('TPM2_BAD_TAG', `bad command tag ${hex(tag)}`, r, 0);
    const shape = COMMAND_SHAPES.get(code);
    if (!shape) bad('TPM2_COMMAND_CODE', `unknown or unsupported command code ${hex(code, 8)}`, r, 6);
    const handles: number[] = [];
    for (let i = 0; i < shape.handles; i++) handles.push(r.u32());
    let auths: TpmsAuthCommand[] = [];
    if (tag === TPM_ST.SESSIONS) {
      const size = r.u32();
      auths = within(r, 'authorization area', () =>
        readAuthArea(r, size, (x) => TPMS_AUTH_COMMAND.read(x), 'authorizationSize'),
      );
      if (auths.length === 0)
        bad('TPM2_AUTHSIZE', 'TPM_ST_SESSIONS with an empty authorization area', r, r.pos);
    }
    if (auths.length < shape.auth)
      bad(
        'TPM2_AUTH_MISSING',
        `${commandName(code)} needs ${shape.auth} authorization(s), has ${auths.length}`,
        r,
        r.pos,
      );
    return { tag, code, handles, auths, parameters: r.bytesCopy(r.remaining) };
  });
}
