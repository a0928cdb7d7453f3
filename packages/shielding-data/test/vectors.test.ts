import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@lsvm/core';
import {
  decodeClearData,
  openPdk,
  parseFsk,
  parseKeyProtector,
  readPdk,
  unpackSpecialization,
  unwrapTransportKey,
  verifyFsk,
  verifyKeyProtector,
} from '../src/index.js';
import { VECTOR, buildVectors, vectorDir, vectorGuardians } from './vectors.js';

const read = (f: string) => new Uint8Array(readFileSync(join(vectorDir, f)));

describe('published vectors (test-vectors/shielding-data)', () => {
  const { owner, fabric } = vectorGuardians();
  const built = buildVectors(owner, fabric);

  test.each(Object.keys(built))('%s is rebuilt byte for byte from the keys and parameters', (name) => {
    expect(toHex(built[name]!)).toBe(toHex(read(name)));
  });

  test('every vector file is covered', () => {
    const files = readdirSync(vectorDir).filter((f) => !['owner', 'fabric', 'README.md'].includes(f));
    expect(files.sort()).toEqual(Object.keys(built).sort());
  });

  test('the vectors open with the published keys', () => {
    const r = readPdk(read('vector.pdk'));
    expect(r.problem).toBeUndefined();
    expect(r.info!.created).toBe(VECTOR.created);
    const { secrets } = openPdk(read('vector.pdk'), fabric);
    expect(new TextDecoder().decode(secrets.answerFile!.data)).toBe(VECTOR.answerFile);
    expect(secrets.credentials[0]!.password).toBe(VECTOR.password);
    const kp = parseKeyProtector(read('vector.kp'));
    verifyKeyProtector(kp);
    expect(toHex(unwrapTransportKey(kp, owner))).toBe(toHex(unwrapTransportKey(kp, fabric)));
    expect(verifyFsk(parseFsk(read('vector.fsk')))!.subject).toBe('CN=Vector Owner signing');
    expect(decodeClearData(read('clear-data.bin')).files.map((f) => f.name)).toEqual([
      'unattend.xml',
      'a.txt',
    ]);
    const key = Buffer.from(VECTOR.volumeKeyHex, 'hex');
    expect(unpackSpecialization(read('specialization-mode2.aes'), key).authenticated).toBe(true);
    expect(unpackSpecialization(read('specialization-mode1.aes'), key).authenticated).toBe(false);
  });

  test('the format document and the vector README quote the files exactly', () => {
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const readme = readFileSync(join(vectorDir, 'README.md'), 'utf8');
    for (const name of Object.keys(built)) {
      const row = new RegExp(`\\| ${name.replace('.', '\\.')} \\| (\\d+) \\| ([0-9a-f]{64}) \\|`).exec(
        readme,
      );
      expect(row).not.toBeNull();
      expect(Number(row![1])).toBe(read(name).length);
      expect(row![2]).toBe(createHash('sha256').update(read(name)).digest('hex'));
    }
    const doc = readFileSync(join(vectorDir, '..', '..', 'docs', 'formats', 'shielding-data.md'), 'utf8');
    const blocks = [...doc.matchAll(/```\n([0-9a-f \n]+)```/g)].map((m) => m[1]!.replace(/\s+/g, ''));
    expect(blocks).toContain(toHex(read('clear-data.bin')));
    expect(blocks).toContain(toHex(read('specialization-mode2.aes')));
  });

  test('the transport key of the vector is the first 32 DRBG bytes', () => {
    const { deterministicRandom } = require('../src/index.js') as typeof import('../src/index.js');
    const tk = deterministicRandom(VECTOR.pdkSeed)(32);
    expect(toHex(unwrapTransportKey(parseKeyProtector(read('vector.kp')), fabric))).toBe(toHex(tk));
  });
});
