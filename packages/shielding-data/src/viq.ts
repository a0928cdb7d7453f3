import { FormatError } from '@lsvm/core';
import type { CborValue } from './canonical-cbor.js';
import { certificateThumbprint } from './certificate.js';
import { asMap, asText } from './schema.js';

/**
 * VolumeIdQualifier (the data of New-VolumeIDQualifier / Msps_VolumeIDFilter): which template
 * disks a shielding data file may be used with. Data only here; matching a disk's volume signature
 * catalog against it is the provisioning flows' job.
 */

/** How the template's version compares with {@link VolumeIdQualifier.version}. */
export type ViqRule = 'Equals' | 'GreaterThan' | 'GreaterThanOrEquals';

/** One qualifier. */
export interface VolumeIdQualifier {
  /** Template-name pattern; `*` matches any run of characters, `?` one character. */
  name: string;
  /** Dotted decimal version, 1 to 4 components (e.g. `1.0.0.0`). */
  version: string;
  rule: ViqRule;
  /** Lower-case hex SHA-256 of the DER certificate that signed the template's catalog. */
  signer: string;
}

const RULES: readonly ViqRule[] = ['Equals', 'GreaterThan', 'GreaterThanOrEquals'];
const VERSION_RE = /^(0|[1-9][0-9]{0,9})(\.(0|[1-9][0-9]{0,9})){0,3}$/;
const SIGNER_RE = /^[0-9a-f]{64}$/;
const PATTERN_RE = /^[^\u0000-\u001f\u007f]{1,260}$/u;

/** The signer thumbprint of a certificate: lower-case hex SHA-256 of its DER bytes. */
export function viqSignerThumbprint(certificateDer: Uint8Array): string {
  return certificateThumbprint(certificateDer);
}

/** Throws {@link FormatError} unless `v` is a well-formed qualifier. */
export function checkViq(v: VolumeIdQualifier, structure = 'VolumeIdQualifier'): void {
  if (!PATTERN_RE.test(v.name))
    throw new FormatError('VIQ_NAME', 'name pattern must be 1..260 characters without control characters', {
      structure,
    });
  if (!VERSION_RE.test(v.version) || v.version.split('.').some((c) => Number(c) > 0xffffffff))
    throw new FormatError('VIQ_VERSION', `version "${v.version}" is not 1..4 dotted 32-bit decimals`, {
      structure,
    });
  if (!RULES.includes(v.rule))
    throw new FormatError('VIQ_RULE', `rule "${v.rule}" is not Equals, GreaterThan or GreaterThanOrEquals`, {
      structure,
    });
  if (!SIGNER_RE.test(v.signer))
    throw new FormatError(
      'VIQ_SIGNER',
      'signer must be 64 lower-case hex digits (SHA-256 of the DER certificate)',
      { structure },
    );
}

/**
 * Parses the CLI form `name=PATTERN,version=V,rule=R,signer=THUMB`. Keys may come in any order;
 * the rule is case-insensitive; `ge`, `gt`, `eq` are accepted as short forms; the signer may be
 * given in upper case or with colons.
 */
export function parseViqSpec(spec: string): VolumeIdQualifier {
  const fields = new Map<string, string>();
  // Split only before a known key, so a pattern may itself contain commas.
  for (const part of spec.split(/,(?=\s*(?:name|version|rule|signer)=)/)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (eq < 0 || !['name', 'version', 'rule', 'signer'].includes(key) || fields.has(key))
      throw new FormatError(
        'VIQ_SPEC',
        `bad VolumeIdQualifier field "${part}" (want name=,version=,rule=,signer=)`,
        {
          structure: 'VolumeIdQualifier',
        },
      );
    fields.set(key, part.slice(eq + 1));
  }
  for (const k of ['name', 'version', 'rule', 'signer'])
    if (!fields.has(k))
      throw new FormatError('VIQ_SPEC', `VolumeIdQualifier misses ${k}=`, { structure: 'VolumeIdQualifier' });
  const r = fields.get('rule')!.trim().toLowerCase();
  const rules = {
    equals: 'Equals',
    eq: 'Equals',
    greaterthan: 'GreaterThan',
    gt: 'GreaterThan',
    greaterthanorequals: 'GreaterThanOrEquals',
    ge: 'GreaterThanOrEquals',
  } as Record<string, ViqRule>;
  const rule = Object.hasOwn(rules, r) ? rules[r] : undefined; // not Object.prototype members
  const v: VolumeIdQualifier = {
    name: fields.get('name')!,
    version: fields.get('version')!.trim(),
    rule: rule ?? (r as ViqRule),
    signer: fields.get('signer')!.trim().toLowerCase().replace(/:/g, ''),
  };
  checkViq(v);
  return v;
}

/** CBOR form: `{"name","version","rule","signer"}`. */
export function viqToCbor(v: VolumeIdQualifier): CborValue {
  return { name: v.name, version: v.version, rule: v.rule, signer: v.signer };
}

/** Reads and checks a qualifier from decoded CBOR. */
export function viqFromCbor(x: CborValue, structure: string): VolumeIdQualifier {
  const m = asMap(x, 'VolumeIdQualifier', structure, ['name', 'version', 'rule', 'signer']);
  const v: VolumeIdQualifier = {
    name: asText(m.name, 'name', structure, 260),
    version: asText(m.version, 'version', structure, 64),
    rule: asText(m.rule, 'rule', structure, 32) as ViqRule,
    signer: asText(m.signer, 'signer', structure, 64),
  };
  checkViq(v, structure);
  return v;
}
