import { FormatError, UnsupportedError, VerificationError, quoted } from '@lsvm/core';
import { type CborValue, decodeCanonical, encodeCanonical } from './canonical-cbor.js';
import { type CertificateInfo, parseCertificate, requireSignature, signData } from './certificate.js';
import type { GuardianKeys } from './guardian.js';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';
import { asArray, asBytes, asMap, asText } from './schema.js';

/**
 * Specialization data (FSK, the semantics of New-ShieldedVMSpecializationDataFile / Msps_FSK):
 * ordered `@Name@` → value pairs substituted into the answer file on first boot
 * (`@ComputerName@`, `@TimeZone@`, `@IP4Addr-1@`, …), optionally signed by a guardian's signing
 * key. Layout: docs/formats/shielding-data.md, "Specialization data (FSK)".
 */

/** One substitution. */
export interface FskPair {
  /** `@Name@`: letters, digits, `_ . : -` between the at signs, at most 64 characters in all. */
  name: string;
  value: string;
}

/** A parsed FSK. */
export interface Fsk {
  version: 1;
  pairs: FskPair[];
  /** Signer certificate and signature, when signed. */
  signature?: { certificate: Uint8Array; value: Uint8Array };
}

const S = 'FSK';
const FORMAT = 'lsvm-fsk';
const SIG_CONTEXT = 'lsvm fsk v1';
const NAME_RE = /^@[A-Za-z0-9_.:-]{1,62}@$/;

function checkPairs(pairs: FskPair[]): void {
  const seen = new Set<string>();
  for (const p of pairs) {
    if (!NAME_RE.test(p.name))
      throw new FormatError('FSK_NAME', `${quoted(p.name)} is not an @Name@ key`, { structure: S });
    if (seen.has(p.name))
      throw new FormatError('FSK_DUPLICATE', `key ${p.name} appears twice`, { structure: S });
    seen.add(p.name);
    if (p.value.length > 65536)
      throw new FormatError('FSK_VALUE', `value of ${p.name} is longer than 65536 characters`, {
        structure: S,
      });
  }
}

function signedBytes(pairs: FskPair[], certificate: Uint8Array): Uint8Array {
  return encodeCanonical([SIG_CONTEXT, pairs.map((p) => [p.name, p.value]), certificate]);
}

/** Parses `@Name@=value` (the CLI's `--set`). */
export function parseFskAssignment(s: string): FskPair {
  const m = /^(@[^@]*@)=([\s\S]*)$/.exec(s);
  if (!m) throw new FormatError('FSK_ASSIGNMENT', `${quoted(s)} is not @Name@=value`, { structure: S });
  const pair = { name: m[1]!, value: m[2]! };
  checkPairs([pair]);
  return pair;
}

/** Creates an FSK, signed when `signer` is given. */
export function createFsk(pairs: FskPair[], options: { signer?: GuardianKeys } = {}): Uint8Array {
  checkPairs(pairs);
  const m: Record<string, CborValue> = {
    format: FORMAT,
    v: 1,
    pairs: pairs.map((p) => [p.name, p.value]),
  };
  if (options.signer) {
    const cert = options.signer.signingCertificate;
    m.signer = cert;
    m.signature = signData(options.signer.signingKey, signedBytes(pairs, cert));
  }
  return encodeCanonical(m);
}

/** Parses an FSK (structure only; {@link verifyFsk} checks the signature). */
export function parseFsk(bytes: Uint8Array, limits: Partial<ShieldingLimits> = {}): Fsk {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  const m = asMap(decodeCanonical(bytes, S, l.maxContainerBytes), 'FSK', S, [
    'format',
    'v',
    'pairs',
    'signer',
    'signature',
  ]);
  if (m.format !== FORMAT)
    throw new FormatError('FSK_FORMAT', `not a specialization data file (format must be "${FORMAT}")`, {
      structure: S,
    });
  if (m.v !== 1)
    throw new UnsupportedError('FSK_VERSION', `FSK version ${quoted(m.v)} is not supported (1 is)`, {
      structure: S,
    });
  const pairs = asArray(m.pairs, 'pairs', S, l.maxFskPairs, 'FSK_TOO_MANY_PAIRS').map((x, i) => {
    const a = asArray(x, `pair ${i}`, S, 2, 'FSK_PAIR');
    if (a.length !== 2)
      throw new FormatError('FSK_PAIR', `pair ${i} must be [name, value]`, { structure: S });
    return { name: asText(a[0], 'name', S, 64), value: asText(a[1], 'value', S, 65536) };
  });
  checkPairs(pairs);
  const fsk: Fsk = { version: 1, pairs };
  if ((m.signer === undefined) !== (m.signature === undefined))
    throw new FormatError('FSK_SIGNATURE', 'signer and signature must be both present or both absent', {
      structure: S,
    });
  if (m.signer !== undefined)
    fsk.signature = {
      certificate: asBytes(m.signer, 'signer', S, l.maxCertificateBytes),
      value: asBytes(m.signature, 'signature', S, 2048),
    };
  return fsk;
}

/**
 * Verifies a signed FSK and returns its signer; `undefined` for an unsigned one unless
 * `requireSigned`. With `expectedSigner` (signing-certificate thumbprint) checks who signed.
 */
export function verifyFsk(
  fsk: Fsk,
  options: { expectedSigner?: string; requireSigned?: boolean } = {},
): CertificateInfo | undefined {
  if (!fsk.signature) {
    if (options.requireSigned || options.expectedSigner)
      throw new VerificationError('FSK_UNSIGNED', 'FSK is not signed', { structure: S });
    return undefined;
  }
  const cert = parseCertificate(fsk.signature.certificate, 'FSK signer');
  if (options.expectedSigner !== undefined && cert.thumbprint !== options.expectedSigner.toLowerCase())
    throw new VerificationError(
      'FSK_SIGNER_MISMATCH',
      `signer ${cert.thumbprint} is not the expected signer`,
      { structure: S },
    );
  requireSignature(
    cert,
    signedBytes(fsk.pairs, fsk.signature.certificate),
    fsk.signature.value,
    'FSK_SIGNATURE',
    'FSK signature',
    S,
  );
  return cert;
}

/**
 * Substitutes every `@Name@` of `pairs` in `text` (an answer file), in the FSK's order, each
 * occurrence replaced literally (no patterns, no recursion into substituted values). Returns the
 * new text and the names that did not occur, which a caller may want to report.
 */
export function applyFsk(text: string, pairs: FskPair[]): { text: string; unused: string[] } {
  checkPairs(pairs);
  const byName = new Map(pairs.map((p) => [p.name, p.value]));
  const used = new Set<string>();
  // One pass over the text, so a value containing another @Name@ is never substituted again.
  const out = text.replace(/@[A-Za-z0-9_.:-]{1,62}@/g, (m) => {
    const v = byName.get(m);
    if (v === undefined) return m;
    used.add(m);
    return v;
  });
  return { text: out, unused: pairs.map((p) => p.name).filter((n) => !used.has(n)) };
}
