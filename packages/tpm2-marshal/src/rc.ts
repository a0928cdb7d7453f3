import { LsvmError } from '@lsvm/core';

/**
 * TPM_RC response codes (Part 2 §6.6). Format zero codes (bit 7 clear) are plain errors
 * (RC_VER1 + n) or warnings (RC_WARN + n); format one codes (bit 7 set) carry an error number in
 * bits 0..5 and say which parameter (bit 6 set, N in bits 8..11) or which handle (N 1..7) or
 * session (N 8..15, session N-8) caused it. The descriptions are the spec's, worded as
 * `tpm2_rc_decode` prints them.
 */

/** Format-zero errors: RC_VER1 (0x100) + n. */
const VER1: Record<number, [string, string]> = {
  0: ['INITIALIZE', 'TPM not initialized by TPM2_Startup or already initialized'],
  1: ['FAILURE', 'commands not being accepted because of a TPM failure'],
  3: ['SEQUENCE', 'improper use of a sequence handle'],
  11: ['PRIVATE', 'not currently used'],
  25: ['HMAC', 'not currently used'],
  32: ['DISABLED', 'the command is disabled'],
  33: ['EXCLUSIVE', 'command failed because audit sequence required exclusivity'],
  36: ['AUTH_TYPE', 'authorization handle is not correct for command'],
  37: ['AUTH_MISSING', 'command requires an authorization session for handle and it is not present'],
  38: ['POLICY', 'policy failure in math operation or an invalid authPolicy value'],
  39: ['PCR', 'PCR check fail'],
  40: ['PCR_CHANGED', 'PCR have changed since checked'],
  45: [
    'UPGRADE',
    'For all commands, other than TPM2_FieldUpgradeData, this code indicates that the TPM is in field upgrade mode. For TPM2_FieldUpgradeData, this code indicates that the TPM is not in field upgrade mode',
  ],
  46: ['TOO_MANY_CONTEXTS', 'context ID counter is at maximum'],
  47: ['AUTH_UNAVAILABLE', 'authValue or authPolicy is not available for selected entity'],
  48: ['REBOOT', 'a _TPM_Init and StartupCLEAR is required before the TPM can resume operation'],
  49: [
    'UNBALANCED',
    'the protection algorithms hash and symmetric are not reasonably balanced. The digest size of the hash must be larger than the key size of the symmetric algorithm.',
  ],
  66: [
    'COMMAND_SIZE',
    'command commandSize value is inconsistent with contents of the command buffer. Either the size is not the same as the octets loaded by the hardware interface layer or the value is not large enough to hold a command header',
  ],
  67: ['COMMAND_CODE', 'command code not supported'],
  68: [
    'AUTHSIZE',
    'the value of authorizationSize is out of range or the number of octets in the Authorization Area is greater than required',
  ],
  69: [
    'AUTH_CONTEXT',
    'use of an authorization session with a context command or another command that cannot have an authorization session',
  ],
  70: ['NV_RANGE', 'NV offset+size is out of range'],
  71: ['NV_SIZE', 'Requested allocation size is larger than allowed'],
  72: ['NV_LOCKED', 'NV access locked'],
  73: ['NV_AUTHORIZATION', 'NV access authorization fails in command actions'],
  74: [
    'NV_UNINITIALIZED',
    'an NV Index is used before being initialized or the state saved by TPM2_ShutdownSTATE could not be restored',
  ],
  75: ['NV_SPACE', 'insufficient space for NV allocation'],
  76: ['NV_DEFINED', 'NV Index or persistent object already defined'],
  80: ['BAD_CONTEXT', 'context in TPM2_ContextLoad is not valid'],
  81: ['CPHASH', 'cpHash value already set or not correct for use'],
  82: ['PARENT', 'handle for parent is not a valid parent'],
  83: ['NEEDS_TEST', 'some function needs testing'],
  84: [
    'NO_RESULT',
    'returned when an internal function cannot process a request due to an unspecified problem. This code is usually related to invalid parameters that are not properly filtered by the input unmarshaling code',
  ],
  85: ['SENSITIVE', 'the sensitive area did not unmarshal correctly after decryption'],
};

/** Format-one errors: RC_FMT1 (0x080) + n. */
const FMT1: Record<number, [string, string]> = {
  1: ['ASYMMETRIC', 'asymmetric algorithm not supported or not correct'],
  2: ['ATTRIBUTES', 'inconsistent attributes'],
  3: ['HASH', 'hash algorithm not supported or not appropriate'],
  4: ['VALUE', 'value is out of range or is not correct for the context'],
  5: ['HIERARCHY', 'hierarchy is not enabled or is not correct for the use'],
  7: ['KEY_SIZE', 'key size is not supported'],
  8: ['MGF', 'mask generation function not supported'],
  9: ['MODE', 'mode of operation not supported'],
  10: ['TYPE', 'the type of the value is not appropriate for the use'],
  11: ['HANDLE', 'the handle is not correct for the use'],
  12: ['KDF', 'unsupported key derivation function or function not appropriate for use'],
  13: ['RANGE', 'value was out of allowed range'],
  14: ['AUTH_FAIL', 'the authorization HMAC check failed and DA counter incremented'],
  15: ['NONCE', 'invalid nonce size or nonce value mismatch'],
  16: ['PP', 'authorization requires assertion of PP'],
  18: ['SCHEME', 'unsupported or incompatible scheme'],
  21: ['SIZE', 'structure is the wrong size'],
  22: ['SYMMETRIC', 'unsupported symmetric algorithm or key size or not appropriate for instance'],
  23: ['TAG', 'incorrect structure tag'],
  24: ['SELECTOR', 'union selector is incorrect'],
  26: [
    'INSUFFICIENT',
    'the TPM was unable to unmarshal a value because there were not enough octets in the input buffer',
  ],
  27: ['SIGNATURE', 'the signature is not valid'],
  28: ['KEY', 'key fields are not compatible with the selected use'],
  29: ['POLICY_FAIL', 'a policy check failed'],
  31: ['INTEGRITY', 'integrity check failed'],
  32: ['TICKET', 'invalid ticket'],
  33: ['RESERVED_BITS', 'reserved bits not set to zero as required'],
  34: ['BAD_AUTH', 'authorization failure without DA implications'],
  35: ['EXPIRED', 'the policy has expired'],
  36: [
    'POLICY_CC',
    'the commandCode in the policy is not the commandCode of the command or the command code in a policy command references a command that is not implemented',
  ],
  37: ['BINDING', 'public and sensitive portions of an object are not cryptographically bound'],
  38: ['CURVE', 'curve not supported'],
  39: ['ECC_POINT', 'point is not on the required curve'],
};

const ORD = ['1st', '2nd', '3rd', '4th', '5th', '6th', '7th'];
/** Warnings: RC_WARN (0x900) + n. */
const WARN: Record<number, [string, string]> = {
  1: ['CONTEXT_GAP', 'gap for context ID is too large'],
  2: ['OBJECT_MEMORY', 'out of memory for object contexts'],
  3: ['SESSION_MEMORY', 'out of memory for session contexts'],
  4: ['MEMORY', 'out of shared objectsession memory or need space for internal operations'],
  5: ['SESSION_HANDLES', 'out of session handles'],
  6: ['OBJECT_HANDLES', 'out of object handles'],
  7: ['LOCALITY', 'bad locality'],
  8: [
    'YIELDED',
    'the TPM has suspended operation on the command forward progress was made and the command may be retried',
  ],
  9: ['CANCELED', 'the command was canceled'],
  10: ['TESTING', 'TPM is performing selftests'],
  32: ['NV_RATE', 'the TPM is rate limiting accesses to prevent wearout of NV'],
  33: [
    'LOCKOUT',
    'authorizations for objects subject to DA protection are not allowed at this time because the TPM is in DA lockout mode',
  ],
  34: ['RETRY', 'the TPM was not able to start the command'],
  35: ['NV_UNAVAILABLE', 'the command may require writing of NV and NV is not current accessible'],
};
for (let i = 0; i < 7; i++) {
  WARN[0x10 + i] = [
    `REFERENCE_H${i}`,
    `the ${ORD[i]} handle in the handle area references a transient object or session that is not loaded`,
  ];
  WARN[0x18 + i] = [
    `REFERENCE_S${i}`,
    i === 4 || i === 5
      ? `the ${ORD[i]} session handle references a session that is not loaded`
      : `the ${ORD[i]} authorization session handle references a session that is not loaded`,
  ];
}

/** What a response code decodes to. */
export interface DecodedRc {
  /** The raw 32-bit value. */
  rc: number;
  /** TSS layer (bits 16..23): 0 for codes from the TPM itself. */
  layer: number;
  /** `success`, `error` (2.0 format zero or one), `warn`, `vendor`, or `tpm1.2`. */
  kind: 'success' | 'error' | 'warn' | 'vendor' | 'tpm1.2';
  /** The spec name, e.g. `TPM_RC_POLICY_FAIL`, or undefined for a number the spec does not define. */
  name: string | undefined;
  /** For format one: which handle, parameter or session caused it (`index` 0 = unspecified). */
  subject?: { type: 'handle' | 'parameter' | 'session'; index: number };
  /** The spec's description, as `tpm2_rc_decode` words it. */
  description: string;
  /** The base code with the subject bits masked off (e.g. 0x09d → 0x08e for AUTH_FAIL in session 1 is 0x98e → 0x08e). */
  base: number;
}

/** Decodes a TPM_RC (Part 2 §6.6.2, Figure 26 and 27). */
export function decodeRc(rc: number): DecodedRc {
  rc >>>= 0;
  const layer = (rc >>> 16) & 0xff;
  const code = rc & 0xffff;
  if (code === 0)
    return { rc, layer, kind: 'success', name: 'TPM_RC_SUCCESS', description: 'success', base: 0 };
  if (code & 0x80) {
    const e = code & 0x3f;
    const n = (code >>> 8) & 0xf;
    const subject: DecodedRc['subject'] =
      code & 0x40
        ? { type: 'parameter', index: n }
        : n >= 8
          ? { type: 'session', index: n - 8 }
          : { type: 'handle', index: n };
    const t = FMT1[e];
    return {
      rc,
      layer,
      kind: 'error',
      name: t ? `TPM_RC_${t[0]}` : undefined,
      subject,
      description: t ? t[1] : `unknown error num: 0x${e.toString(16).toUpperCase()}`,
      base: 0x80 | e,
    };
  }
  if (!(code & 0x100)) {
    return {
      rc,
      layer,
      kind: 'tpm1.2',
      name: undefined,
      description: 'unknown version 1.2 error code',
      base: code,
    };
  }
  if (code & 0x400) {
    return {
      rc,
      layer,
      kind: 'vendor',
      name: undefined,
      description: `Vendor specific error: 0x${(code & 0x7f).toString(16)}`,
      base: code,
    };
  }
  const e = code & 0x7f;
  const warn = (code & 0x800) !== 0;
  const t = (warn ? WARN : VER1)[e];
  return {
    rc,
    layer,
    kind: warn ? 'warn' : 'error',
    name: t ? `TPM_RC_${t[0]}` : undefined,
    description: t ? t[1] : `unknown ${warn ? 'warning' : 'error'} 0x${e.toString(16)}`,
    base: code & 0xf7f,
  };
}

/** `TPM_RC_POLICY_FAIL (session 1): a policy check failed` */
export function formatRc(rc: number | DecodedRc): string {
  const d = typeof rc === 'number' ? decodeRc(rc) : rc;
  const name = d.name ?? `TPM_RC 0x${d.rc.toString(16).padStart(3, '0')}`;
  const subj = d.subject
    ? ` (${d.subject.type} ${d.subject.index === 0 ? 'unspecified' : d.subject.index})`
    : '';
  const layer = d.layer !== 0 ? ` [layer ${d.layer}]` : '';
  return `${name}${subj}${layer}: ${d.description}`;
}

/** The error every TPM command failure surfaces as: an {@link LsvmError} carrying the decoded code. */
export class TpmError extends LsvmError {
  /** The decoded response code. */
  readonly rc: DecodedRc;
  /** The command that failed, e.g. `TPM2_Unseal`. */
  readonly command: string;

  constructor(rc: number, command: string) {
    const d = decodeRc(rc);
    const kind =
      d.base === 0x8e || d.base === 0xa2 || d.base === 0x9d || d.base === 0x921 ? 'auth' : 'format';
    super(kind, d.name ? d.name.replace(/^TPM_RC_/, 'TPM2_RC_') : 'TPM2_RC_UNKNOWN', formatRc(d), {
      structure: command,
    });
    this.rc = d;
    this.command = command;
  }

  /** The base response code (subject bits masked), compare with {@link RC}. */
  get base(): number {
    return this.rc.base;
  }
}

/** Base codes callers most often branch on. */
export const RC = {
  SUCCESS: 0x000,
  INITIALIZE: 0x100,
  POLICY_FAIL: 0x09d,
  AUTH_FAIL: 0x08e,
  BAD_AUTH: 0x0a2,
  PCR_CHANGED: 0x128,
  NV_DEFINED: 0x14c,
  HANDLE: 0x08b,
  VALUE: 0x084,
  INTEGRITY: 0x09f,
  LOCKOUT: 0x921,
  RETRY: 0x922,
  TESTING: 0x90a,
  YIELDED: 0x908,
} as const;
