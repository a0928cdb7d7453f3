import { MemoryDevice } from '@lsvm/core';
import { parseJson } from '../src/luks2-json.js';
import {
  addKeyslot,
  formatLuks,
  type JsonObject,
  parseSystemdTpm2Token,
  readLuks,
  systemdTpm2TokenJson,
} from '../src/index.js';
import { FAST_ARGON2, FAST_FORMAT, FAST_PBKDF2 } from './helpers.js';

/**
 * The `systemd-tpm2` token's field names, as systemd writes them: the fields of systemd ≤ 249 use
 * '-', every later one '_' (tpm2-util.c: "We made the mistake of using '-' in the field names …
 * future additions to the JSON object should use '_'").
 */
const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('systemd-tpm2 token fields', () => {
  const text = JSON.stringify({
    type: 'systemd-tpm2',
    keyslots: ['1'],
    'tpm2-blob': b64('blob'),
    'tpm2-pcrs': [7],
    'tpm2-pcr-bank': 'sha256',
    'tpm2-primary-alg': 'ecc',
    'tpm2-policy-hash': 'ab'.repeat(32),
    'tpm2-pin': true,
    tpm2_pcrlock: false,
    tpm2_pubkey_pcrs: [11],
    tpm2_pubkey: b64('-----BEGIN PUBLIC KEY-----'),
    tpm2_salt: b64('salt'),
    tpm2_srk: b64('srk'),
  });
  const token = parseSystemdTpm2Token(parseJson(new TextEncoder().encode(text)) as JsonObject);

  it('reads the signed-policy, salt, SRK and pcrlock fields under their underscore names', () => {
    expect(token.pubkeyPcrs).toEqual([11]);
    expect(Buffer.from(token.pubkey!).toString()).toBe('-----BEGIN PUBLIC KEY-----');
    expect(Buffer.from(token.salt!).toString()).toBe('salt');
    expect(Buffer.from(token.srk!).toString()).toBe('srk');
    expect([token.pin, token.pcrlock, token.pcrBank, token.primaryAlg]).toEqual([
      true,
      false,
      'sha256',
      'ecc',
    ]);
  });

  it('writes them back under the same names, and never the hyphenated spellings', () => {
    const out = systemdTpm2TokenJson(token) as Record<string, unknown>;
    expect(out).toEqual(JSON.parse(text));
    expect(Object.keys(out).filter((k) => k.startsWith('tpm2-pubkey'))).toEqual([]);
  });

  it('refuses a non-array tpm2_pubkey_pcrs', () => {
    const bad = text.replace('"tpm2_pubkey_pcrs":[11]', '"tpm2_pubkey_pcrs":"11"');
    expect(() => parseSystemdTpm2Token(parseJson(new TextEncoder().encode(bad)) as JsonObject)).toThrow(
      expect.objectContaining({ code: 'LUKS2_TPM2_TOKEN' }),
    );
  });
});

describe('keyslot AF hash, as cryptsetup chooses it', () => {
  it('follows the PBKDF2 hash (systemd-cryptenroll: pbkdf2-sha512 → AF sha512), sha256 for Argon2', async () => {
    const dev = new MemoryDevice(17 << 20);
    const pw = new TextEncoder().encode('pw');
    await formatLuks(dev, pw, FAST_FORMAT);
    const pb = await addKeyslot(dev, { passphrase: pw }, pw, { kdf: { ...FAST_PBKDF2, hash: 'sha512' } });
    const ar = await addKeyslot(dev, { passphrase: pw }, pw, { kdf: FAST_ARGON2 });
    const v = await readLuks(dev);
    if (v.version !== 2) throw new Error('expected LUKS2');
    const af = (id: number): unknown => {
      const ks = v.active.json.keyslots as JsonObject;
      return ((ks[String(id)] as JsonObject).af as JsonObject).hash;
    };
    expect([af(pb), af(ar)]).toEqual(['sha512', 'sha256']);
  });
});
