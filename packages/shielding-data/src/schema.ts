import { FormatError, LimitError } from '@lsvm/core';
import type { CborValue } from './canonical-cbor.js';

/**
 * Small typed accessors over decoded canonical CBOR: every field is checked for presence and type,
 * unknown keys are refused (a reader that silently ignored fields would let a signed file say more
 * than its signer saw), and every failure is a {@link FormatError} naming the field.
 */
export type CborMap = { [key: string]: CborValue };

export function asMap(
  v: CborValue | undefined,
  what: string,
  structure: string,
  allowed: readonly string[],
): CborMap {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array || Array.isArray(v))
    throw new FormatError('SCHEMA_TYPE', `${what} must be a map`, { structure });
  for (const k of Object.keys(v))
    if (!allowed.includes(k))
      throw new FormatError('SCHEMA_UNKNOWN_FIELD', `${what} has unknown field "${k}"`, { structure });
  return v;
}

export function asArray(
  v: CborValue | undefined,
  what: string,
  structure: string,
  max: number,
  limitCode: string,
): CborValue[] {
  if (!Array.isArray(v)) throw new FormatError('SCHEMA_TYPE', `${what} must be an array`, { structure });
  if (v.length > max)
    throw new LimitError(limitCode, `${what} has ${v.length} entries, more than the limit of ${max}`, {
      structure,
    });
  return v;
}

export function asText(v: CborValue | undefined, what: string, structure: string, maxLength = 4096): string {
  if (typeof v !== 'string')
    throw new FormatError('SCHEMA_TYPE', `${what} must be a text string`, { structure });
  if (v.length > maxLength)
    throw new FormatError('SCHEMA_LENGTH', `${what} is longer than ${maxLength} characters`, { structure });
  return v;
}

export function asBytes(
  v: CborValue | undefined,
  what: string,
  structure: string,
  maxLength: number,
  exactLength?: number,
): Uint8Array {
  if (!(v instanceof Uint8Array))
    throw new FormatError('SCHEMA_TYPE', `${what} must be a byte string`, { structure });
  if (exactLength !== undefined && v.length !== exactLength)
    throw new FormatError('SCHEMA_LENGTH', `${what} must be ${exactLength} bytes, not ${v.length}`, {
      structure,
    });
  if (v.length > maxLength)
    throw new FormatError('SCHEMA_LENGTH', `${what} is longer than ${maxLength} bytes`, { structure });
  return v;
}

export function asUint(v: CborValue | undefined, what: string, structure: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new FormatError('SCHEMA_TYPE', `${what} must be an unsigned integer`, { structure });
  return v;
}

export function expectEqual(
  v: CborValue | undefined,
  expected: string | number,
  what: string,
  structure: string,
  code: string,
): void {
  if (v !== expected)
    throw new FormatError(
      code,
      `${what} must be ${JSON.stringify(expected)}, found ${JSON.stringify(typeof v === 'object' ? typeof v : v)}`,
      {
        structure,
      },
    );
}
