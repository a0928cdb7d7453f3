import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isLsvmError } from '@lsvm/core';
import fc from 'fast-check';
import { fuzz as peTarget } from '../fuzz/pe.fuzz.js';
import { fuzz as uefiTarget } from '../fuzz/uefi-esl.fuzz.js';
import { type DerElement, children, readElement, tlv } from './helpers/der.js';
import { OID } from '../src/oids.js';
import { derOid } from './helpers/der.js';
import {
  parseAuthenticodeSignature,
  parseSignedData,
  signatureTimestamps,
  verifySignature,
} from '../src/index.js';

/**
 * Structure-aware fuzzing. Byte mutations of a PE mostly break the DOS/PE signatures, and byte
 * mutations of DER mostly break a length; these properties keep the frame valid and make the
 * CONTENTS hostile: section tables and the security directory of real signed images set to
 * values around the file's own boundaries, and PKCS#7 trees with subtrees replaced by elements of
 * the wrong type (an OID where a SET is due, an INTEGER where a certificate is…), re-encoded
 * with correct lengths. Contract: only an LsvmError escapes.
 */

const corpus = (name: string): Uint8Array[] => {
  const dir = join(__dirname, '..', 'fuzz', 'corpus', name);
  return readdirSync(dir).map((f) => new Uint8Array(readFileSync(join(dir, f))));
};
const PES = corpus('pe');
const P7S = corpus('authenticode-pkcs7');

function expectLsvmOnly(f: () => void): void {
  try {
    f();
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}

// ---------------------------------------------------------------- PE section tables

interface FieldEdit {
  /** Which section header (mod NumberOfSections). */
  section: number;
  /** Byte offset of the u32 inside the 40-byte header: VirtualSize, VA, SizeOfRawData, PointerToRawData. */
  field: 8 | 12 | 16 | 20;
  value: (fileSize: number) => number;
}

const valueArb: fc.Arbitrary<(n: number) => number> = fc.oneof(
  fc.constantFrom(0, 1, 0x1000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffff000).map((v) => () => v),
  fc.integer({ min: -64, max: 64 }).map((d) => (n: number) => Math.max(0, n + d)),
  fc.integer({ min: 0, max: 0x3000 }).map((v) => () => v),
);

const editArb: fc.Arbitrary<FieldEdit> = fc.record({
  section: fc.nat(8),
  field: fc.constantFrom(8 as const, 12 as const, 16 as const, 20 as const),
  value: valueArb,
});

interface PeSpec {
  file: number;
  edits: FieldEdit[];
  numberOfSections: number | undefined;
  security: [(n: number) => number, (n: number) => number] | undefined;
  numberOfRvaAndSizes: number | undefined;
}

const peArb: fc.Arbitrary<PeSpec> = fc.record({
  file: fc.nat(PES.length - 1),
  edits: fc.array(editArb, { maxLength: 6 }),
  numberOfSections: fc.option(fc.constantFrom(0, 1, 2, 3, 96, 0xffff), { nil: undefined }),
  security: fc.option(fc.tuple(valueArb, valueArb), { nil: undefined }),
  numberOfRvaAndSizes: fc.option(fc.constantFrom(0, 4, 5, 16, 17, 0xffffffff), { nil: undefined }),
});

function buildPe(s: PeSpec): Uint8Array {
  const b = PES[s.file]!.slice();
  const v = new DataView(b.buffer);
  const pe = v.getUint32(0x3c, true);
  const opt = pe + 24;
  const dirs = opt + (v.getUint16(opt, true) === 0x20b ? 112 : 96);
  const table = opt + v.getUint16(pe + 20, true);
  const count = v.getUint16(pe + 6, true);
  for (const e of s.edits) {
    const at = table + (e.section % Math.max(count, 1)) * 40 + e.field;
    if (at + 4 <= b.length) v.setUint32(at, e.value(b.length) >>> 0, true);
  }
  if (s.security && dirs + 40 <= b.length) {
    v.setUint32(dirs + 32, s.security[0](b.length) >>> 0, true);
    v.setUint32(dirs + 36, s.security[1](b.length) >>> 0, true);
  }
  if (s.numberOfRvaAndSizes !== undefined) v.setUint32(dirs - 4, s.numberOfRvaAndSizes >>> 0, true);
  if (s.numberOfSections !== undefined) v.setUint16(pe + 6, s.numberOfSections, true);
  return b;
}

// ---------------------------------------------------------------- DER trees

type Node = { id: number; kids: Node[] } | { id: number; value: Uint8Array };

function toTree(el: DerElement): Node {
  const id = (el.cls << 6) | (el.constructed ? 0x20 : 0) | el.tag;
  if (!el.constructed || el.tag >= 31) return { id: el.raw[0]!, value: el.value.slice() };
  return { id, kids: children(el).map(toTree) };
}

function encode(n: Node): Uint8Array {
  if ('value' in n) return tlv(n.id, n.value);
  return tlv(n.id, ...n.kids.map(encode));
}

function nodes(n: Node, out: Node[] = []): Node[] {
  out.push(n);
  if ('kids' in n) for (const k of n.kids) nodes(k, out);
  return out;
}

const OIDS = Object.values(OID);
/** A small random element of a type a PKCS#7 reader is likely to meet out of place. */
const leafArb: fc.Arbitrary<Node> = fc.oneof(
  fc.constantFrom(...OIDS).map((o) => ({ id: 0x06, value: derOid(o).subarray(2) })),
  fc.uint8Array({ maxLength: 9 }).map((value) => ({ id: 0x02, value })),
  fc.uint8Array({ maxLength: 40 }).map((value) => ({ id: 0x04, value })),
  fc.constant({ id: 0x05, value: new Uint8Array(0) }),
  fc.constantFrom('000101000000Z', '991231235959Z', '20501301000000Z', 'garbage', '').map((s) => ({
    id: 0x17,
    value: new TextEncoder().encode(s),
  })),
  fc.uint8Array({ maxLength: 8 }).map((value) => ({ id: 0x1e, value })), // BMPString, maybe odd length
  fc.uint8Array({ maxLength: 3 }).map((value) => ({ id: 0x01, value })),
  fc.uint8Array({ maxLength: 12 }).map((value) => ({ id: 0x03, value })),
  fc.constantFrom(0x30, 0x31, 0xa0, 0xa1, 0xa3).map((id) => ({ id, kids: [] as Node[] })),
);

type Edit =
  | { op: 'replace'; at: number; with: Node }
  | { op: 'retag'; at: number; id: number }
  | { op: 'drop'; at: number; child: number }
  | { op: 'dup'; at: number; child: number }
  | { op: 'graft'; at: number; from: number };

const derEditArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), with: leafArb }),
  fc.record({
    op: fc.constant('retag' as const),
    at: fc.nat(),
    id: fc.constantFrom(0x02, 0x04, 0x06, 0x30, 0x31, 0xa0, 0xa1, 0x80, 0x81, 0x17, 0x18),
  }),
  fc.record({ op: fc.constant('drop' as const), at: fc.nat(), child: fc.nat() }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat(), child: fc.nat() }),
  fc.record({ op: fc.constant('graft' as const), at: fc.nat(), from: fc.nat() }),
);

function mutateTree(root: Node, edits: Edit[]): Node {
  const tree = structuredClone(root);
  for (const e of edits) {
    const all = nodes(tree);
    const n = all[e.at % all.length]!;
    if (e.op === 'replace') {
      if (n === tree) continue;
      Object.assign(n, structuredClone(e.with));
      if ('kids' in e.with) delete (n as { value?: Uint8Array }).value;
      else delete (n as { kids?: Node[] }).kids;
    } else if (e.op === 'retag') {
      // Keep the primitive/constructed bit consistent with the contents, so the frame stays valid.
      n.id = 'kids' in n ? e.id | 0x20 : e.id & ~0x20;
    } else if ((e.op === 'drop' || e.op === 'dup') && 'kids' in n && n.kids.length > 0) {
      const i = e.child % n.kids.length;
      if (e.op === 'drop') n.kids.splice(i, 1);
      else n.kids.splice(i, 0, structuredClone(n.kids[i]!));
    } else if (e.op === 'graft' && 'kids' in n) {
      n.kids.push(structuredClone(all[e.from % all.length]!));
    }
  }
  return tree;
}

const TREES = P7S.map((b) => toTree(readElement(b)));

describe('structure-aware fuzzing of PE and Authenticode', () => {
  it('real signed images with hostile section tables and security directories', () => {
    fc.assert(
      fc.property(peArb, (s) => {
        expectLsvmOnly(() => peTarget(Buffer.from(buildPe(s))));
      }),
      { numRuns: 250, seed: 0x9e1 },
    );
  });

  it('PKCS#7 trees with subtrees of the wrong type, correctly re-encoded', () => {
    fc.assert(
      fc.property(
        fc.nat(TREES.length - 1),
        fc.array(derEditArb, { minLength: 1, maxLength: 4 }),
        (i, edits) => {
          const bytes = encode(mutateTree(TREES[i]!, edits));
          expectLsvmOnly(() => {
            parseSignedData(bytes);
          });
          expectLsvmOnly(() => {
            const sig = parseAuthenticodeSignature(bytes);
            signatureTimestamps(sig.signedData, sig.signerInfo);
            verifySignature(sig, '0', () => new Uint8Array(32), sig.signedData.certificates);
          });
        },
      ),
      { numRuns: 120, seed: 0x9e2 },
    );
  });

  it('EFI signature lists and authenticated variables with mutated PKCS#7 payloads', () => {
    const auths = readdirSync(join(__dirname, '..', 'fuzz', 'corpus', 'uefi-esl'))
      .filter((f) => f.endsWith('.auth'))
      .map((f) => new Uint8Array(readFileSync(join(__dirname, '..', 'fuzz', 'corpus', 'uefi-esl', f))));
    expect(auths.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(
        fc.nat(auths.length - 1),
        fc.array(derEditArb, { minLength: 1, maxLength: 3 }),
        (i, edits) => {
          // EFI_VARIABLE_AUTHENTICATION_2: 16-byte EFI_TIME, WIN_CERTIFICATE (8) + CertType GUID (16), then PKCS#7.
          const a = auths[i]!;
          const v = new DataView(a.buffer, a.byteOffset);
          const certLen = v.getUint32(16, true);
          const p7 = a.subarray(16 + 24, 16 + certLen);
          let tree: Node;
          try {
            tree = toTree(readElement(p7));
          } catch {
            return;
          }
          const mutated = encode(mutateTree(tree, edits));
          const out = new Uint8Array(16 + 24 + mutated.length + (a.length - 16 - certLen));
          out.set(a.subarray(0, 40));
          out.set(mutated, 40);
          out.set(a.subarray(16 + certLen), 40 + mutated.length);
          new DataView(out.buffer).setUint32(16, 24 + mutated.length, true);
          expectLsvmOnly(() => uefiTarget(Buffer.from(out)));
        },
      ),
      { numRuns: 200, seed: 0x9e3 },
    );
  });
});
