import { ChecksumError, FormatError } from '@lsvm/core';
import { SECTOR4K } from './constants.js';
import { type LogEntry, type LogWrite, parseLogEntry } from './log.js';

/** The entries to replay, oldest first, and the file-size rules of the newest one. */
export interface ActiveSequence {
  entries: LogEntry[];
  /** The newest entry. */
  head: LogEntry;
  /** The file must be at least this long, or it was truncated after the log was written. */
  flushedFileOffset: number;
  /** The file must be extended to at least this length after replay. */
  lastFileOffset: number;
  /** Where the next entry goes (just past the head, modulo the log length). */
  nextOffset: number;
}

/**
 * Finds the active sequence of a log ([MS-VHDX] §2.3.3): among the valid entries (signature,
 * CRC-32C, matching LogGuid), the one with the highest sequence number whose tail entry reaches it
 * through entries of consecutive sequence numbers laid end to end around the ring. Returns
 * `undefined` when no such sequence exists (an empty log: nothing to replay).
 *
 * Damaged entries are skipped: a torn write of the newest entry must lose to the valid older ones.
 * Every 4 KiB position is parsed at most once, so the work is bounded by the log size.
 */
export function findActiveSequence(log: Uint8Array, logGuid: string, base = 0): ActiveSequence | undefined {
  const L = log.length;
  const valid = new Map<number, LogEntry>();
  for (let off = 0; off + SECTOR4K <= L; off += SECTOR4K) {
    try {
      const e = parseLogEntry(log, off, logGuid, base);
      if (e) valid.set(off, e);
    } catch (e) {
      if (!(e instanceof FormatError || e instanceof ChecksumError)) throw e;
    }
  }
  const heads = [...valid.values()].sort((a, b) => (a.sequenceNumber < b.sequenceNumber ? 1 : -1));
  for (const head of heads) {
    const chain = chainFromTail(valid, head, L);
    if (chain) {
      return {
        entries: chain,
        head,
        flushedFileOffset: head.flushedFileOffset,
        lastFileOffset: head.lastFileOffset,
        nextOffset: (head.offset + head.entryLength) % L,
      };
    }
  }
  return undefined;
}

/** Walks from the head's tail to the head; `undefined` when the chain is broken. */
function chainFromTail(valid: Map<number, LogEntry>, head: LogEntry, L: number): LogEntry[] | undefined {
  const out: LogEntry[] = [];
  let cur = valid.get(head.tail);
  let span = 0;
  while (cur) {
    if (out.length > 0 && cur.sequenceNumber !== out[out.length - 1]!.sequenceNumber + 1n) return undefined;
    out.push(cur);
    span += cur.entryLength;
    if (span > L) return undefined;
    if (cur === head) return out;
    if (cur.sequenceNumber >= head.sequenceNumber) return undefined;
    cur = valid.get((cur.offset + cur.entryLength) % L);
  }
  return undefined;
}

/** All writes of a sequence in replay order. */
export function sequenceWrites(seq: ActiveSequence): LogWrite[] {
  return seq.entries.flatMap((e) => e.writes);
}
