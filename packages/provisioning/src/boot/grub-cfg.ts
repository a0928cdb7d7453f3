import { FormatError } from '@lsvm/core';

/**
 * Enough of grub.cfg to find what the default entry boots — what lsvmload does to know which
 * initrd to inject the keys into. Not a GRUB script interpreter: `menuentry` and `submenu`
 * blocks, `set default=…`, and the `linux`/`initrd` commands (with their `efi` and `16`
 * variants) inside entries. GRUB's own numbering is followed: top-level entries count from 0,
 * a submenu is one entry, `"1>2"` selects the third entry of the second one.
 */

/** The entry the default points at. Paths are as written (device prefix removed). */
export interface GrubDefault {
  title: string;
  /** Its position as GRUB numbers it, e.g. `0` or `1>2`. */
  index: string;
  kernel?: string;
  /** Every initrd the entry names, in order; lsvmload injects into the last one. */
  initrds: string[];
}

interface Entry {
  title: string;
  kernel?: string;
  initrds: string[];
  children?: Entry[];
}

/** grub.cfg files are a few KiB; a huge one is not a grub.cfg. */
const MAX_GRUB_CFG = 1024 * 1024;

/** Splits a shell-like line into words, honouring single and double quotes and backslashes. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '#' && !inWord) break;
    else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** Removes a GRUB device prefix: `(hd0,gpt2)/vmlinuz` and `($root)/vmlinuz` → `/vmlinuz`. */
export function stripGrubDevice(path: string): string {
  return path.startsWith('(') && path.includes(')') ? path.slice(path.indexOf(')') + 1) || '/' : path;
}

/**
 * Parses grub.cfg text and returns the default entry.
 * @throws FormatError `GRUB_CFG_NO_ENTRY` when no menu entry exists or the default names none.
 */
export function findGrubDefault(input: string | Uint8Array): GrubDefault {
  if (typeof input !== 'string' && input.length > MAX_GRUB_CFG)
    throw new FormatError('GRUB_CFG_TOO_LARGE', `grub.cfg of ${input.length} bytes is too large`, {
      structure: 'grub.cfg',
    });
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const root: Entry[] = [];
  const stack: Entry[][] = [root];
  const open: (Entry | undefined)[] = [];
  let def: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const w = words(raw.trim());
    if (w.length === 0) continue;
    const cmd = w[0]!;
    if (cmd === 'menuentry' || cmd === 'submenu') {
      if (stack.length > 16)
        throw new FormatError('GRUB_CFG_DEPTH', 'menus nested too deeply', { structure: 'grub.cfg' });
      const e: Entry = { title: w[1] ?? '', initrds: [], ...(cmd === 'submenu' ? { children: [] } : {}) };
      stack[stack.length - 1]!.push(e);
      open.push(e);
      stack.push(e.children ?? []);
      if (!w.includes('{')) continue;
    } else if (cmd === '}') {
      if (open.length > 0) {
        open.pop();
        stack.pop();
      }
    } else if (open.length === 0) {
      // `set default=N` at top level; GRUB also accepts `default=N`.
      const assign = cmd === 'set' ? w[1] : cmd;
      if (assign?.startsWith('default=') && def === undefined) def = assign.slice('default='.length);
    } else {
      const e = open[open.length - 1]!;
      if (/^linux(efi|16)?$/.test(cmd) && w[1]) e.kernel = stripGrubDevice(w[1]);
      else if (/^initrd(efi|16)?$/.test(cmd)) e.initrds.push(...w.slice(1).map(stripGrubDevice));
    }
  }
  if (root.length === 0)
    throw new FormatError('GRUB_CFG_NO_ENTRY', 'grub.cfg has no menuentry', { structure: 'grub.cfg' });
  // A default that is a variable (`${saved_entry}`) or a title we cannot resolve falls back to 0, as GRUB does.
  const pick = (list: Entry[], sel: string[], path: string[]): GrubDefault => {
    const head = sel[0] ?? '0';
    let i = /^\d+$/.test(head) ? Number(head) : list.findIndex((e) => e.title === head);
    if (i < 0 || i >= list.length) i = 0;
    const e = list[i]!;
    const here = [...path, String(i)];
    if (e.children) {
      if (e.children.length === 0)
        throw new FormatError('GRUB_CFG_NO_ENTRY', `submenu ${JSON.stringify(e.title)} is empty`, {
          structure: 'grub.cfg',
        });
      return pick(e.children, sel.slice(1), here);
    }
    return {
      title: e.title,
      index: here.join('>'),
      ...(e.kernel ? { kernel: e.kernel } : {}),
      initrds: e.initrds,
    };
  };
  return pick(root, (def ?? '0').split('>'), []);
}

/**
 * Candidate paths of a grub path inside the boot file system: as written, and without a leading
 * `/boot` (a grub.cfg written for a system whose /boot is not a separate partition).
 */
export function bootFsCandidates(path: string): string[] {
  const p = path.startsWith('/') ? path : `/${path}`;
  return p.startsWith('/boot/') ? [p, p.slice('/boot'.length)] : [p];
}
