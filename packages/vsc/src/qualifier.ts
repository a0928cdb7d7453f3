import { UsageError } from '@lsvm/core';
import type { Catalog } from './catalog.js';
import { compareTemplateVersions, formatTemplateVersion } from './template-version.js';
import { certificateThumbprint, normalizeThumbprint } from './thumbprint.js';

/**
 * `VolumeIdQualifier`: how shielding data names the template disks it accepts — a template-name
 * pattern, a version with a comparison rule, and the signer's certificate thumbprint. Apply it to
 * a catalog whose signature was verified first ({@link verifyCatalogSignature}); the qualifier
 * itself only reads the catalog's fields.
 */

/** How the catalog's version is compared with the qualifier's. */
export type VersionRule = 'Equals' | 'GreaterThan' | 'GreaterThanOrEquals';
/** Every version rule. */
export const VERSION_RULES: readonly VersionRule[] = ['Equals', 'GreaterThan', 'GreaterThanOrEquals'];

/** The fields of a qualifier. */
export interface VolumeIdQualifierInit {
  /** Template-name pattern: `*` any run of characters, `?` one character; case-insensitive. */
  name: string;
  /** Version `a.b.c.d`. */
  version: string;
  rule: VersionRule;
  /** Signer certificate thumbprint (SHA-256 of its DER, hex). */
  signerThumbprint: string;
}

/** Outcome of {@link VolumeIdQualifier.matches}. */
export type QualifierResult =
  | { matches: true }
  | { matches: false; field: 'name' | 'version' | 'signer'; reason: string };

/** A parsed, normalised qualifier. */
export class VolumeIdQualifier {
  readonly name: string;
  readonly version: string;
  readonly rule: VersionRule;
  readonly signerThumbprint: string;

  constructor(init: VolumeIdQualifierInit) {
    if (typeof init.name !== 'string' || init.name.length === 0 || init.name.length > 256) {
      throw new UsageError('VSC_BAD_QUALIFIER', 'the name pattern must have 1 to 256 characters');
    }
    if (!VERSION_RULES.includes(init.rule)) {
      throw new UsageError(
        'VSC_BAD_QUALIFIER',
        `version rule ${JSON.stringify(init.rule)} is not one of ${VERSION_RULES.join(', ')}`,
      );
    }
    this.name = init.name;
    this.version = formatTemplateVersion(init.version);
    this.rule = init.rule;
    this.signerThumbprint = normalizeThumbprint(init.signerThumbprint);
  }

  /** Does `catalog` satisfy the qualifier? Checks signer, then name, then version. */
  matches(catalog: Catalog): QualifierResult {
    const first = catalog.certificates[0];
    const thumb = first === undefined ? '' : certificateThumbprint(first);
    if (thumb !== this.signerThumbprint) {
      return {
        matches: false,
        field: 'signer',
        reason: `signed by ${thumb || 'nobody'}, qualifier wants ${this.signerThumbprint}`,
      };
    }
    if (!globMatch(this.name, catalog.name)) {
      return {
        matches: false,
        field: 'name',
        reason: `template name ${JSON.stringify(catalog.name)} does not match ${JSON.stringify(this.name)}`,
      };
    }
    const c = compareTemplateVersions(catalog.version, this.version);
    const ok = this.rule === 'Equals' ? c === 0 : this.rule === 'GreaterThan' ? c > 0 : c >= 0;
    if (!ok) {
      const rel =
        this.rule === 'Equals' ? 'equal to' : this.rule === 'GreaterThan' ? 'greater than' : 'at least';
      return {
        matches: false,
        field: 'version',
        reason: `version ${catalog.version} is not ${rel} ${this.version}`,
      };
    }
    return { matches: true };
  }

  /** Plain fields, for JSON. */
  toJSON(): VolumeIdQualifierInit {
    return {
      name: this.name,
      version: this.version,
      rule: this.rule,
      signerThumbprint: this.signerThumbprint,
    };
  }
}

/**
 * Wildcard match, case-insensitive, by code points. The classic greedy algorithm with one
 * backtrack point (the last `*`) runs in O(pattern × name) — no regular expression, so no
 * catastrophic backtracking on hostile patterns.
 */
export function globMatch(pattern: string, name: string): boolean {
  const p = [...pattern.toLowerCase()];
  const s = [...name.toLowerCase()];
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < s.length) {
    if (i < p.length && (p[i] === '?' || (p[i] !== '*' && p[i] === s[j]))) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else return false;
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}
