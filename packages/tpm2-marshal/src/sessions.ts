import { randomBytes } from 'node:crypto';
import { FormatError, VerificationError, constantTimeEqual } from '@lsvm/core';
import type { TpmsAuthCommand, TpmsAuthResponse } from './auth-area.js';
import type { CommandShape } from './command.js';
import { TPMA_SESSION, TPM_RS_PW } from './constants.js';
import { aesCfb, checkAesCfb } from './crypto.js';
import { digestSize, hash, hmac } from './hash.js';
import { kdfa } from './kdf.js';
import type { TpmtSymDef } from './schemes.js';

/**
 * Authorization sessions (Part 1 §19, §21): the password session, and HMAC / policy / trial
 * sessions with their session key, rolling nonces, command and response HMACs and AES-CFB
 * parameter encryption. The {@link Tpm} client drives these; they hold no I/O.
 */

/** The password session TPM_RS_PW: the authValue travels in clear (Part 1 §19.8.4). */
export class PasswordSession {
  readonly kind = 'password' as const;
  readonly handle = TPM_RS_PW;
  constructor(readonly auth: Uint8Array = new Uint8Array(0)) {}

  /** Never serialises the password. */
  toJSON(): object {
    return { kind: this.kind, handle: this.handle };
  }
}

/** Session type of an {@link AuthSession}. */
export type AuthSessionType = 'hmac' | 'policy' | 'trial';

/**
 * An HMAC, policy or trial session started with TPM2_StartAuthSession. Secrets (sessionKey) live
 * in the object until {@link AuthSession.forget}; they are never printed.
 */
export class AuthSession {
  readonly kind: AuthSessionType;
  readonly handle: number;
  readonly hashAlg: number;
  readonly symmetric: TpmtSymDef;
  /** TPMA_SESSION bits sent with each command (continueSession is kept set by default). */
  attributes: number;
  /** Policy sessions: PolicyAuthValue was executed (the HMAC key includes the authValue). */
  needAuthValue = false;
  /** Policy sessions: PolicyPassword was executed (the authValue goes in clear). */
  needPassword = false;
  /** False once the TPM has flushed it (continueSession clear, or FlushContext). */
  active = true;
  /** @internal */ nonceCaller: Uint8Array;
  /** @internal */ nonceTPM: Uint8Array;
  /** @internal */ sessionKey: Uint8Array;
  /** @internal name of the bind entity, if bound */ readonly boundName: Uint8Array | undefined;

  /** @internal built by Tpm.startAuthSession */
  constructor(o: {
    kind: AuthSessionType;
    handle: number;
    hashAlg: number;
    symmetric: TpmtSymDef;
    nonceCaller: Uint8Array;
    nonceTPM: Uint8Array;
    sessionKey: Uint8Array;
    boundName?: Uint8Array;
    attributes?: number;
  }) {
    this.kind = o.kind;
    this.handle = o.handle;
    this.hashAlg = o.hashAlg;
    this.symmetric = o.symmetric;
    this.nonceCaller = o.nonceCaller;
    this.nonceTPM = o.nonceTPM;
    this.sessionKey = o.sessionKey;
    this.boundName = o.boundName;
    this.attributes = o.attributes ?? TPMA_SESSION.continueSession;
  }

  /** True when salted or bound (so its HMACs and encryption key are secret to the caller and TPM). */
  get hasSessionKey(): boolean {
    return this.sessionKey.length > 0;
  }

  /** Zeroes the session key (after the session ends). */
  forget(): void {
    this.sessionKey.fill(0);
    this.active = false;
  }

  /** Keeps TPM-side JSON dumps free of secrets. */
  toJSON(): object {
    return { kind: this.kind, handle: this.handle, hashAlg: this.hashAlg, attributes: this.attributes };
  }
}

/** Any session a command may carry. */
export type Session = PasswordSession | AuthSession;

/** A session used to authorize one handle, with the authValue of that handle's entity. */
export interface SessionUse {
  session: Session;
  authValue?: Uint8Array;
}

/** Removes trailing zero octets: the TPM keeps authValues that way (Part 1 §19.6.5 / Part 3 Create). */
export function trimAuth(a: Uint8Array): Uint8Array {
  let n = a.length;
  while (n > 0 && a[n - 1] === 0) n--;
  return a.subarray(0, n);
}

/**
 * The session key: `KDFa(hashAlg, bindAuth || salt, "ATH", nonceTPM, nonceCaller, digestBits)`,
 * or empty for an unbound, unsalted session (Part 1 §19.6.8).
 */
export function deriveSessionKey(
  hashAlg: number,
  bindAuth: Uint8Array,
  salt: Uint8Array,
  nonceTPM: Uint8Array,
  nonceCaller: Uint8Array,
): Uint8Array {
  if (bindAuth.length === 0 && salt.length === 0) return new Uint8Array(0);
  const key = new Uint8Array(bindAuth.length + salt.length);
  key.set(bindAuth);
  key.set(salt, bindAuth.length);
  const out = kdfa(hashAlg, key, 'ATH', nonceTPM, nonceCaller, digestSize(hashAlg) * 8);
  key.fill(0);
  return out;
}

function u32(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}
function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const EMPTY = new Uint8Array(0);

/** One command's session bookkeeping, built by {@link prepareSessions}. */
export interface PreparedCommand {
  parameters: Uint8Array;
  auths: TpmsAuthCommand[];
  /** Completes the response side: verifies HMACs, rolls nonces, decrypts the first parameter. */
  finish(rc: number, parameters: Uint8Array, auths: TpmsAuthResponse[]): Uint8Array;
}

function hmacKey(
  use: SessionUse,
  index: number,
  shape: CommandShape,
  names: readonly Uint8Array[],
): Uint8Array {
  const s = use.session as AuthSession;
  const authorizes = index < shape.auth;
  let withAuth = false;
  if (authorizes) {
    if (s.kind === 'hmac') {
      const name = names[index];
      withAuth = !(s.boundName !== undefined && name !== undefined && constantTimeEqual(s.boundName, name));
    } else withAuth = s.needAuthValue;
  }
  return withAuth ? concat(s.sessionKey, trimAuth(use.authValue ?? EMPTY)) : s.sessionKey;
}

/**
 * The parameter-encryption key: sessionKey, followed by the authValue of the entity whenever the
 * session authorizes a handle — whatever the binding or policy flags (the reference code's
 * `ParameterDecrypt` / `ParameterEncrypt`, which use the authValue if it is available).
 */
function encryptionKey(use: SessionUse, index: number, shape: CommandShape): Uint8Array {
  const s = use.session as AuthSession;
  return index < shape.auth ? concat(s.sessionKey, trimAuth(use.authValue ?? EMPTY)) : s.sessionKey;
}

function firstTpm2b(params: Uint8Array, what: string): number {
  if (params.length < 2)
    throw new FormatError('TPM2_NO_ENCRYPTABLE_PARAMETER', `${what}: no TPM2B parameter to encrypt`);
  const n = (params[0]! << 8) | params[1]!;
  if (2 + n > params.length) throw new FormatError('TPM2_SIZE', `${what}: first parameter overruns the area`);
  return n;
}

function cfb(
  s: AuthSession,
  key: Uint8Array,
  newer: Uint8Array,
  older: Uint8Array,
  data: Uint8Array,
  decrypt: boolean,
): Uint8Array {
  const bits = checkAesCfb(s.symmetric);
  const kiv = kdfa(s.hashAlg, key, 'CFB', newer, older, bits + 128);
  const out = aesCfb(kiv.subarray(0, bits / 8), kiv.subarray(bits / 8), data, decrypt);
  kiv.fill(0);
  return out;
}

/**
 * Computes the authorization area of one command (Part 1 §19.6): rolls each session's
 * nonceCaller, encrypts the first parameter for a `decrypt` session, computes cpHash and each
 * HMAC (`HMAC(sessionKey || authValue, cpHash || nonceCaller || nonceTPM || nonceDecrypt ||
 * nonceEncrypt || attributes)`), and returns the closure that checks the response.
 */
export function prepareSessions(
  code: number,
  shape: CommandShape,
  names: readonly Uint8Array[],
  parameters: Uint8Array,
  uses: readonly SessionUse[],
): PreparedCommand {
  const params = parameters.slice();
  const sess = uses.map((u) => u.session);
  for (const s of sess) {
    if (s.kind !== 'password') {
      if (!s.active)
        throw new FormatError(
          'TPM2_SESSION_CLOSED',
          `session 0x${s.handle.toString(16)} is no longer active`,
        );
      s.nonceCaller = new Uint8Array(randomBytes(digestSize(s.hashAlg)));
    }
  }
  const decIdx = sess.findIndex((s) => s.kind !== 'password' && (s.attributes & TPMA_SESSION.decrypt) !== 0);
  const encIdx = sess.findIndex((s) => s.kind !== 'password' && (s.attributes & TPMA_SESSION.encrypt) !== 0);
  if (decIdx >= 0) {
    if (!shape.encryptCommand)
      throw new FormatError('TPM2_NO_ENCRYPTABLE_PARAMETER', 'this command has no parameter to encrypt');
    const s = sess[decIdx] as AuthSession;
    const n = firstTpm2b(params, 'command');
    const key = encryptionKey(uses[decIdx]!, decIdx, shape);
    params.set(cfb(s, key, s.nonceCaller, s.nonceTPM, params.subarray(2, 2 + n), false), 2);
  }
  if (encIdx >= 0 && !shape.encryptResponse)
    throw new FormatError('TPM2_NO_ENCRYPTABLE_PARAMETER', 'this command returns no parameter to encrypt');

  const cpHashes = new Map<number, Uint8Array>();
  const cpHash = (alg: number): Uint8Array => {
    let h = cpHashes.get(alg);
    if (!h) {
      h = hash(alg, u32(code), ...names, params);
      cpHashes.set(alg, h);
    }
    return h;
  };

  const auths: TpmsAuthCommand[] = uses.map((u, i) => {
    const s = u.session;
    if (s.kind === 'password')
      return {
        sessionHandle: TPM_RS_PW,
        nonce: EMPTY,
        sessionAttributes: TPMA_SESSION.continueSession,
        hmac: s.auth,
      };
    if (s.kind !== 'hmac' && s.needPassword)
      return {
        sessionHandle: s.handle,
        nonce: s.nonceCaller,
        sessionAttributes: s.attributes,
        hmac: trimAuth(u.authValue ?? EMPTY),
      };
    const key = hmacKey(u, i, shape, names);
    const nDec = i === 0 && decIdx > 0 ? (sess[decIdx] as AuthSession).nonceTPM : EMPTY;
    const nEnc = i === 0 && encIdx > 0 && encIdx !== decIdx ? (sess[encIdx] as AuthSession).nonceTPM : EMPTY;
    const mac = hmac(
      s.hashAlg,
      key,
      cpHash(s.hashAlg),
      s.nonceCaller,
      s.nonceTPM,
      nDec,
      nEnc,
      new Uint8Array([s.attributes]),
    );
    return { sessionHandle: s.handle, nonce: s.nonceCaller, sessionAttributes: s.attributes, hmac: mac };
  });

  return {
    parameters: params,
    auths,
    finish(rc, rparams, rauths) {
      if (rauths.length !== uses.length)
        throw new FormatError(
          'TPM2_RESPONSE_SESSIONS',
          `response has ${rauths.length} session(s), command had ${uses.length}`,
        );
      const rpHashes = new Map<number, Uint8Array>();
      const ended: AuthSession[] = [];
      uses.forEach((u, i) => {
        const s = u.session;
        const a = rauths[i]!;
        if (s.kind === 'password') {
          if (a.hmac.length !== 0 || a.nonce.length !== 0)
            throw new VerificationError(
              'TPM2_RESPONSE_HMAC',
              'password session response carries a nonce or HMAC',
            );
          return;
        }
        s.nonceTPM = a.nonce;
        let rp = rpHashes.get(s.hashAlg);
        if (!rp) {
          rp = hash(s.hashAlg, u32(rc), u32(code), rparams);
          rpHashes.set(s.hashAlg, rp);
        }
        const pw = s.kind !== 'hmac' && s.needPassword;
        const key = hmacKey(u, i, shape, names);
        const expected = pw
          ? EMPTY
          : hmac(s.hashAlg, key, rp, s.nonceTPM, s.nonceCaller, new Uint8Array([a.sessionAttributes]));
        const emptyOk = (pw || key.length === 0) && a.hmac.length === 0;
        if (!emptyOk && !constantTimeEqual(expected, a.hmac))
          throw new VerificationError(
            'TPM2_RESPONSE_HMAC',
            `response HMAC of session ${i + 1} does not verify`,
            {
              structure: 'TPMS_AUTH_RESPONSE',
            },
          );
        if ((a.sessionAttributes & TPMA_SESSION.continueSession) === 0) ended.push(s);
        if (s.kind !== 'hmac' && i < shape.auth) {
          // A policy session that authorized a command starts over (Part 1 §19.7.1).
          s.needAuthValue = false;
          s.needPassword = false;
        }
      });
      let out = rparams;
      if (encIdx >= 0) {
        const s = sess[encIdx] as AuthSession;
        out = rparams.slice();
        const n = firstTpm2b(out, 'response');
        const key = encryptionKey(uses[encIdx]!, encIdx, shape);
        out.set(cfb(s, key, s.nonceTPM, s.nonceCaller, out.subarray(2, 2 + n), true), 2);
      }
      for (const s of ended) s.forget();
      return out;
    },
  };
}
