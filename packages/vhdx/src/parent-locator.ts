import {
  ByteReader,
  decodeUtf16le,
  encodeUtf16le,
  FormatError,
  guidFromBytes,
  guidToBytes,
  UnsupportedError,
} from '@lsvm/core';
import { VHDX_PARENT_LOCATOR_TYPE } from './constants.js';

/**
 * The parent locator of a differencing disk ([MS-VHDX] §2.6.2.6): a locator type GUID and a set of
 * UTF-16LE key/value pairs. For the VHDX locator type the keys are `parent_linkage`,
 * `parent_linkage2`, `relative_path`, `volume_path` and `absolute_win32_path` (§2.6.2.6.1).
 */
export interface ParentLocator {
  locatorType: string;
  /** Key/value pairs in on-disk order. Keys are unique. */
  entries: Map<string, string>;
}

const STRUCTURE = 'VHDX parent locator';
const HEADER = 20;
const ENTRY = 12;

/** Parses a parent locator item. Offsets inside are relative to the item's start. */
export function parseParentLocator(bytes: Uint8Array, base = 0): ParentLocator {
  const r = new ByteReader(bytes, { structure: STRUCTURE, base });
  const locatorType = guidFromBytes(r.bytesView(16, 'locator type'));
  r.skip(2);
  const count = r.u16();
  if (locatorType !== VHDX_PARENT_LOCATOR_TYPE) {
    throw new UnsupportedError(
      'VHDX_PARENT_LOCATOR_TYPE',
      `parent locator type ${locatorType} is not VHDX's`,
      {
        structure: STRUCTURE,
        offset: base,
      },
    );
  }
  r.need(count * ENTRY, 'key/value entries');
  const entries = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const at = HEADER + i * ENTRY;
    const keyOffset = r.u32At(at);
    const valueOffset = r.u32At(at + 4);
    const keyLength = r.u16At(at + 8);
    const valueLength = r.u16At(at + 10);
    const key = text(bytes, keyOffset, keyLength, base, 'key');
    const value = text(bytes, valueOffset, valueLength, base, 'value');
    if (key.length === 0 || entries.has(key)) {
      throw new FormatError(
        'VHDX_PARENT_LOCATOR_KEY',
        `parent locator key ${JSON.stringify(key)} is empty or repeated`,
        {
          structure: STRUCTURE,
          offset: base + at,
        },
      );
    }
    entries.set(key, value);
  }
  return { locatorType, entries };
}

function text(bytes: Uint8Array, off: number, len: number, base: number, what: string): string {
  if (len % 2 !== 0 || off < HEADER || off + len > bytes.length) {
    throw new FormatError(
      'VHDX_PARENT_LOCATOR_RANGE',
      `parent locator ${what} at ${off} of ${len} bytes is out of range`,
      {
        structure: STRUCTURE,
        offset: base + off,
      },
    );
  }
  return decodeUtf16le(bytes.subarray(off, off + len), { stopAtNul: false });
}

/** Serializes a parent locator item: header, entries, then keys and values packed after them. */
export function serializeParentLocator(loc: ParentLocator): Uint8Array {
  const pairs = [...loc.entries].map(([k, v]) => [encodeUtf16le(k), encodeUtf16le(v)] as const);
  let size = HEADER + pairs.length * ENTRY;
  for (const [k, v] of pairs) size += k.length + v.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  guidToBytes(loc.locatorType, out, 0);
  view.setUint16(18, pairs.length, true);
  let data = HEADER + pairs.length * ENTRY;
  pairs.forEach(([k, v], i) => {
    const at = HEADER + i * ENTRY;
    view.setUint32(at, data, true);
    out.set(k, data);
    data += k.length;
    view.setUint32(at + 4, data, true);
    out.set(v, data);
    data += v.length;
    view.setUint16(at + 8, k.length, true);
    view.setUint16(at + 10, v.length, true);
  });
  return out;
}

/**
 * The candidate parent paths of a locator in the order [MS-VHDX] §2.6.2.6.1 suggests trying them
 * (`relative_path`, `volume_path`, `absolute_win32_path`), with backslashes turned into slashes.
 */
export function parentPathCandidates(loc: ParentLocator): { key: string; path: string }[] {
  const out: { key: string; path: string }[] = [];
  for (const key of ['relative_path', 'volume_path', 'absolute_win32_path']) {
    const v = loc.entries.get(key);
    if (v) out.push({ key, path: v.replace(/\\/g, '/') });
  }
  return out;
}

/** The parent's DataWriteGuid the child was made against (braces stripped), if recorded. */
export function parentLinkage(loc: ParentLocator): string[] {
  const out: string[] = [];
  for (const key of ['parent_linkage', 'parent_linkage2']) {
    const v = loc.entries.get(key);
    if (v) out.push(v.replace(/[{}]/g, '').trim().toLowerCase());
  }
  return out;
}
