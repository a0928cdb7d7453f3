import { type BlockDevice, FormatError, UsageError } from '@lsvm/core';
import { luks2Identity, writeLuks2Headers } from './header-write.js';
import { LUKS2_MAX_TOKENS } from './limits.js';
import { type JsonObject, cloneJson, fromJsonValue, isJsonObject, toJsonValue } from './luks2-json.js';
import { decodeBase64Strict } from './metadata-validate.js';
import { readLuks } from './luks-volume.js';
import { assertRequirementsMet } from './unlock.js';

/**
 * LUKS2 tokens (spec §3.5): JSON objects with a `type` and the `keyslots` they unlock, plus
 * whatever their handler needs. Tokens are stored in the metadata only, so adding or removing one
 * is a plain header update (both copies, seqid + 1).
 */

/** A token as the caller gives it: any JSON object with `type` and `keyslots` (string ids). */
export type TokenInput = { type: string; keyslots: string[] } & Record<string, unknown>;

/**
 * Adds a token and returns its id (default: the first free one).
 * @throws UsageError when the JSON lacks `type`/`keyslots`, names a missing keyslot, or the id is used.
 */
export async function addToken(
  device: BlockDevice,
  token: TokenInput | JsonObject,
  options: { id?: number } = {},
): Promise<number> {
  const volume = await readLuks(device);
  if (volume.version !== 2) throw new UsageError('LUKS1_NO_TOKENS', 'LUKS1 has no tokens');
  assertRequirementsMet(volume, 'add a token');
  const value = toJsonValue(token);
  if (!isJsonObject(value) || typeof value.type !== 'string' || !Array.isArray(value.keyslots))
    throw new UsageError(
      'LUKS2_TOKEN',
      'a token is a JSON object with a string "type" and a "keyslots" array',
    );
  const meta = volume.active.metadata;
  const used = new Set(meta.tokens.map((t) => t.id));
  let id = options.id;
  if (id === undefined) {
    id = 0;
    while (used.has(id)) id++;
  }
  if (!Number.isInteger(id) || id < 0 || id >= LUKS2_MAX_TOKENS)
    throw new UsageError('LUKS2_TOKEN_ID', `token id ${id} is out of range 0…${LUKS2_MAX_TOKENS - 1}`);
  if (used.has(id)) throw new UsageError('LUKS2_TOKEN_IN_USE', `token ${id} already exists`);
  const json = cloneJson(volume.active.json);
  (json.tokens as JsonObject)[String(id)] = value;
  const { id: ident, nextSeqid } = luks2Identity(volume);
  try {
    await writeLuks2Headers(device, ident, json, nextSeqid);
  } catch (e) {
    if (e instanceof FormatError)
      throw new UsageError('LUKS2_TOKEN', `token rejected: ${e.message}`, { cause: e });
    throw e;
  }
  return id;
}

/** Removes a token. */
export async function removeToken(device: BlockDevice, id: number): Promise<void> {
  const volume = await readLuks(device);
  if (volume.version !== 2) throw new UsageError('LUKS1_NO_TOKENS', 'LUKS1 has no tokens');
  assertRequirementsMet(volume, 'remove a token');
  const json = cloneJson(volume.active.json);
  const tokens = json.tokens as JsonObject;
  if (!(String(id) in tokens)) throw new UsageError('LUKS2_NO_TOKEN', `token ${id} does not exist`);
  delete tokens[String(id)];
  const { id: ident, nextSeqid } = luks2Identity(volume);
  await writeLuks2Headers(device, ident, json, nextSeqid);
}

/**
 * The `systemd-tpm2` token written by `systemd-cryptenroll --tpm2-device` (systemd's
 * src/shared/tpm2-util.c and cryptenroll): the TPM-sealed key blob and the policy it is bound to.
 * Binary fields are base64 in JSON and bytes here; the policy hash is hex in JSON.
 */
export interface SystemdTpm2Token {
  type: 'systemd-tpm2';
  keyslots: number[];
  /** `tpm2-blob`: TPM2B_PRIVATE ‖ TPM2B_PUBLIC of the sealed object. */
  blob: Uint8Array;
  /** `tpm2-pcrs`: PCR indexes the policy covers. */
  pcrs: number[];
  /** `tpm2-pcr-bank`: `sha256` or `sha1`. */
  pcrBank?: string;
  /** `tpm2-primary-alg`: `ecc` or `rsa`. */
  primaryAlg?: string;
  /** `tpm2-policy-hash`: the policy digest. */
  policyHash: Uint8Array;
  /** `tpm2-pin`: a PIN is mixed into the unseal authorisation. */
  pin?: boolean;
  /** `tpm2_pcrlock`: policy from systemd-pcrlock. */
  pcrlock?: boolean;
  /** `tpm2_salt`: salt of the PIN hashing. */
  salt?: Uint8Array;
  /** `tpm2_srk`: serialized storage root key handle. */
  srk?: Uint8Array;
  /** `tpm2_pubkey`: PEM/DER public key for signed PCR policies. */
  pubkey?: Uint8Array;
  /** `tpm2_pubkey_pcrs`: PCRs covered by the signed policy. */
  pubkeyPcrs?: number[];
}

function pcrList(v: unknown, name: string): number[] {
  if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x) || (x as number) < 0 || (x as number) > 23))
    throw new FormatError('LUKS2_TPM2_TOKEN', `${name} must be an array of PCR indexes 0…23`);
  return v as number[];
}

function b64field(o: Record<string, unknown>, name: string): Uint8Array | undefined {
  const v = o[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new FormatError('LUKS2_TPM2_TOKEN', `${name} must be a base64 string`);
  try {
    return decodeBase64Strict(v, name);
  } catch (e) {
    throw new FormatError('LUKS2_TPM2_TOKEN', `${name} is not valid base64`, { cause: e });
  }
}

/** Reads a `systemd-tpm2` token from its JSON (as stored in the metadata). */
export function parseSystemdTpm2Token(json: JsonObject): SystemdTpm2Token {
  const o = fromJsonValue(json) as Record<string, unknown>;
  if (o.type !== 'systemd-tpm2') throw new FormatError('LUKS2_TPM2_TOKEN', 'not a systemd-tpm2 token');
  const keyslots = o.keyslots;
  if (!Array.isArray(keyslots) || keyslots.some((k) => typeof k !== 'string' || !/^(0|[1-9][0-9]?)$/.test(k)))
    throw new FormatError('LUKS2_TPM2_TOKEN', 'keyslots must be an array of keyslot numbers as strings');
  const blob = b64field(o, 'tpm2-blob');
  if (!blob) throw new FormatError('LUKS2_TPM2_TOKEN', 'tpm2-blob is missing');
  const ph = o['tpm2-policy-hash'];
  if (typeof ph !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(ph))
    throw new FormatError('LUKS2_TPM2_TOKEN', 'tpm2-policy-hash must be a hex string');
  const t: SystemdTpm2Token = {
    type: 'systemd-tpm2',
    keyslots: keyslots.map(Number),
    blob,
    pcrs: pcrList(o['tpm2-pcrs'] ?? [], 'tpm2-pcrs'),
    policyHash: new Uint8Array(Buffer.from(ph, 'hex')),
  };
  for (const [k, f] of [
    ['tpm2-pcr-bank', 'pcrBank'],
    ['tpm2-primary-alg', 'primaryAlg'],
  ] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new FormatError('LUKS2_TPM2_TOKEN', `${k} must be a string`);
    t[f] = v;
  }
  for (const [k, f] of [
    ['tpm2-pin', 'pin'],
    ['tpm2_pcrlock', 'pcrlock'],
  ] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new FormatError('LUKS2_TPM2_TOKEN', `${k} must be a boolean`);
    t[f] = v;
  }
  const salt = b64field(o, 'tpm2_salt');
  if (salt) t.salt = salt;
  const srk = b64field(o, 'tpm2_srk');
  if (srk) t.srk = srk;
  // systemd spells the fields added after 250 with '_' ("we made the mistake of using '-'",
  // tpm2-util.c): tpm2_pubkey, tpm2_pubkey_pcrs, tpm2_salt, tpm2_srk, tpm2_pcrlock.
  const pubkey = b64field(o, 'tpm2_pubkey');
  if (pubkey) t.pubkey = pubkey;
  if (o.tpm2_pubkey_pcrs !== undefined) t.pubkeyPcrs = pcrList(o.tpm2_pubkey_pcrs, 'tpm2_pubkey_pcrs');
  return t;
}

/** The token JSON systemd-cryptenroll writes for `t` (same field names and key order). */
export function systemdTpm2TokenJson(t: SystemdTpm2Token): TokenInput {
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
  const o: TokenInput = {
    type: 'systemd-tpm2',
    keyslots: t.keyslots.map(String),
    'tpm2-blob': b64(t.blob),
    'tpm2-pcrs': [...t.pcrs],
    'tpm2-pcr-bank': t.pcrBank ?? 'sha256',
    'tpm2-primary-alg': t.primaryAlg ?? 'ecc',
    'tpm2-policy-hash': Buffer.from(t.policyHash).toString('hex'),
    'tpm2-pin': t.pin ?? false,
  };
  if (t.pcrlock !== undefined) o.tpm2_pcrlock = t.pcrlock;
  if (t.salt) o.tpm2_salt = b64(t.salt);
  if (t.srk) o.tpm2_srk = b64(t.srk);
  if (t.pubkeyPcrs) o.tpm2_pubkey_pcrs = [...t.pubkeyPcrs];
  if (t.pubkey) o.tpm2_pubkey = b64(t.pubkey);
  pcrList(t.pcrs, 'tpm2-pcrs');
  return o;
}
