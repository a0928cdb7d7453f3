import type { ByteReader, ByteWriter } from '@lsvm/core';
import {
  TPM2B_AUTH,
  TPM2B_DATA,
  TPM2B_DIGEST,
  TPM2B_ENCRYPTED_SECRET,
  TPM2B_MAX_NV_BUFFER,
  TPM2B_NAME,
  TPM2B_NONCE,
  TPM2B_PRIVATE,
  TPM2B_SENSITIVE_DATA,
  TPMI_ALG_HASH,
  TPMI_YES_NO,
} from './basic.js';
import { TPMS_CAPABILITY_DATA, type TpmsCapabilityData } from './capability.js';
import { commandName } from './command.js';
import { TPM_CC, TPM_RH, TPM_ST } from './constants.js';
import { TPMS_CONTEXT, type TpmsContext } from './context.js';
import {
  TPM2B_CREATION_DATA,
  TPMT_TK_CREATION,
  TPMT_TK_VERIFIED,
  type TpmsCreationData,
  type TpmtTicket,
  nullTicket,
} from './creation.js';
import { bad, list, tpmReader, tpmWriter, within } from './marshal.js';
import { TPM2B_NV_PUBLIC, type TpmsNvPublic } from './nv.js';
import { TPML_PCR_SELECTION, type TpmsPcrSelection } from './pcr-selection.js';
import { TPM2B_PUBLIC, type TpmtPublic } from './public.js';
import { TPMT_HA, TPMT_SYM_DEF, TPMT_SYM_DEF_OBJECT, type TpmtHa, type TpmtSymDef } from './schemes.js';
import { TPM2B_SENSITIVE, TPM2B_SENSITIVE_CREATE, type TpmtSensitive } from './sensitive.js';

/**
 * Command builders and response parsers (Part 3). A builder returns a {@link TpmCommand}: the
 * handles and marshalled parameters, plus the parser of the response parameters. The client
 * ({@link Tpm}) adds sessions, sends it and calls `parse`; callers without a client can use
 * `buildCommand` and `parseResponse` directly.
 */
export interface TpmCommand<R> {
  readonly code: number;
  /** Handle area, in order (the first `auth` of them need a session, see COMMAND_SHAPES). */
  readonly handles: readonly number[];
  /** Marshalled parameter area. */
  readonly parameters: Uint8Array;
  /** Reads the response parameters (the whole area) and the response handles. */
  parse(parameters: Uint8Array, handles: readonly number[]): R;
}

/** TPML_DIGEST: at most 8 digests (Part 2 §10.9.2). */
export const TPML_DIGEST = list('TPML_DIGEST', TPM2B_DIGEST, 8);
/** TPML_DIGEST_VALUES: at most HASH_COUNT TPMT_HA values. */
export const TPML_DIGEST_VALUES = list('TPML_DIGEST_VALUES', TPMT_HA, 8);

function cmd<R>(
  code: number,
  handles: readonly number[],
  write: (w: ByteWriter) => void,
  read: (r: ByteReader, handles: readonly number[]) => R,
): TpmCommand<R> {
  const w = tpmWriter();
  write(w);
  return {
    code,
    handles,
    parameters: w.finish().slice(),
    parse(parameters, rh) {
      const name = `${commandName(code)} response parameters`;
      const r = tpmReader(parameters, name);
      const v = within(r, name, () => read(r, rh));
      if (r.remaining !== 0)
        bad('TPM2_TRAILING_BYTES', `${r.remaining} unexpected bytes after the parameters`, r, r.pos, name);
      return v;
    },
  };
}
const none = (): void => undefined;

/** TPM2_Startup(startupType). */
export const Startup = (startupType: number): TpmCommand<void> =>
  cmd(TPM_CC.Startup, [], (w) => w.u16(startupType), none);
/** TPM2_Shutdown(shutdownType). */
export const Shutdown = (shutdownType: number): TpmCommand<void> =>
  cmd(TPM_CC.Shutdown, [], (w) => w.u16(shutdownType), none);
/** TPM2_SelfTest(fullTest). */
export const SelfTest = (fullTest: boolean): TpmCommand<void> =>
  cmd(TPM_CC.SelfTest, [], (w) => w.u8(fullTest ? 1 : 0), none);
/** TPM2_GetRandom(bytesRequested) → randomBytes. */
export const GetRandom = (bytesRequested: number): TpmCommand<Uint8Array> =>
  cmd(
    TPM_CC.GetRandom,
    [],
    (w) => w.u16(bytesRequested),
    (r) => TPM2B_DIGEST.read(r),
  );

/** Result of GetCapability. */
export interface GetCapabilityResult {
  moreData: boolean;
  capabilityData: TpmsCapabilityData;
}
/** TPM2_GetCapability(capability, property, propertyCount). */
export const GetCapability = (
  capability: number,
  property: number,
  propertyCount: number,
): TpmCommand<GetCapabilityResult> =>
  cmd(
    TPM_CC.GetCapability,
    [],
    (w) => w.u32(capability).u32(property).u32(propertyCount),
    (r) => ({ moreData: TPMI_YES_NO.read(r) === 1, capabilityData: TPMS_CAPABILITY_DATA.read(r) }),
  );

/** Result of PCR_Read. */
export interface PcrReadResult {
  pcrUpdateCounter: number;
  pcrSelectionOut: TpmsPcrSelection[];
  pcrValues: Uint8Array[];
}
/** TPM2_PCR_Read(pcrSelectionIn). The TPM returns at most 8 digests per call. */
export const PCR_Read = (selection: TpmsPcrSelection[]): TpmCommand<PcrReadResult> =>
  cmd(
    TPM_CC.PCR_Read,
    [],
    (w) => TPML_PCR_SELECTION.write(w, selection),
    (r) => ({
      pcrUpdateCounter: r.u32(),
      pcrSelectionOut: TPML_PCR_SELECTION.read(r),
      pcrValues: TPML_DIGEST.read(r),
    }),
  );
/** TPM2_PCR_Extend(pcrHandle, digests). */
export const PCR_Extend = (pcr: number, digests: TpmtHa[]): TpmCommand<void> =>
  cmd(TPM_CC.PCR_Extend, [pcr], (w) => TPML_DIGEST_VALUES.write(w, digests), none);
/** TPM2_PCR_Reset(pcrHandle). */
export const PCR_Reset = (pcr: number): TpmCommand<void> => cmd(TPM_CC.PCR_Reset, [pcr], none, none);

/** Result of CreatePrimary. */
export interface CreatePrimaryResult {
  handle: number;
  outPublic: TpmtPublic;
  creationData: TpmsCreationData;
  creationHash: Uint8Array;
  creationTicket: TpmtTicket;
  name: Uint8Array;
}
/** Inputs shared by Create and CreatePrimary. */
export interface CreateInputs {
  /** Sensitive data: the new object's authValue and (for sealed data) its secret. */
  inSensitive: { userAuth: Uint8Array; data: Uint8Array };
  /** Template. */
  inPublic: TpmtPublic;
  outsideInfo?: Uint8Array;
  creationPCR?: TpmsPcrSelection[];
}
function writeCreate(w: ByteWriter, i: CreateInputs): void {
  TPM2B_SENSITIVE_CREATE.write(w, i.inSensitive);
  TPM2B_PUBLIC.write(w, i.inPublic);
  TPM2B_DATA.write(w, i.outsideInfo ?? new Uint8Array(0));
  TPML_PCR_SELECTION.write(w, i.creationPCR ?? []);
}
/** TPM2_CreatePrimary(primaryHandle, …). */
export const CreatePrimary = (hierarchy: number, inputs: CreateInputs): TpmCommand<CreatePrimaryResult> =>
  cmd(
    TPM_CC.CreatePrimary,
    [hierarchy],
    (w) => writeCreate(w, inputs),
    (r, h) => ({
      handle: h[0] ?? 0,
      outPublic: TPM2B_PUBLIC.read(r),
      creationData: TPM2B_CREATION_DATA.read(r),
      creationHash: TPM2B_DIGEST.read(r),
      creationTicket: TPMT_TK_CREATION.read(r),
      name: TPM2B_NAME.read(r),
    }),
  );

/** Result of Create. */
export interface CreateResult {
  outPrivate: Uint8Array;
  outPublic: TpmtPublic;
  creationData: TpmsCreationData;
  creationHash: Uint8Array;
  creationTicket: TpmtTicket;
}
/** TPM2_Create(parentHandle, …). */
export const Create = (parent: number, inputs: CreateInputs): TpmCommand<CreateResult> =>
  cmd(
    TPM_CC.Create,
    [parent],
    (w) => writeCreate(w, inputs),
    (r) => ({
      outPrivate: TPM2B_PRIVATE.read(r),
      outPublic: TPM2B_PUBLIC.read(r),
      creationData: TPM2B_CREATION_DATA.read(r),
      creationHash: TPM2B_DIGEST.read(r),
      creationTicket: TPMT_TK_CREATION.read(r),
    }),
  );

/** Result of Load / LoadExternal / ContextLoad. */
export interface LoadResult {
  handle: number;
  name: Uint8Array;
}
/** TPM2_Load(parentHandle, inPrivate, inPublic). */
export const Load = (parent: number, inPrivate: Uint8Array, inPublic: TpmtPublic): TpmCommand<LoadResult> =>
  cmd(
    TPM_CC.Load,
    [parent],
    (w) => {
      TPM2B_PRIVATE.write(w, inPrivate);
      TPM2B_PUBLIC.write(w, inPublic);
    },
    (r, h) => ({ handle: h[0] ?? 0, name: TPM2B_NAME.read(r) }),
  );
/** TPM2_LoadExternal(inPrivate?, inPublic, hierarchy). */
export const LoadExternal = (
  inPrivate: TpmtSensitive | undefined,
  inPublic: TpmtPublic,
  hierarchy: number = TPM_RH.NULL,
): TpmCommand<LoadResult> =>
  cmd(
    TPM_CC.LoadExternal,
    [],
    (w) => {
      TPM2B_SENSITIVE.write(w, inPrivate);
      TPM2B_PUBLIC.write(w, inPublic);
      w.u32(hierarchy);
    },
    (r, h) => ({ handle: h[0] ?? 0, name: TPM2B_NAME.read(r) }),
  );

/** Inputs of TPM2_Import. */
export interface ImportInputs {
  encryptionKey: Uint8Array;
  objectPublic: TpmtPublic;
  duplicate: Uint8Array;
  inSymSeed: Uint8Array;
  symmetricAlg: TpmtSymDef;
}
/** TPM2_Import(parentHandle, …) → outPrivate. */
export const Import = (parent: number, i: ImportInputs): TpmCommand<Uint8Array> =>
  cmd(
    TPM_CC.Import,
    [parent],
    (w) => {
      TPM2B_DATA.write(w, i.encryptionKey);
      TPM2B_PUBLIC.write(w, i.objectPublic);
      TPM2B_PRIVATE.write(w, i.duplicate);
      TPM2B_ENCRYPTED_SECRET.write(w, i.inSymSeed);
      TPMT_SYM_DEF_OBJECT.write(w, i.symmetricAlg);
    },
    (r) => TPM2B_PRIVATE.read(r),
  );

/** Result of ReadPublic. */
export interface ReadPublicResult {
  outPublic: TpmtPublic;
  name: Uint8Array;
  qualifiedName: Uint8Array;
}
/** TPM2_ReadPublic(objectHandle). */
export const ReadPublic = (object: number): TpmCommand<ReadPublicResult> =>
  cmd(TPM_CC.ReadPublic, [object], none, (r) => ({
    outPublic: TPM2B_PUBLIC.read(r),
    name: TPM2B_NAME.read(r),
    qualifiedName: TPM2B_NAME.read(r),
  }));
/** TPM2_Unseal(itemHandle) → outData. */
export const Unseal = (item: number): TpmCommand<Uint8Array> =>
  cmd(TPM_CC.Unseal, [item], none, (r) => TPM2B_SENSITIVE_DATA.read(r));
/** TPM2_FlushContext(flushHandle) — the handle is a parameter, not in the handle area. */
export const FlushContext = (handle: number): TpmCommand<void> =>
  cmd(TPM_CC.FlushContext, [], (w) => w.u32(handle), none);
/** TPM2_EvictControl(auth, objectHandle, persistentHandle). */
export const EvictControl = (auth: number, object: number, persistent: number): TpmCommand<void> =>
  cmd(TPM_CC.EvictControl, [auth, object], (w) => w.u32(persistent), none);
/** TPM2_ContextSave(saveHandle). */
export const ContextSave = (handle: number): TpmCommand<TpmsContext> =>
  cmd(TPM_CC.ContextSave, [handle], none, (r) => TPMS_CONTEXT.read(r));
/** TPM2_ContextLoad(context) → loadedHandle. */
export const ContextLoad = (context: TpmsContext): TpmCommand<number> =>
  cmd(
    TPM_CC.ContextLoad,
    [],
    (w) => TPMS_CONTEXT.write(w, context),
    (_r, h) => h[0] ?? 0,
  );

/** Inputs of TPM2_StartAuthSession. */
export interface StartAuthSessionInputs {
  tpmKey: number;
  bind: number;
  nonceCaller: Uint8Array;
  encryptedSalt: Uint8Array;
  sessionType: number;
  symmetric: TpmtSymDef;
  authHash: number;
}
/** Result of StartAuthSession. */
export interface StartAuthSessionResult {
  handle: number;
  nonceTPM: Uint8Array;
}
/** TPM2_StartAuthSession(tpmKey, bind, …). */
export const StartAuthSession = (i: StartAuthSessionInputs): TpmCommand<StartAuthSessionResult> =>
  cmd(
    TPM_CC.StartAuthSession,
    [i.tpmKey, i.bind],
    (w) => {
      TPM2B_NONCE.write(w, i.nonceCaller);
      TPM2B_ENCRYPTED_SECRET.write(w, i.encryptedSalt);
      w.u8(i.sessionType);
      TPMT_SYM_DEF.write(w, i.symmetric);
      TPMI_ALG_HASH.write(w, i.authHash);
    },
    (r, h) => ({ handle: h[0] ?? 0, nonceTPM: TPM2B_NONCE.read(r) }),
  );

/** TPM2_PolicyPCR(policySession, pcrDigest, pcrs). */
export const PolicyPCR = (
  session: number,
  pcrDigest: Uint8Array,
  pcrs: TpmsPcrSelection[],
): TpmCommand<void> =>
  cmd(
    TPM_CC.PolicyPCR,
    [session],
    (w) => {
      TPM2B_DIGEST.write(w, pcrDigest);
      TPML_PCR_SELECTION.write(w, pcrs);
    },
    none,
  );
/** TPM2_PolicyAuthValue(policySession). */
export const PolicyAuthValue = (session: number): TpmCommand<void> =>
  cmd(TPM_CC.PolicyAuthValue, [session], none, none);
/** TPM2_PolicyPassword(policySession). */
export const PolicyPassword = (session: number): TpmCommand<void> =>
  cmd(TPM_CC.PolicyPassword, [session], none, none);
/** TPM2_PolicyGetDigest(policySession) → policyDigest. */
export const PolicyGetDigest = (session: number): TpmCommand<Uint8Array> =>
  cmd(TPM_CC.PolicyGetDigest, [session], none, (r) => TPM2B_DIGEST.read(r));
/** TPM2_PolicyRestart(sessionHandle). */
export const PolicyRestart = (session: number): TpmCommand<void> =>
  cmd(TPM_CC.PolicyRestart, [session], none, none);
/** TPM2_PolicyOR(policySession, pHashList) — 2 to 8 branch digests. */
export const PolicyOR = (session: number, digests: Uint8Array[]): TpmCommand<void> =>
  cmd(TPM_CC.PolicyOR, [session], (w) => TPML_DIGEST.write(w, digests), none);
/** TPM2_PolicyCommandCode(policySession, code). */
export const PolicyCommandCode = (session: number, code: number): TpmCommand<void> =>
  cmd(TPM_CC.PolicyCommandCode, [session], (w) => w.u32(code), none);
/** TPM2_PolicyAuthorize(policySession, approvedPolicy, policyRef, keySign, checkTicket). */
export const PolicyAuthorize = (
  session: number,
  approvedPolicy: Uint8Array,
  policyRef: Uint8Array,
  keySign: Uint8Array,
  checkTicket: TpmtTicket = nullTicket(TPM_ST.VERIFIED),
): TpmCommand<void> =>
  cmd(
    TPM_CC.PolicyAuthorize,
    [session],
    (w) => {
      TPM2B_DIGEST.write(w, approvedPolicy);
      TPM2B_NONCE.write(w, policyRef);
      TPM2B_NAME.write(w, keySign);
      TPMT_TK_VERIFIED.write(w, checkTicket);
    },
    none,
  );

/** TPM2_NV_DefineSpace(authHandle, auth, publicInfo). */
export const NV_DefineSpace = (
  authHandle: number,
  auth: Uint8Array,
  publicInfo: TpmsNvPublic,
): TpmCommand<void> =>
  cmd(
    TPM_CC.NV_DefineSpace,
    [authHandle],
    (w) => {
      TPM2B_AUTH.write(w, auth);
      TPM2B_NV_PUBLIC.write(w, publicInfo);
    },
    none,
  );
/** TPM2_NV_UndefineSpace(authHandle, nvIndex). */
export const NV_UndefineSpace = (authHandle: number, nvIndex: number): TpmCommand<void> =>
  cmd(TPM_CC.NV_UndefineSpace, [authHandle, nvIndex], none, none);
/** TPM2_NV_Write(authHandle, nvIndex, data, offset). */
export const NV_Write = (
  authHandle: number,
  nvIndex: number,
  data: Uint8Array,
  offset: number,
): TpmCommand<void> =>
  cmd(
    TPM_CC.NV_Write,
    [authHandle, nvIndex],
    (w) => {
      TPM2B_MAX_NV_BUFFER.write(w, data);
      w.u16(offset);
    },
    none,
  );
/** TPM2_NV_Read(authHandle, nvIndex, size, offset) → data. */
export const NV_Read = (
  authHandle: number,
  nvIndex: number,
  size: number,
  offset: number,
): TpmCommand<Uint8Array> =>
  cmd(
    TPM_CC.NV_Read,
    [authHandle, nvIndex],
    (w) => w.u16(size).u16(offset),
    (r) => TPM2B_MAX_NV_BUFFER.read(r),
  );
/** Result of NV_ReadPublic. */
export interface NvReadPublicResult {
  nvPublic: TpmsNvPublic;
  nvName: Uint8Array;
}
/** TPM2_NV_ReadPublic(nvIndex). */
export const NV_ReadPublic = (nvIndex: number): TpmCommand<NvReadPublicResult> =>
  cmd(TPM_CC.NV_ReadPublic, [nvIndex], none, (r) => ({
    nvPublic: TPM2B_NV_PUBLIC.read(r),
    nvName: TPM2B_NAME.read(r),
  }));
/** TPM2_DictionaryAttackLockReset(lockHandle). */
export const DictionaryAttackLockReset = (lockHandle: number = TPM_RH.LOCKOUT): TpmCommand<void> =>
  cmd(TPM_CC.DictionaryAttackLockReset, [lockHandle], none, none);
/** TPM2_DictionaryAttackParameters(lockHandle, newMaxTries, newRecoveryTime, lockoutRecovery). */
export const DictionaryAttackParameters = (
  newMaxTries: number,
  newRecoveryTime: number,
  lockoutRecovery: number,
  lockHandle: number = TPM_RH.LOCKOUT,
): TpmCommand<void> =>
  cmd(
    TPM_CC.DictionaryAttackParameters,
    [lockHandle],
    (w) => w.u32(newMaxTries).u32(newRecoveryTime).u32(lockoutRecovery),
    none,
  );

/**
 * Every response parser, keyed by command code, for callers (and fuzzers) holding raw response
 * parameters. The builders' arguments do not matter to the parsers, so each is built with
 * placeholders.
 */
export const RESPONSE_PARSERS: ReadonlyMap<
  number,
  (parameters: Uint8Array, handles: readonly number[]) => unknown
> = (() => {
  const dummyPublic = {
    type: 0x0008,
    nameAlg: 0x000b,
    objectAttributes: 0,
    authPolicy: new Uint8Array(0),
    parameters: { scheme: { scheme: 0x10 } },
    unique: new Uint8Array(0),
  } as TpmtPublic;
  const ctx: TpmsContext = {
    sequence: 0n,
    savedHandle: 0x80000000,
    hierarchy: TPM_RH.NULL,
    contextBlob: new Uint8Array(0),
  };
  const all: TpmCommand<unknown>[] = [
    Startup(0),
    Shutdown(0),
    SelfTest(true),
    GetRandom(1),
    GetCapability(0, 0, 0),
    PCR_Read([]),
    PCR_Extend(0, []),
    PCR_Reset(0),
    CreatePrimary(TPM_RH.OWNER, {
      inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
      inPublic: dummyPublic,
    }),
    Create(0, {
      inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
      inPublic: dummyPublic,
    }),
    Load(0, new Uint8Array(0), dummyPublic),
    LoadExternal(undefined, dummyPublic),
    Import(0, {
      encryptionKey: new Uint8Array(0),
      objectPublic: dummyPublic,
      duplicate: new Uint8Array(0),
      inSymSeed: new Uint8Array(0),
      symmetricAlg: { algorithm: 0x10 },
    }),
    ReadPublic(0),
    Unseal(0),
    FlushContext(0),
    EvictControl(0, 0, 0),
    ContextSave(0),
    ContextLoad(ctx),
    StartAuthSession({
      tpmKey: 0,
      bind: 0,
      nonceCaller: new Uint8Array(0),
      encryptedSalt: new Uint8Array(0),
      sessionType: 0,
      symmetric: { algorithm: 0x10 },
      authHash: 0x000b,
    }),
    PolicyPCR(0, new Uint8Array(0), []),
    PolicyAuthValue(0),
    PolicyPassword(0),
    PolicyGetDigest(0),
    PolicyRestart(0),
    PolicyOR(0, []),
    PolicyAuthorize(0, new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)),
    NV_DefineSpace(0, new Uint8Array(0), {
      nvIndex: 0x01000000,
      nameAlg: 0x000b,
      attributes: 0,
      authPolicy: new Uint8Array(0),
      dataSize: 0,
    }),
    NV_UndefineSpace(0, 0),
    NV_Write(0, 0, new Uint8Array(0), 0),
    NV_Read(0, 0, 0, 0),
    NV_ReadPublic(0),
    DictionaryAttackLockReset(),
    DictionaryAttackParameters(0, 0, 0),
  ];
  return new Map(all.map((c) => [c.code, (p: Uint8Array, h: readonly number[]) => c.parse(p, h)]));
})();
