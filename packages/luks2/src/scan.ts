import { type BlockDevice, type LsvmError, isLsvmError } from '@lsvm/core';
import { LUKS2_MAGIC_PRIMARY, LUKS2_MAGIC_SECONDARY } from './luks2-binary-header.js';
import { parseLuks1Header } from './luks1-header.js';
import { parseLuks2HeaderCopy } from './luks2-header.js';

/** A LUKS header found by {@link scanLuksHeaders}. */
export interface FoundHeader {
  offset: number;
  /** 1, or 2 for LUKS2 primary ("LUKS") / secondary ("SKUL") copies. */
  version: 1 | 2;
  kind: 'luks1' | 'primary' | 'secondary';
  /** True when it parsed and validated at this offset (LUKS2: checksum, hdr_offset and JSON). */
  valid: boolean;
  uuid?: string;
  seqid?: bigint;
  problem?: { code: string; message: string };
}

/**
 * Looks for LUKS headers anywhere in an image (a disk whose partition table is gone, a backup
 * file), at every `step` bytes (default 4096; headers are sector aligned). LUKS2 copies are
 * validated relative to their own start, so a volume inside a disk shows up at its partition
 * offset with `valid: false` only when its hdr_offset disagrees (it is relative to the partition).
 */
export async function scanLuksHeaders(
  device: BlockDevice,
  options: { step?: number; start?: number; end?: number; maxResults?: number } = {},
): Promise<FoundHeader[]> {
  const step = options.step ?? 4096;
  const start = options.start ?? 0;
  const end = Math.min(options.end ?? device.size, device.size);
  const max = options.maxResults ?? 64;
  const found: FoundHeader[] = [];
  const chunk = 4 * 1024 * 1024;
  for (let base = start; base < end && found.length < max; base += chunk) {
    const n = Math.min(chunk, end - base);
    const buf = await device.read(base, n);
    for (let i = 0; i + 8 <= n && found.length < max; i += step) {
      const m = buf.subarray(i, i + 6);
      const v = (buf[i + 6]! << 8) | buf[i + 7]!;
      const isPrimary = m.every((b, j) => b === LUKS2_MAGIC_PRIMARY[j]);
      const isSecondary = m.every((b, j) => b === LUKS2_MAGIC_SECONDARY[j]);
      if (!isPrimary && !isSecondary) continue;
      const offset = base + i;
      if (isPrimary && v === 1) {
        const h: FoundHeader = { offset, version: 1, kind: 'luks1', valid: false };
        try {
          const hdr = parseLuks1Header(await device.read(offset, Math.min(592, device.size - offset)));
          h.valid = true;
          h.uuid = hdr.uuid;
        } catch (e) {
          h.problem = problem(e);
        }
        found.push(h);
      } else if (v === 2) {
        const h: FoundHeader = {
          offset,
          version: 2,
          kind: isPrimary ? 'primary' : 'secondary',
          valid: false,
        };
        try {
          const size = Math.min(4 * 1024 * 1024, device.size - offset);
          const bytes = await device.read(offset, size);
          // Validate relative to where the copy says it is (primary 0 ⇒ the volume starts here).
          const head =
            bytes.length >= 264 ? new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(256, false) : 0n;
          const copy = parseLuks2HeaderCopy(bytes, head > 0xffffffffn ? -1 : Number(head));
          h.valid = true;
          h.uuid = copy.binary.uuid;
          h.seqid = copy.binary.seqid;
        } catch (e) {
          h.problem = problem(e);
        }
        found.push(h);
      }
    }
  }
  return found;
}

function problem(e: unknown): { code: string; message: string } {
  if (isLsvmError(e)) return { code: (e as LsvmError).code, message: (e as LsvmError).message };
  throw e;
}
