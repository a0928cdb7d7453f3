/**
 * Fuzz target: the re-encryption journal. The input is read twice: as a whole journal device
 * (header block, wrapped key, record slots), and with its first bytes taken as the JSON of a
 * header block and of a record whose magic and SHA-256 are made valid — mutated bytes would
 * otherwise almost never get past the checksum to the field validation.
 */
import { createHash } from 'node:crypto';
import { MemoryDevice, isLsvmError } from '@lsvm/core';
import { ReencryptJournal, parseJournalHeader, parseRecord } from '../src/index.js';

function sealed(magic: string, json: Uint8Array): Uint8Array {
  const b = new Uint8Array(4096 + 512);
  b.set(new TextEncoder().encode(magic), 0);
  const text = json.subarray(0, 4064 - 12);
  new DataView(b.buffer).setUint32(8, text.length, true);
  b.set(text, 12);
  b.set(createHash('sha256').update(b.subarray(0, 4064)).digest(), 4064);
  return b;
}

export async function fuzz(data: Buffer): Promise<void> {
  const bytes = new Uint8Array(data);
  try {
    const journal = new ReencryptJournal(new MemoryDevice(new Uint8Array(bytes), { readOnly: true }));
    const h = await journal.readHeader();
    if (h) await journal.latest(h.header);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
  const json = bytes.subarray(bytes[0] === 0x7b ? 0 : Math.max(0, bytes.indexOf(0x7b)));
  try {
    parseJournalHeader(sealed('LSVMRJH1', json));
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
  try {
    parseRecord(sealed('LSVMRJR1', json), 'fuzz', 512);
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
