import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLsvmError } from '@lsvm/core';
import fc from 'fast-check';
import { decodeSecrets, encodeSecrets } from '../src/pdk-secrets.js';
import {
  type CborValue,
  decodeCanonical,
  encodeCanonical,
  parseFsk,
  parseGuardianMetadata,
  parseKeyProtector,
  parsePdk,
  verifyFsk,
  verifyKeyProtector,
  verifyPdk,
} from '../src/index.js';
import { vectorDir } from './vectors.js';

/**
 * Structure-aware fuzzing of the CBOR containers. A byte mutation of a canonical CBOR file is
 * almost always refused by the canonical-form check before any field is looked at; here the
 * published vectors are decoded, a few fields are given values of the wrong type (or removed,
 * duplicated, or joined by unknown ones) and the result is re-encoded canonically, so the
 * schema and the checks behind it see the hostile values. Contract: only an LsvmError escapes.
 */

const vector = (name: string): Uint8Array => new Uint8Array(readFileSync(join(vectorDir, name)));

type Path = (string | number)[];

/** Every path into a decoded value (maps by key, arrays by index), the root included. */
function paths(v: CborValue, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) paths(x, [...at, i], out);
  else if (typeof v === 'object' && !(v instanceof Uint8Array))
    for (const k of Object.keys(v)) paths(v[k]!, [...at, k], out);
  return out;
}

const KEYS = [
  'v',
  'name',
  'alg',
  'epk',
  'pairs',
  'signer',
  'signature',
  'wrappings',
  'nonce',
  'x',
  '__proto__',
];

/** A random value of the canonical subset (any type, small). */
const cborArb: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(0, 1, 2, 23, 24, 255, 256, 65535, 0xffffffff),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('RSA-OAEP-256', 'ECDH-ES+A256KW', 'Shielded', 'lsvm-fsk', '@A@', ''),
    fc.boolean(),
    fc.uint8Array({ maxLength: 48 }),
    fc.constantFrom(new Uint8Array(32), new Uint8Array(12), new Uint8Array(40)),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('v'), { maxKeys: 3 }) as fc.Arbitrary<CborValue>,
  ),
})).v;

type Edit =
  | { op: 'set'; at: number; value: CborValue }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: CborValue }
  | { op: 'dup'; at: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: cborArb }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: cborArb }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: fc.constantFrom(...KEYS), value: cborArb }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
);

function clone(v: CborValue): CborValue {
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) return v.map(clone);
  if (typeof v === 'object') {
    const o: Record<string, CborValue> = Object.create(null);
    for (const k of Object.keys(v)) o[k] = clone(v[k]!);
    return o;
  }
  return v;
}

function apply(root: CborValue, edits: Edit[]): CborValue {
  let tree = clone(root);
  for (const e of edits) {
    const all = paths(tree);
    const path = all[e.at % all.length]!;
    if (path.length === 0) {
      if (e.op === 'set') tree = clone(e.value);
      continue;
    }
    let parent = tree as Record<string | number, CborValue>;
    for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, CborValue>;
    const last = path[path.length - 1]!;
    if (e.op === 'set') parent[last] = clone(e.value);
    else if (e.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else if (e.op === 'dup') {
      if (Array.isArray(parent)) parent.splice(last as number, 0, clone(parent[last as number]!));
    } else {
      const target = parent[last]!;
      if (typeof target === 'object' && !Array.isArray(target) && !(target instanceof Uint8Array))
        (target as Record<string, CborValue>)[e.key] = clone(e.value);
    }
  }
  return tree;
}

function expectLsvmOnly(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}

/** Encodes the mutated tree; a tree outside the subset is refused by the encoder (a typed error too). */
function reencode(tree: CborValue): Uint8Array | undefined {
  try {
    return encodeCanonical(tree);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    return undefined;
  }
}

const containers: [string, (b: Uint8Array) => void][] = [
  [
    'vector.pdk',
    (b) => {
      verifyPdk(parsePdk(b));
    },
  ],
  [
    'vector.kp',
    (b) => {
      verifyKeyProtector(parseKeyProtector(b));
    },
  ],
  [
    'vector.fsk',
    (b) => {
      verifyFsk(parseFsk(b));
    },
  ],
];

describe('structure-aware fuzzing of the shielding-data containers', () => {
  it.each(containers)('%s with fields of the wrong type', (file, read) => {
    const tree = decodeCanonical(vector(file), file, 1 << 20);
    fc.assert(
      fc.property(fc.array(editArb, { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = reencode(apply(tree, edits));
        if (bytes) expectLsvmOnly(() => read(bytes));
      }),
      { numRuns: 150, seed: 0x5d1 },
    );
  });

  it('PDK secrets section with fields of the wrong type', () => {
    const enc = new TextEncoder();
    const tree = decodeCanonical(
      encodeSecrets({
        answerFile: { name: 'user-data', data: enc.encode('#cloud-config\n') },
        files: [{ name: 'motd', data: enc.encode('hi\n') }],
        credentials: [{ user: 'azureuser', password: 'pw' }],
        sshKeys: [{ user: 'azureuser', key: 'ssh-ed25519 AAAA x' }],
      }),
      'secrets',
      1 << 20,
    );
    fc.assert(
      fc.property(fc.array(editArb, { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = reencode(apply(tree, edits));
        if (bytes) expectLsvmOnly(() => decodeSecrets(bytes));
      }),
      { numRuns: 300, seed: 0x5d2 },
    );
  });

  it('guardian metadata JSON with fields of the wrong type', () => {
    const json = JSON.parse(readFileSync(join(vectorDir, 'fabric.guardian.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const jsonValue = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.constant({}),
      fc.constantFrom('!!!', 'AAAA', 'MA==', ''),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.keys(json), 'extra', '__proto__'), jsonValue, { maxKeys: 3 }),
        fc.array(fc.constantFrom(...Object.keys(json)), { maxLength: 2 }),
        (changes, drops) => {
          const o: Record<string, unknown> = { ...json };
          for (const [k, v] of Object.entries(changes)) o[k] = v;
          for (const k of drops) delete o[k];
          expectLsvmOnly(() => parseGuardianMetadata(JSON.stringify(o)));
          expectLsvmOnly(() =>
            parseGuardianMetadata(new TextEncoder().encode(JSON.stringify(o).slice(0, -1))),
          );
        },
      ),
      { numRuns: 200, seed: 0x5d3 },
    );
  });
});
