import { FormatError, UsageError } from '@lsvm/core';
import { TPMI_ALG_HASH } from './basic.js';
import { algName } from './constants.js';
import { parseHashAlg } from './hash.js';
import { type Codec, bad, list, within } from './marshal.js';

/**
 * PCR selections (Part 2 §10.6). A selection names a bank and a bitmap of PCRs; the bitmap is
 * `sizeofSelect` bytes, PCR n being bit (n mod 8) of byte (n / 8).
 */

/** PCR_SELECT_MIN of a PC-client TPM (24 PCRs): 3 bytes. */
export const PCR_SELECT_MIN = 3;
/** PCR_SELECT_MAX accepted: 4 bytes (up to 32 PCRs; the reference TPM implements 24). */
export const PCR_SELECT_MAX = 4;
/** HASH_COUNT bound on banks in one TPML_PCR_SELECTION. */
export const MAX_PCR_BANKS = 8;

/** One bank's selection. `sizeofSelect` defaults to 3 when writing. */
export interface TpmsPcrSelection {
  hash: number;
  pcrs: number[];
  sizeofSelect?: number;
}

/** Bitmap bytes for `pcrs` (sorted, deduplicated), at least `size` bytes long. */
export function pcrBitmap(pcrs: readonly number[], size = PCR_SELECT_MIN): Uint8Array {
  let n = size;
  for (const p of pcrs) {
    if (!Number.isInteger(p) || p < 0 || p >= PCR_SELECT_MAX * 8)
      throw new UsageError('TPM2_BAD_PCR', `PCR index ${p} is out of range 0..${PCR_SELECT_MAX * 8 - 1}`);
    n = Math.max(n, (p >> 3) + 1);
  }
  const out = new Uint8Array(n);
  for (const p of pcrs) out[p >> 3]! |= 1 << (p & 7);
  return out;
}

/** PCR indices set in a bitmap, ascending. */
export function pcrsFromBitmap(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length * 8; i++) if (b[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

/**
 * TPMS_PCR_SELECT (the bitmap alone, with its size byte), as lsvmload stores it in the sealed-keys
 * file: `03 80 08 00` selects PCRs 7 and 11.
 */
export const TPMS_PCR_SELECT: Codec<number[]> = {
  name: 'TPMS_PCR_SELECT',
  write(w, v) {
    const b = pcrBitmap(v);
    w.u8(b.length).bytes(b);
  },
  read(r) {
    return within(r, 'TPMS_PCR_SELECT', () => {
      const at = r.pos;
      const sel = readSelect(r);
      // The value is the PCR list alone, so only the shortest bitmap round-trips; a longer one
      // also changes a PolicyPCR digest computed from the list (sizeofSelect is hashed with it).
      let need = PCR_SELECT_MIN;
      for (let i = sel.length - 1; i >= PCR_SELECT_MIN; i--)
        if (sel[i] !== 0) {
          need = i + 1;
          break;
        }
      if (sel.length !== need)
        bad(
          'TPM2_PCR_SELECT_SIZE',
          `sizeofSelect ${sel.length} carries trailing zero bytes; ${need} is the canonical size`,
          r,
          at,
        );
      return pcrsFromBitmap(sel);
    });
  },
};

function readSelect(r: import('@lsvm/core').ByteReader): Uint8Array {
  const at = r.pos;
  const n = r.u8();
  if (n < PCR_SELECT_MIN || n > PCR_SELECT_MAX)
    bad('TPM2_BAD_VALUE', `sizeofSelect ${n} is outside ${PCR_SELECT_MIN}..${PCR_SELECT_MAX}`, r, at);
  return r.bytesView(n, 'pcrSelect');
}

export const TPMS_PCR_SELECTION: Codec<TpmsPcrSelection> = {
  name: 'TPMS_PCR_SELECTION',
  write(w, v) {
    TPMI_ALG_HASH.write(w, v.hash);
    const b = pcrBitmap(v.pcrs, v.sizeofSelect ?? PCR_SELECT_MIN);
    w.u8(b.length).bytes(b);
  },
  read(r) {
    return within(r, 'TPMS_PCR_SELECTION', () => {
      const hash = TPMI_ALG_HASH.read(r);
      const sel = readSelect(r);
      return { hash, pcrs: pcrsFromBitmap(sel), sizeofSelect: sel.length };
    });
  },
};

/** TPML_PCR_SELECTION (at most {@link MAX_PCR_BANKS} banks). */
export const TPML_PCR_SELECTION: Codec<TpmsPcrSelection[]> = list(
  'TPML_PCR_SELECTION',
  TPMS_PCR_SELECTION,
  MAX_PCR_BANKS,
);

/**
 * Parses the tpm2-tools selection syntax: `sha256:0,7,11`, `sha1:all+sha256:7`, `sha256:0-7`.
 */
export function parsePcrSelection(spec: string): TpmsPcrSelection[] {
  const out: TpmsPcrSelection[] = [];
  for (const part of spec.split('+')) {
    const m = /^([a-zA-Z0-9_-]+):(.*)$/.exec(part.trim());
    if (!m)
      throw new UsageError(
        'TPM2_BAD_PCR_SPEC',
        `bad PCR selection '${part}' (expected BANK:PCRS, e.g. sha256:7,11)`,
      );
    const hash = parseHashAlg(m[1]!);
    const pcrs = new Set<number>();
    const list = m[2]!.trim();
    if (list === 'all') for (let i = 0; i < 24; i++) pcrs.add(i);
    else if (list !== '')
      for (const item of list.split(',')) {
        const range = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
        if (!range) throw new UsageError('TPM2_BAD_PCR_SPEC', `bad PCR index '${item}'`);
        const a = Number(range[1]);
        const b = range[2] === undefined ? a : Number(range[2]);
        if (a > b || b >= PCR_SELECT_MAX * 8)
          throw new UsageError('TPM2_BAD_PCR_SPEC', `PCR index out of range in '${item}'`);
        for (let i = a; i <= b; i++) pcrs.add(i);
      }
    out.push({ hash, pcrs: [...pcrs].sort((x, y) => x - y) });
  }
  return out;
}

/** Formats a selection back to `sha256:7,11` syntax. */
export function formatPcrSelection(sel: readonly TpmsPcrSelection[]): string {
  return sel.map((s) => `${algName(s.hash)}:${s.pcrs.join(',')}`).join('+');
}

/** Checks a selection is usable for policy work: one or more banks, each with a PCR. */
export function assertPcrSelection(sel: readonly TpmsPcrSelection[]): void {
  if (sel.length === 0) throw new FormatError('TPM2_BAD_PCR_SPEC', 'empty PCR selection');
}
