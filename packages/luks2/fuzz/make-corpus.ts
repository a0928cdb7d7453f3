/**
 * Regenerates the seed corpus (`node --conditions=lsvm-source --import tsx fuzz/make-corpus.ts`
 * from packages/luks2): small volumes made by our formatter with cheap KDF costs, and the headers
 * of the shared cryptsetup vectors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '@lsvm/core';
import { readXz, sharedVectors } from '@lsvm/testkit';
import { addToken, formatLuks } from '../src/index.js';

const root = join(import.meta.dirname, 'corpus');
const put = (target: string, name: string, b: Uint8Array): void => {
  mkdirSync(join(root, target), { recursive: true });
  writeFileSync(join(root, target, name), b);
};
const pass = new TextEncoder().encode('fuzz');
const fast = { kdf: { type: 'pbkdf2' as const, iterations: 1 }, digestIterations: 1 };

// LUKS2, 128-bit aes-cbc-essiv (64 KiB keyslot area): 2×16 KiB headers + area + 8 KiB of data
for (const [name, opts] of [
  ['luks2-cbc-essiv', { cipher: 'aes-cbc-essiv:sha256', keySizeBits: 128 }],
  ['luks2-ecb', { cipher: 'aes-ecb', keySizeBits: 128 }],
  ['luks2-xts-4k', { cipher: 'aes-xts-plain64', keySizeBits: 256, sectorSize: 4096 }],
] as const) {
  const keyslotsSize = opts.keySizeBits === 256 ? 128 * 1024 : 64 * 1024;
  const d = new MemoryDevice(32768 + keyslotsSize + 8192);
  await formatLuks(d, pass, { ...fast, ...opts, keyslotsSize, label: 'fuzz' });
  if (name === 'luks2-ecb') await addToken(d, { type: 'systemd-tpm2', keyslots: ['0'], 'tpm2-pcrs': [7] });
  put('luks-open', `${name}.img`, d.bytes);
  put('luks2-header', `${name}.hdr`, d.bytes.subarray(0, 16384));
  const end = d.bytes.subarray(4096, 16384).indexOf(0);
  put('luks2-json', `${name}.json`, d.bytes.subarray(4096, 4096 + end));
}
// LUKS1 headers: ours and the cryptsetup vectors (592-byte header plus the size check input)
{
  const d = new MemoryDevice(3 * 1024 * 1024);
  await formatLuks(d, pass, { ...fast, type: 'luks1', keySizeBits: 256 });
  put('luks1-header', 'ours-xts.hdr', d.bytes.subarray(0, 592));
}
for (const f of [
  'evil_hdr-keyslot_overlap',
  'evil_hdr-luks_hdr_damage',
  'evil_hdr-stripes_payload_dmg',
  'compatimage.img',
]) {
  const b = readXz(join(sharedVectors, 'luks', `${f}.xz`));
  put('luks1-header', `${f}.hdr`, new Uint8Array(b.subarray(0, 4096)));
}
for (const f of ['compatimage2.img', 'luks2_valid_hdr.img', 'luks2_invalid_cipher.img']) {
  const b = readXz(join(sharedVectors, 'luks', `${f}.xz`));
  put('luks2-header', `${f}.hdr`, new Uint8Array(b.subarray(0, 16384)));
  const end = b.subarray(4096, 16384).indexOf(0);
  put('luks2-json', `${f}.json`, new Uint8Array(b.subarray(4096, 4096 + end)));
}
put(
  'luks2-json',
  'float.json',
  new TextEncoder().encode(
    '{"keyslots":{},"tokens":{},"segments":{},"digests":{},"config":{"json_size":"12288","keyslots_size":"16744448","x":1e3}}',
  ),
);
