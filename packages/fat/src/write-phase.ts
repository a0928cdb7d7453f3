import type { BlockDevice } from '@lsvm/core';

/** One write to make: `bytes` at byte `offset` of the device. */
export interface PendingWrite {
  offset: number;
  bytes: Uint8Array;
}

/** Largest write made by joining adjacent ones (bounds the copy a join costs). */
const MAX_JOINED_BYTES = 8 << 20;

/**
 * Sorts writes by offset and joins the ones that touch end to start into single writes (so 300
 * small files allocated one after the other become one write). Writes that overlap are returned
 * as they came, unjoined and in their original order, with `ordered` set: the caller must then
 * make them one after the other so the later one wins.
 */
export function coalesceWrites(writes: readonly PendingWrite[]): {
  writes: PendingWrite[];
  ordered: boolean;
} {
  if (writes.length < 2) return { writes: [...writes], ordered: false };
  const sorted = [...writes].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (prev.offset + prev.bytes.length > sorted[i]!.offset) return { writes: [...writes], ordered: true };
  }
  const out: PendingWrite[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i + 1;
    let end = sorted[i]!.offset + sorted[i]!.bytes.length;
    let size = sorted[i]!.bytes.length;
    while (
      j < sorted.length &&
      sorted[j]!.offset === end &&
      size + sorted[j]!.bytes.length <= MAX_JOINED_BYTES
    ) {
      end += sorted[j]!.bytes.length;
      size += sorted[j]!.bytes.length;
      j++;
    }
    if (j === i + 1) out.push(sorted[i]!);
    else {
      const joined = new Uint8Array(size);
      let at = 0;
      for (let k = i; k < j; k++) {
        joined.set(sorted[k]!.bytes, at);
        at += sorted[k]!.bytes.length;
      }
      out.push({ offset: sorted[i]!.offset, bytes: joined });
    }
    i = j;
  }
  return { writes: out, ordered: false };
}

/**
 * Makes one phase of writes: writes whose relative order does not matter for crash safety
 * (the data of new files, the dirty FAT sectors of every copy, the changed directory sectors).
 * They are joined where adjacent and issued together, so the device (the libuv thread pool for a
 * file) works on several at once; the phase is over when every one has settled. The next phase
 * starts only then — that wait is the ordering barrier the crash-safety guarantee rests on. The
 * first failure is rethrown once nothing is in flight any more.
 */
export async function writePhase(device: BlockDevice, writes: readonly PendingWrite[]): Promise<void> {
  if (writes.length === 0) return;
  const { writes: plan, ordered } = coalesceWrites(writes);
  if (ordered) {
    for (const w of plan) await device.write(w.offset, w.bytes);
    return;
  }
  if (plan.length === 1) {
    await device.write(plan[0]!.offset, plan[0]!.bytes);
    return;
  }
  const results = await Promise.allSettled(plan.map((w) => device.write(w.offset, w.bytes)));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
