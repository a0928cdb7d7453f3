import { FormatError, LimitError } from '@lsvm/core';
import { type JsonObject, JsonNumber, type JsonValue, isJsonObject } from './luks2-json.js';
import type {
  KdfParams,
  KeyslotPriority,
  Luks2Config,
  Luks2Digest,
  Luks2Keyslot,
  Luks2Metadata,
  Luks2Segment,
  Luks2Token,
} from './luks2-metadata.js';
import {
  LUKS2_MAX_DIGESTS,
  LUKS2_MAX_KEYSLOTS,
  LUKS2_MAX_KEYSLOTS_SIZE,
  LUKS2_MAX_SEGMENTS,
  LUKS2_MAX_TOKENS,
  LUKS_STRIPES,
} from './limits.js';

/**
 * Validation of the LUKS2 JSON metadata, following the checks cryptsetup applies when it loads a
 * header (lib/luks2/luks2_json_metadata.c, "hdr_validate_*") and the spec (§3). Every failure is a
 * {@link FormatError} with code `LUKS2_METADATA` (or `LUKS2_LIMIT` for the structural maxima) whose
 * message names the JSON path, e.g. `keyslots.1.area.offset`.
 */

const STRUCT = 'LUKS2 JSON metadata';

function bad(path: string, msg: string): never {
  throw new FormatError('LUKS2_METADATA', `${path}: ${msg}`, { structure: STRUCT });
}

/** A numbered object key: decimal digits, no sign, no leading zero (cryptsetup's numbered()). */
function numbered(key: string, path: string, max: number): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(key)) bad(path, `key ${JSON.stringify(key)} is not a decimal number`);
  const n = Number(key);
  if (n >= max) bad(path, `id ${n} is out of range (maximum ${max - 1})`);
  return n;
}

function obj(v: JsonValue | undefined, path: string): JsonObject {
  if (!isJsonObject(v)) bad(path, v === undefined ? 'missing object' : 'must be an object');
  return v;
}

function str(o: JsonObject, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string') bad(`${path}.${key}`, v === undefined ? 'missing string' : 'must be a string');
  return v;
}

/** A JSON integer written as such (json-c `json_type_int`): `1e3` and `32.0` are refused. */
function int(o: JsonObject, key: string, path: string, min = 0, max = 0x7fffffff): number {
  const v = o[key];
  if (!(v instanceof JsonNumber))
    bad(`${path}.${key}`, v === undefined ? 'missing integer' : 'must be a number');
  if (!v.isInteger) bad(`${path}.${key}`, `${v.lexeme} is not written as a JSON integer`);
  const n = Number(v.lexeme);
  if (!Number.isSafeInteger(n) || n < min || n > max) bad(`${path}.${key}`, `${v.lexeme} is out of range`);
  return n;
}

/** A u64 encoded as a decimal string (spec §3: "string-encoded u64"). */
function u64str(o: JsonObject, key: string, path: string): bigint {
  const v = str(o, key, path);
  if (!/^(0|[1-9][0-9]*)$/.test(v) || v.length > 20)
    bad(`${path}.${key}`, `${JSON.stringify(v)} is not a decimal u64 string`);
  const n = BigInt(v);
  if (n > 0xffffffffffffffffn) bad(`${path}.${key}`, `${v} exceeds 2^64-1`);
  return n;
}

/** A string-encoded u64 that must also be a safe JS number (offsets and sizes). */
function u64num(o: JsonObject, key: string, path: string): number {
  const n = u64str(o, key, path);
  if (n > BigInt(Number.MAX_SAFE_INTEGER))
    throw new LimitError('LUKS2_LIMIT', `${path}.${key}: ${n} is beyond 2^53`, { structure: STRUCT });
  return Number(n);
}

/** Strict base64 (RFC 4648 §4 alphabet, padding required), as cryptsetup's decoder. */
export function decodeBase64Strict(s: string, path: string): Uint8Array {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) bad(path, 'is not valid base64');
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) bad(path, 'is not canonical base64');
  return new Uint8Array(b);
}

function b64(o: JsonObject, key: string, path: string): Uint8Array {
  return decodeBase64Strict(str(o, key, path), `${path}.${key}`);
}

function strArray(o: JsonObject, key: string, path: string, optional: boolean): string[] {
  const v = o[key];
  if (v === undefined && optional) return [];
  if (!Array.isArray(v)) bad(`${path}.${key}`, 'must be an array');
  return v.map((x, i) => {
    if (typeof x !== 'string') bad(`${path}.${key}[${i}]`, 'must be a string');
    return x;
  });
}

function idArray(o: JsonObject, key: string, path: string, max: number): number[] {
  const ids = strArray(o, key, path, false).map((s, i) => numbered(s, `${path}.${key}[${i}]`, max));
  if (new Set(ids).size !== ids.length) bad(`${path}.${key}`, 'lists an id twice');
  return ids;
}

/** Checks that `section` is an object of numbered children and returns them in id order. */
function section(root: JsonObject, name: string, max: number): [number, JsonObject][] {
  const o = obj(root[name], name);
  const keys = Object.keys(o);
  if (keys.length > max)
    throw new LimitError('LUKS2_LIMIT', `${name}: ${keys.length} entries exceed the maximum of ${max}`, {
      structure: STRUCT,
    });
  return keys
    .map((k) => [numbered(k, name, max), obj(o[k], `${name}.${k}`)] as [number, JsonObject])
    .sort((a, b) => a[0] - b[0]);
}

/** Hash names accepted in af.hash, kdf.hash and digest hash (cryptsetup accepts what its backend has). */
const KNOWN_HASH = /^[a-z0-9-]{1,31}$/;

function kdf(o: JsonObject, path: string): KdfParams {
  const type = str(o, 'type', path);
  switch (type) {
    case 'pbkdf2': {
      const hash = str(o, 'hash', path);
      if (!KNOWN_HASH.test(hash)) bad(`${path}.hash`, `invalid hash name ${JSON.stringify(hash)}`);
      return { type, hash, iterations: int(o, 'iterations', path, 1), salt: b64(o, 'salt', path) };
    }
    case 'argon2i':
    case 'argon2id':
    case 'argon2':
      return {
        type,
        time: int(o, 'time', path, 1),
        memory: int(o, 'memory', path, 1),
        cpus: int(o, 'cpus', path, 1),
        salt: b64(o, 'salt', path),
      };
    default:
      return bad(`${path}.type`, `unknown kdf type ${JSON.stringify(type)}`);
  }
}

function keyslot(id: number, o: JsonObject, path: string): Luks2Keyslot {
  const type = str(o, 'type', path);
  if (type !== 'luks2' && type !== 'reencrypt')
    bad(`${path}.type`, `unknown keyslot type ${JSON.stringify(type)}`);
  const keySize = int(o, 'key_size', path, 0, 4096);
  let priority: KeyslotPriority = 1;
  if (o.priority !== undefined) priority = int(o, 'priority', path, 0, 2) as KeyslotPriority;
  const areaPath = `${path}.area`;
  const areaObj = obj(o.area, areaPath);
  const areaType = str(areaObj, 'type', areaPath);
  if (type === 'reencrypt') {
    // Reencryption keyslots hold no key; we list them but never unlock through them.
    const offset = u64num(areaObj, 'offset', areaPath);
    const size = u64num(areaObj, 'size', areaPath);
    return {
      id,
      type,
      keySize,
      priority: 0,
      af: { type: 'luks1', stripes: 0, hash: '' },
      area: { type: 'raw', offset, size, encryption: '', keySize: 0 },
      kdf: { type: 'pbkdf2', hash: '', iterations: 1, salt: new Uint8Array(0) },
    };
  }
  if (areaType !== 'raw') bad(`${areaPath}.type`, `unknown area type ${JSON.stringify(areaType)}`);
  const area = {
    type: 'raw' as const,
    offset: u64num(areaObj, 'offset', areaPath),
    size: u64num(areaObj, 'size', areaPath),
    encryption: str(areaObj, 'encryption', areaPath),
    keySize: int(areaObj, 'key_size', areaPath, 1, 4096),
  };
  const afPath = `${path}.af`;
  const afObj = obj(o.af, afPath);
  const afType = str(afObj, 'type', afPath);
  if (afType !== 'luks1') bad(`${afPath}.type`, `unknown af type ${JSON.stringify(afType)}`);
  const stripes = int(afObj, 'stripes', afPath, 1);
  if (stripes !== LUKS_STRIPES) bad(`${afPath}.stripes`, `must be ${LUKS_STRIPES}, not ${stripes}`);
  const afHash = str(afObj, 'hash', afPath);
  if (!KNOWN_HASH.test(afHash)) bad(`${afPath}.hash`, `invalid hash name ${JSON.stringify(afHash)}`);
  if (keySize === 0) bad(`${path}.key_size`, 'must be positive');
  if (area.size < keySize * stripes)
    bad(`${areaPath}.size`, `${area.size} bytes cannot hold ${keySize}×${stripes} bytes of key material`);
  return {
    id,
    type,
    keySize,
    priority,
    af: { type: 'luks1', stripes, hash: afHash },
    area,
    kdf: kdf(obj(o.kdf, `${path}.kdf`), `${path}.kdf`),
  };
}

function segment(id: number, o: JsonObject, path: string): Luks2Segment {
  const type = str(o, 'type', path);
  const offset = u64num(o, 'offset', path);
  const sizeStr = str(o, 'size', path);
  const size: number | 'dynamic' = sizeStr === 'dynamic' ? 'dynamic' : u64num(o, 'size', path);
  const flags = strArray(o, 'flags', path, true);
  if (type !== 'crypt') {
    // linear and other segment types appear during reencryption; listed, not opened.
    return { id, type, offset, size, ivTweak: 0n, encryption: '', sectorSize: 512, flags, integrity: false };
  }
  const ivTweak = u64str(o, 'iv_tweak', path);
  const encryption = str(o, 'encryption', path);
  const sectorSize = int(o, 'sector_size', path, 0, 4096);
  if (sectorSize < 512 || sectorSize > 4096 || (sectorSize & (sectorSize - 1)) !== 0)
    bad(`${path}.sector_size`, `${sectorSize} is not a power of two in 512…4096`);
  if (size !== 'dynamic' && size % sectorSize !== 0)
    bad(`${path}.size`, `${size} is not a multiple of the sector size ${sectorSize}`);
  if (offset % 512 !== 0) bad(`${path}.offset`, `${offset} is not aligned to 512 bytes`);
  let integrity = false;
  if (o.integrity !== undefined) {
    obj(o.integrity, `${path}.integrity`);
    integrity = true;
  }
  return { id, type, offset, size, ivTweak, encryption, sectorSize, flags, integrity };
}

function digest(id: number, o: JsonObject, path: string): Luks2Digest {
  const type = str(o, 'type', path);
  if (type !== 'pbkdf2') bad(`${path}.type`, `unknown digest type ${JSON.stringify(type)}`);
  const hash = str(o, 'hash', path);
  if (!KNOWN_HASH.test(hash)) bad(`${path}.hash`, `invalid hash name ${JSON.stringify(hash)}`);
  return {
    id,
    type,
    keyslots: idArray(o, 'keyslots', path, LUKS2_MAX_KEYSLOTS),
    segments: idArray(o, 'segments', path, LUKS2_MAX_SEGMENTS),
    hash,
    iterations: int(o, 'iterations', path, 1),
    salt: b64(o, 'salt', path),
    digest: b64(o, 'digest', path),
  };
}

function token(id: number, o: JsonObject, path: string): Luks2Token {
  return {
    id,
    type: str(o, 'type', path),
    keyslots: idArray(o, 'keyslots', path, LUKS2_MAX_KEYSLOTS),
    json: o,
  };
}

function config(root: JsonObject): Luks2Config {
  const o = obj(root.config, 'config');
  const c: Luks2Config = {
    jsonSize: u64num(o, 'json_size', 'config'),
    keyslotsSize: u64num(o, 'keyslots_size', 'config'),
    flags: strArray(o, 'flags', 'config', true),
    requirements: [],
  };
  if (o.requirements !== undefined) {
    // cryptsetup writes {"mandatory": [...]}; the spec's bare array is not what any tool writes.
    const req = obj(o.requirements, 'config.requirements');
    c.requirements = strArray(req, 'mandatory', 'config.requirements', true);
  }
  return c;
}

/**
 * Validates parsed LUKS2 metadata against the binary header's `hdr_size` and returns the typed
 * view.
 * @throws FormatError `LUKS2_METADATA`, LimitError `LUKS2_LIMIT`
 */
export function validateLuks2Metadata(root: JsonValue, hdrSize: number): Luks2Metadata {
  if (!isJsonObject(root)) bad('$', 'metadata must be a JSON object');
  for (const k of ['keyslots', 'segments', 'digests', 'tokens', 'config']) obj(root[k], k);

  const keyslots = section(root, 'keyslots', LUKS2_MAX_KEYSLOTS).map(([id, o]) =>
    keyslot(id, o, `keyslots.${id}`),
  );
  const segments = section(root, 'segments', LUKS2_MAX_SEGMENTS).map(([id, o]) =>
    segment(id, o, `segments.${id}`),
  );
  const digests = section(root, 'digests', LUKS2_MAX_DIGESTS).map(([id, o]) =>
    digest(id, o, `digests.${id}`),
  );
  const tokens = section(root, 'tokens', LUKS2_MAX_TOKENS).map(([id, o]) => token(id, o, `tokens.${id}`));
  const cfg = config(root);

  // config sizes (cryptsetup hdr_validate_config / hdr_validate_json_size)
  if (cfg.jsonSize !== hdrSize - 4096)
    bad('config.json_size', `${cfg.jsonSize} does not match hdr_size ${hdrSize} - 4096`);
  if (cfg.keyslotsSize % 4096 !== 0) bad('config.keyslots_size', 'is not a multiple of 4096');
  if (cfg.keyslotsSize > LUKS2_MAX_KEYSLOTS_SIZE)
    throw new LimitError('LUKS2_LIMIT', `config.keyslots_size ${cfg.keyslotsSize} exceeds 128 MiB`, {
      structure: STRUCT,
    });

  // keyslot areas: inside the keyslots area, no overlap (hdr_validate_areas)
  const areaStart = 2 * hdrSize;
  const areaEnd = areaStart + cfg.keyslotsSize;
  const spans = keyslots
    .map((k) => ({ id: k.id, start: k.area.offset, end: k.area.offset + k.area.size }))
    .sort((a, b) => a.start - b.start);
  for (const s of spans) {
    if (s.start < areaStart || s.end > areaEnd)
      bad(
        `keyslots.${s.id}.area`,
        `[${s.start}, ${s.end}) is outside the keyslots area [${areaStart}, ${areaEnd})`,
      );
  }
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.start < spans[i - 1]!.end)
      bad(`keyslots.${spans[i]!.id}.area`, `overlaps the area of keyslot ${spans[i - 1]!.id}`);
  }

  // segments: sorted by offset, contiguous (no gap, no overlap), only the last dynamic (hdr_validate_segments)
  const bySegOffset = [...segments].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < bySegOffset.length; i++) {
    const s = bySegOffset[i]!;
    if (s.offset !== 0 && s.offset < areaEnd)
      bad(`segments.${s.id}.offset`, `${s.offset} lies inside the metadata or keyslots area`);
    const next = bySegOffset[i + 1];
    if (next === undefined) continue;
    if (s.size === 'dynamic') bad(`segments.${s.id}.size`, 'only the last segment may be dynamic');
    if (s.offset + s.size > next.offset) bad(`segments.${next.id}`, `overlaps segment ${s.id}`);
    if (s.offset + s.size < next.offset) bad(`segments.${next.id}`, `leaves a gap after segment ${s.id}`);
  }
  // digests: references exist; each luks2 keyslot in exactly one digest
  const ks = new Set(keyslots.map((k) => k.id));
  const segs = new Set(segments.map((s) => s.id));
  const owner = new Map<number, number>();
  for (const d of digests) {
    for (const k of d.keyslots) {
      if (!ks.has(k)) bad(`digests.${d.id}.keyslots`, `keyslot ${k} does not exist`);
      if (owner.has(k)) bad(`digests.${d.id}.keyslots`, `keyslot ${k} is also in digest ${owner.get(k)}`);
      owner.set(k, d.id);
    }
    for (const s of d.segments)
      if (!segs.has(s)) bad(`digests.${d.id}.segments`, `segment ${s} does not exist`);
  }
  for (const k of keyslots)
    if (k.type === 'luks2' && !owner.has(k.id)) bad(`keyslots.${k.id}`, 'is not assigned to any digest');
  for (const t of tokens)
    for (const k of t.keyslots) if (!ks.has(k)) bad(`tokens.${t.id}.keyslots`, `keyslot ${k} does not exist`);

  return { keyslots, segments, digests, tokens, config: cfg };
}
