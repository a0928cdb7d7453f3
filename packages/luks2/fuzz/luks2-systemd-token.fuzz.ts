/**
 * Fuzz target: the typed `systemd-tpm2` token reader on arbitrary JSON text — what a scanner meets
 * in someone else's LUKS2 header. Contract: returns or throws an LsvmError. What parses must
 * survive a write → read → write cycle unchanged (the writer fills systemd's defaults once).
 * Corpus: tokens as systemd-cryptenroll 252 writes them, and with the later '_' fields.
 */
import { isLsvmError } from '@lsvm/core';
import {
  type JsonObject,
  isJsonObject,
  parseJson,
  parseSystemdTpm2Token,
  systemdTpm2TokenJson,
  toJsonValue,
} from '../src/index.js';

export function fuzz(data: Buffer): void {
  try {
    const v = parseJson(new Uint8Array(data));
    if (!isJsonObject(v)) return;
    const j1 = systemdTpm2TokenJson(parseSystemdTpm2Token(v));
    const j2 = systemdTpm2TokenJson(parseSystemdTpm2Token(toJsonValue(j1) as JsonObject));
    if (JSON.stringify(j1) !== JSON.stringify(j2)) throw new Error('token write/read/write changed it');
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
