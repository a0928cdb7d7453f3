import { randomBytes } from 'node:crypto';
import { FormatError, UsageError } from '@lsvm/core';
import type { TpmsCapabilityData, TpmsTaggedProperty } from './capability.js';
import { buildCommand, commandName, commandShape } from './command.js';
import * as C from './commands.js';
import { TPMA_SESSION, TPM_CAP, TPM_HT, TPM_RH, TPM_SE, TPM_ST, TPM_SU } from './constants.js';
import type { TpmsContext } from './context.js';
import type { TpmtTicket } from './creation.js';
import { createEncryptedSecret } from './crypto.js';
import { digestSize } from './hash.js';
import { handleName, isSelfNamed, objectName } from './names.js';
import type { TpmsNvPublic } from './nv.js';
import type { TpmsPcrSelection } from './pcr-selection.js';
import type { TpmtPublic } from './public.js';
import { RC, TpmError } from './rc.js';
import { parseResponse } from './response.js';
import { AES_128_CFB, type TpmtHa, type TpmtSymDef } from './schemes.js';
import type { TpmtSensitive } from './sensitive.js';
import {
  AuthSession,
  type AuthSessionType,
  PasswordSession,
  type SessionUse,
  deriveSessionKey,
  prepareSessions,
  trimAuth,
} from './sessions.js';
import type { TpmTransport } from './transports/transport.js';

/** How a command is authorized: one entry per handle that needs it, plus extra sessions. */
export interface AuthOptions {
  /**
   * Authorizations for the command's auth handles, in order: a session with the entity's
   * authValue, or bytes for a password session. Missing entries use the empty password.
   */
  auth?: (SessionUse | Uint8Array)[];
  /** Sessions that only encrypt or audit (after the authorization sessions). */
  extra?: AuthSession[];
}

/** Options of {@link Tpm.startAuthSession}. */
export interface StartSessionOptions {
  type?: AuthSessionType;
  hashAlg?: number;
  /** Salt the session to this loaded decrypt key (RSA-OAEP or ECDH + KDFe). */
  salt?: { handle: number; public: TpmtPublic };
  /** Bind the session to an entity and its authValue. */
  bind?: { handle: number; authValue: Uint8Array };
  /** Parameter-encryption cipher; AES-128-CFB by default (needed for encrypt/decrypt). */
  symmetric?: TpmtSymDef;
  /** TPMA_SESSION attributes; continueSession by default. */
  attributes?: number;
}

/** A PCR value as read. */
export interface PcrValue {
  hash: number;
  pcr: number;
  value: Uint8Array;
}

/**
 * A typed TPM 2.0 client over any {@link TpmTransport}. Each method builds its command, adds
 * the sessions (password by default), checks the response (HMACs, nonces, parameter
 * decryption) and returns typed results; a TPM error code becomes a {@link TpmError} such as
 * `TPM_RC_POLICY_FAIL (session 1)`.
 */
export class Tpm {
  private readonly names = new Map<number, Uint8Array>();
  /** Called with every command and response on the wire (for logging and tests). */
  onWire: ((direction: 'command' | 'response', bytes: Uint8Array) => void) | undefined;

  constructor(readonly transport: TpmTransport) {}

  /** Closes the transport. */
  close(): Promise<void> {
    return this.transport.close();
  }

  /** Records the name of a handle (learned from Load, CreatePrimary, ReadPublic…). */
  setName(handle: number, name: Uint8Array): void {
    this.names.set(handle >>> 0, name.slice());
  }

  /** The name of a handle, asking the TPM (ReadPublic / NV_ReadPublic) when not yet known. */
  async nameOf(handle: number): Promise<Uint8Array> {
    if (isSelfNamed(handle)) return handleName(handle);
    const known = this.names.get(handle >>> 0);
    if (known) return known;
    if (handle >>> 24 === TPM_HT.NV_INDEX) return (await this.nvReadPublic(handle)).nvName;
    return (await this.readPublic(handle)).name;
  }

  /** Sends a raw command and returns the raw response. */
  async sendRaw(command: Uint8Array): Promise<Uint8Array> {
    this.onWire?.('command', command);
    const r = await this.transport.send(command);
    this.onWire?.('response', r);
    return r;
  }

  /** Runs any command with its sessions; the building block of every typed method. */
  async run<R>(cmd: C.TpmCommand<R>, options: AuthOptions = {}): Promise<R> {
    const shape = commandShape(cmd.code);
    if (cmd.handles.length !== shape.handles)
      throw new UsageError('TPM2_HANDLES', `${commandName(cmd.code)} takes ${shape.handles} handle(s)`);
    const uses: SessionUse[] = [];
    for (let i = 0; i < shape.auth; i++) {
      const a = options.auth?.[i];
      uses.push(
        a === undefined
          ? { session: new PasswordSession() }
          : a instanceof Uint8Array
            ? { session: new PasswordSession(a) }
            : a,
      );
    }
    for (const s of options.extra ?? []) uses.push({ session: s });
    const needNames = uses.some((u) => u.session.kind !== 'password');
    const names = needNames ? await Promise.all(cmd.handles.map((h) => this.nameOf(h))) : [];
    // TPM_RC_RETRY, _YIELDED and _TESTING ask the caller to send the command again (Part 1 §30.2);
    // the sessions are rebuilt each time (fresh nonceCaller, the TPM's nonce unchanged).
    for (let attempt = 0; ; attempt++) {
      const prep = needNames ? prepareSessions(cmd.code, shape, names, cmd.parameters, uses) : undefined;
      const auths = prep
        ? prep.auths
        : uses.map((u) => ({
            sessionHandle: u.session.handle,
            nonce: new Uint8Array(0),
            sessionAttributes: TPMA_SESSION.continueSession,
            hmac: (u.session as PasswordSession).auth,
          }));
      const bytes = buildCommand({
        code: cmd.code,
        handles: [...cmd.handles],
        auths,
        parameters: prep?.parameters ?? cmd.parameters,
      });
      const resp = parseResponse(await this.sendRaw(bytes), shape.responseHandles);
      if (resp.rc !== 0) {
        const e = new TpmError(resp.rc, commandName(cmd.code));
        if ((e.base === RC.RETRY || e.base === RC.YIELDED || e.base === RC.TESTING) && attempt < 20) {
          await new Promise((r) => setTimeout(r, Math.min(100, 5 * (attempt + 1))));
          continue;
        }
        throw e;
      }
      if ((resp.tag === TPM_ST.SESSIONS) !== uses.length > 0)
        throw new FormatError('TPM2_BAD_TAG', `response tag does not match the command's sessions`, {
          structure: 'TPM response',
        });
      const params = prep ? prep.finish(resp.rc, resp.parameters, resp.auths) : resp.parameters;
      return cmd.parse(params, resp.handles);
    }
  }

  // --- sessions -------------------------------------------------------------------------

  /** TPM2_StartAuthSession, computing the session key for salted and bound sessions. */
  async startAuthSession(o: StartSessionOptions = {}): Promise<AuthSession> {
    const hashAlg = o.hashAlg ?? 0x000b;
    const kind = o.type ?? 'hmac';
    const nonceCaller = new Uint8Array(randomBytes(digestSize(hashAlg)));
    let salt: Uint8Array = new Uint8Array(0);
    let encryptedSalt: Uint8Array = new Uint8Array(0);
    if (o.salt) {
      const s = createEncryptedSecret(o.salt.public, 'SECRET');
      salt = s.seed;
      encryptedSalt = s.encrypted;
    }
    const symmetric = o.symmetric ?? AES_128_CFB;
    const r = await this.run(
      C.StartAuthSession({
        tpmKey: o.salt?.handle ?? TPM_RH.NULL,
        bind: o.bind?.handle ?? TPM_RH.NULL,
        nonceCaller,
        encryptedSalt,
        sessionType: kind === 'hmac' ? TPM_SE.HMAC : kind === 'policy' ? TPM_SE.POLICY : TPM_SE.TRIAL,
        symmetric,
        authHash: hashAlg,
      }),
    );
    const bindAuth = o.bind ? trimAuth(o.bind.authValue) : new Uint8Array(0);
    const sessionKey = deriveSessionKey(hashAlg, bindAuth, salt, r.nonceTPM, nonceCaller);
    salt.fill(0);
    return new AuthSession({
      kind,
      handle: r.handle,
      hashAlg,
      symmetric,
      nonceCaller,
      nonceTPM: r.nonceTPM,
      sessionKey,
      ...(o.bind ? { boundName: await this.nameOf(o.bind.handle) } : {}),
      ...(o.attributes !== undefined ? { attributes: o.attributes } : {}),
    });
  }

  /** TPM2_FlushContext; also marks a session object inactive. */
  async flushContext(h: number | AuthSession): Promise<void> {
    const handle = typeof h === 'number' ? h : h.handle;
    await this.run(C.FlushContext(handle));
    if (typeof h !== 'number') h.forget();
    this.names.delete(handle >>> 0);
  }

  // --- start-up and capabilities --------------------------------------------------------

  /** TPM2_Startup(CLEAR or STATE). */
  startup(clear = true): Promise<void> {
    return this.run(C.Startup(clear ? TPM_SU.CLEAR : TPM_SU.STATE));
  }
  /** TPM2_Shutdown(CLEAR or STATE). */
  shutdown(clear = true): Promise<void> {
    return this.run(C.Shutdown(clear ? TPM_SU.CLEAR : TPM_SU.STATE));
  }
  /** TPM2_SelfTest. */
  selfTest(full = true): Promise<void> {
    return this.run(C.SelfTest(full));
  }
  /** TPM2_GetRandom, looping until `n` bytes are gathered. */
  async getRandom(n: number, options: AuthOptions = {}): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const b = await this.run(C.GetRandom(Math.min(n - got, 32)), options);
      if (b.length === 0) throw new FormatError('TPM2_GETRANDOM_EMPTY', 'TPM returned no random bytes');
      out.set(b.subarray(0, n - got), got);
      got += b.length;
    }
    return out;
  }
  /** TPM2_GetCapability, one call (see getProperties / getHandles for the looping forms). */
  getCapability(capability: number, property: number, count: number): Promise<C.GetCapabilityResult> {
    return this.run(C.GetCapability(capability, property, count));
  }
  /** All TPM properties from `first` (e.g. TPM_PT.FAMILY_INDICATOR), following moreData. */
  async getProperties(first = 0x100, count = 0x80): Promise<TpmsTaggedProperty[]> {
    const out: TpmsTaggedProperty[] = [];
    let next = first;
    for (let round = 0; round < 64; round++) {
      const r = await this.getCapability(TPM_CAP.TPM_PROPERTIES, next, count);
      const d = r.capabilityData as Extract<TpmsCapabilityData, { capability: 6 }>;
      out.push(...d.properties);
      if (!r.moreData || d.properties.length === 0) break;
      next = d.properties[d.properties.length - 1]!.property + 1;
    }
    return out;
  }
  /** Handles of one type currently in use (e.g. 0x81000000 for persistent objects). */
  async getHandles(first: number): Promise<number[]> {
    const out: number[] = [];
    let next = first;
    for (let round = 0; round < 64; round++) {
      const r = await this.getCapability(TPM_CAP.HANDLES, next, 254);
      const d = r.capabilityData as Extract<TpmsCapabilityData, { capability: 1 }>;
      out.push(...d.handles.filter((h) => h >>> 24 === first >>> 24));
      if (!r.moreData || d.handles.length === 0) break;
      next = d.handles[d.handles.length - 1]! + 1;
    }
    return out;
  }
  /** The allocated PCR banks. */
  async getPcrBanks(): Promise<TpmsPcrSelection[]> {
    const r = await this.getCapability(TPM_CAP.PCRS, 0, 1);
    return (r.capabilityData as Extract<TpmsCapabilityData, { capability: 5 }>).pcrs;
  }

  // --- PCRs -----------------------------------------------------------------------------

  /**
   * Reads every selected PCR, in selection order (banks as given, PCRs ascending). The TPM
   * returns at most eight values per PCR_Read, so this loops; a PCR the TPM does not return
   * (an unallocated bank) is an error.
   */
  async pcrRead(selection: TpmsPcrSelection[]): Promise<PcrValue[]> {
    const want = selection.map((s) => ({ hash: s.hash, pcrs: [...new Set(s.pcrs)].sort((a, b) => a - b) }));
    const got = new Map<string, Uint8Array>();
    let counter: number | undefined;
    for (let round = 0; round < 64; round++) {
      const rest = want
        .map((s) => ({ hash: s.hash, pcrs: s.pcrs.filter((p) => !got.has(`${s.hash}:${p}`)) }))
        .filter((s) => s.pcrs.length > 0);
      if (rest.length === 0) break;
      const r = await this.run(C.PCR_Read(rest));
      if (counter !== undefined && r.pcrUpdateCounter !== counter) {
        got.clear(); // PCRs changed between reads: start over for a consistent snapshot
      }
      counter = r.pcrUpdateCounter;
      let i = 0;
      for (const s of r.pcrSelectionOut)
        for (const p of s.pcrs) {
          const v = r.pcrValues[i++];
          if (v) got.set(`${s.hash}:${p}`, v);
        }
      if (i === 0) break;
    }
    const out: PcrValue[] = [];
    for (const s of want)
      for (const p of s.pcrs) {
        const v = got.get(`${s.hash}:${p}`);
        if (!v)
          throw new FormatError(
            'TPM2_PCR_UNAVAILABLE',
            `the TPM did not return PCR ${p} of bank 0x${s.hash.toString(16)}`,
          );
        out.push({ hash: s.hash, pcr: p, value: v });
      }
    return out;
  }
  /** TPM2_PCR_Extend with one digest per bank. */
  pcrExtend(pcr: number, digests: TpmtHa[], options: AuthOptions = {}): Promise<void> {
    return this.run(C.PCR_Extend(pcr, digests), options);
  }
  /** TPM2_PCR_Reset (PCR 16 and 23 at locality 0). */
  pcrReset(pcr: number, options: AuthOptions = {}): Promise<void> {
    return this.run(C.PCR_Reset(pcr), options);
  }

  // --- objects --------------------------------------------------------------------------

  /** TPM2_CreatePrimary; remembers the new handle's name. */
  async createPrimary(
    hierarchy: number,
    inputs: C.CreateInputs,
    options: AuthOptions = {},
  ): Promise<C.CreatePrimaryResult> {
    const r = await this.run(C.CreatePrimary(hierarchy, inputs), options);
    this.setName(r.handle, r.name);
    return r;
  }
  /** TPM2_Create under a loaded parent. */
  create(parent: number, inputs: C.CreateInputs, options: AuthOptions = {}): Promise<C.CreateResult> {
    return this.run(C.Create(parent, inputs), options);
  }
  async load(
    parent: number,
    inPrivate: Uint8Array,
    inPublic: TpmtPublic,
    options: AuthOptions = {},
  ): Promise<C.LoadResult> {
    const r = await this.run(C.Load(parent, inPrivate, inPublic), options);
    this.setName(r.handle, r.name);
    return r;
  }
  /** TPM2_LoadExternal (public-only when `inPrivate` is undefined). */
  async loadExternal(
    inPrivate: TpmtSensitive | undefined,
    inPublic: TpmtPublic,
    hierarchy: number = TPM_RH.NULL,
  ): Promise<C.LoadResult> {
    const r = await this.run(C.LoadExternal(inPrivate, inPublic, hierarchy));
    this.setName(r.handle, r.name);
    return r;
  }
  /** TPM2_Import of a duplication blob; returns the new TPM2B_PRIVATE contents. */
  import(parent: number, inputs: C.ImportInputs, options: AuthOptions = {}): Promise<Uint8Array> {
    return this.run(C.Import(parent, inputs), options);
  }
  /** TPM2_ReadPublic; also checks the returned name matches the public area (Part 1 §16). */
  async readPublic(handle: number): Promise<C.ReadPublicResult> {
    const r = await this.run(C.ReadPublic(handle));
    const computed = objectName(r.outPublic);
    if (Buffer.compare(computed, r.name) !== 0)
      throw new FormatError(
        'TPM2_NAME_MISMATCH',
        'ReadPublic returned a name that does not match the public area',
      );
    this.setName(handle, r.name);
    return r;
  }
  /** TPM2_Unseal. Pass a session with the `encrypt` attribute to keep the secret off the wire. */
  unseal(item: number, options: AuthOptions = {}): Promise<Uint8Array> {
    return this.run(C.Unseal(item), options);
  }
  evictControl(
    object: number,
    persistent: number,
    options: AuthOptions = {},
    auth: number = TPM_RH.OWNER,
  ): Promise<void> {
    return this.run(C.EvictControl(auth, object, persistent), options);
  }
  /** TPM2_ContextSave. */
  contextSave(handle: number): Promise<TpmsContext> {
    return this.run(C.ContextSave(handle));
  }
  /** TPM2_ContextLoad; returns the new handle. */
  contextLoad(context: TpmsContext): Promise<number> {
    return this.run(C.ContextLoad(context));
  }

  // --- policy ---------------------------------------------------------------------------

  /** TPM2_PolicyPCR; with no digest the TPM uses the current PCR values. */
  policyPCR(
    session: AuthSession,
    pcrs: TpmsPcrSelection[],
    pcrDigest: Uint8Array = new Uint8Array(0),
  ): Promise<void> {
    return this.run(C.PolicyPCR(session.handle, pcrDigest, pcrs));
  }
  /** TPM2_PolicyAuthValue; the session's HMAC then includes the authValue. */
  async policyAuthValue(session: AuthSession): Promise<void> {
    await this.run(C.PolicyAuthValue(session.handle));
    session.needAuthValue = true;
    session.needPassword = false;
  }
  /** TPM2_PolicyPassword; the authValue is then sent in clear as the session's hmac. */
  async policyPassword(session: AuthSession): Promise<void> {
    await this.run(C.PolicyPassword(session.handle));
    session.needPassword = true;
    session.needAuthValue = false;
  }
  /** TPM2_PolicyGetDigest. */
  policyGetDigest(session: AuthSession): Promise<Uint8Array> {
    return this.run(C.PolicyGetDigest(session.handle));
  }
  /** TPM2_PolicyRestart. */
  async policyRestart(session: AuthSession): Promise<void> {
    await this.run(C.PolicyRestart(session.handle));
    session.needAuthValue = false;
    session.needPassword = false;
  }
  /** TPM2_PolicyOR over 2 to 8 branch digests. */
  policyOR(session: AuthSession, digests: Uint8Array[]): Promise<void> {
    return this.run(C.PolicyOR(session.handle, digests));
  }
  /** TPM2_PolicyAuthorize (with a NULL verification ticket unless one is given). */
  policyAuthorize(
    session: AuthSession,
    approvedPolicy: Uint8Array,
    policyRef: Uint8Array,
    keySign: Uint8Array,
    checkTicket?: TpmtTicket,
  ): Promise<void> {
    return this.run(C.PolicyAuthorize(session.handle, approvedPolicy, policyRef, keySign, checkTicket));
  }

  // --- NV -------------------------------------------------------------------------------

  /** TPM2_NV_DefineSpace (owner authorization by default). */
  nvDefineSpace(
    auth: Uint8Array,
    publicInfo: TpmsNvPublic,
    options: AuthOptions = {},
    authHandle: number = TPM_RH.OWNER,
  ): Promise<void> {
    return this.run(C.NV_DefineSpace(authHandle, auth, publicInfo), options);
  }
  /** TPM2_NV_UndefineSpace. */
  nvUndefineSpace(
    nvIndex: number,
    options: AuthOptions = {},
    authHandle: number = TPM_RH.OWNER,
  ): Promise<void> {
    this.names.delete(nvIndex >>> 0);
    return this.run(C.NV_UndefineSpace(authHandle, nvIndex), options);
  }
  /** TPM2_NV_Write (at most MAX_NV_BUFFER_SIZE bytes per call). */
  async nvWrite(
    nvIndex: number,
    data: Uint8Array,
    offset = 0,
    options: AuthOptions = {},
    authHandle = nvIndex,
  ): Promise<void> {
    await this.run(C.NV_Write(authHandle, nvIndex, data, offset), options);
    this.names.delete(nvIndex >>> 0); // TPMA_NV_WRITTEN may have changed the name
  }
  /** TPM2_NV_Read. */
  nvRead(
    nvIndex: number,
    size: number,
    offset = 0,
    options: AuthOptions = {},
    authHandle = nvIndex,
  ): Promise<Uint8Array> {
    return this.run(C.NV_Read(authHandle, nvIndex, size, offset), options);
  }
  /** TPM2_NV_ReadPublic; remembers the index's name. */
  async nvReadPublic(nvIndex: number): Promise<C.NvReadPublicResult> {
    const r = await this.run(C.NV_ReadPublic(nvIndex));
    this.setName(nvIndex, r.nvName);
    return r;
  }
  /** TPM2_DictionaryAttackLockReset (lockout authorization). */
  dictionaryAttackLockReset(options: AuthOptions = {}): Promise<void> {
    return this.run(C.DictionaryAttackLockReset(), options);
  }
  /** TPM2_DictionaryAttackParameters (lockout authorization). */
  dictionaryAttackParameters(
    maxTries: number,
    recoveryTime: number,
    lockoutRecovery: number,
    options: AuthOptions = {},
  ): Promise<void> {
    return this.run(C.DictionaryAttackParameters(maxTries, recoveryTime, lockoutRecovery), options);
  }
}
