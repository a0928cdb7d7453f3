/**
 * The published shielding-data vectors (test-vectors/shielding-data/, documented in
 * docs/formats/shielding-data.md): fixed inputs and the pure function that builds every vector
 * file from them and the committed guardian keys. `generate-vectors.ts` writes them; the tests
 * rebuild them and compare byte for byte.
 */
import { join } from 'node:path';
import { repoRoot } from '@lsvm/testkit';
import {
  type GuardianKeys,
  createFsk,
  createPdk,
  deterministicRandom,
  encodeClearData,
  encodeGuardianMetadata,
  encodeKeyProtector,
  exportGuardian,
  packSpecialization,
  parsePdk,
  readGuardianDir,
  viqSignerThumbprint,
} from '../src/index.js';

/** Where the vectors live. */
export const vectorDir: string = join(repoRoot, 'test-vectors', 'shielding-data');

/** The fixed inputs of the published vectors. */
export const VECTOR = {
  owner: { name: 'Vector Owner', dir: 'owner', algorithm: 'rsa2048' as const },
  fabric: { name: 'Vector Fabric', dir: 'fabric', algorithm: 'p256' as const },
  /** 2026-01-01T00:00:00Z. */
  created: 1767225600,
  pdkSeed: 'lsvm shielding-data vector pdk 1',
  specializationSeed: 'lsvm shielding-data vector specialization 1',
  viq: { name: 'Ubuntu-22.04-*', version: '1.0.0.0', rule: 'GreaterThanOrEquals' as const },
  answerFile: '#cloud-config\nhostname: vector\n',
  motd: 'welcome to a shielded VM\n',
  password: 'Vector-Passw0rd!',
  sshKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZlY3RvcnZlY3RvcnZlY3RvcnZlY3RvcnZlY3Rvcg vector',
  fskPairs: [
    { name: '@ComputerName@', value: 'vector-vm' },
    { name: '@TimeZone@', value: 'UTC' },
    { name: '@IP4Addr-1@', value: '192.0.2.10/24' },
  ],
  specializationFiles: [
    { name: 'unattend.xml', text: '<unattend/>' },
    { name: 'a.txt', text: 'hello' },
  ],
  /** A 256-bit boot volume key (aes-xts-plain64 with two 128-bit halves): 00 01 … 1f. */
  volumeKeyHex: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
};

/** The two vector guardians, read from their committed directories. */
export function vectorGuardians(): { owner: GuardianKeys; fabric: GuardianKeys } {
  return {
    owner: readGuardianDir(join(vectorDir, VECTOR.owner.dir)),
    fabric: readGuardianDir(join(vectorDir, VECTOR.fabric.dir)),
  };
}

const enc = new TextEncoder();

/** Every vector file, by name, as a pure function of the guardians and {@link VECTOR}. */
export function buildVectors(owner: GuardianKeys, fabric: GuardianKeys): Record<string, Uint8Array> {
  const pdk = createPdk({
    owner,
    guardians: [exportGuardian(fabric)],
    viqs: [{ ...VECTOR.viq, signer: viqSignerThumbprint(owner.signingCertificate) }],
    policy: 'Shielded',
    created: VECTOR.created,
    secrets: {
      answerFile: { name: 'user-data', data: enc.encode(VECTOR.answerFile) },
      files: [{ name: 'motd', data: enc.encode(VECTOR.motd) }],
      credentials: [{ user: 'azureuser', password: VECTOR.password }],
      sshKeys: [{ user: 'azureuser', key: VECTOR.sshKey }],
    },
    random: deterministicRandom(VECTOR.pdkSeed),
  });
  const files = VECTOR.specializationFiles.map((f) => ({ name: f.name, data: enc.encode(f.text) }));
  const key = Buffer.from(VECTOR.volumeKeyHex, 'hex');
  return {
    'fabric.guardian.json': enc.encode(encodeGuardianMetadata(exportGuardian(fabric))),
    'vector.pdk': pdk,
    'vector.kp': encodeKeyProtector(parsePdk(pdk).keyProtector),
    'vector.fsk': createFsk(VECTOR.fskPairs, { signer: owner }),
    'clear-data.bin': encodeClearData(files),
    'specialization-mode2.aes': packSpecialization(files, key, {
      random: deterministicRandom(VECTOR.specializationSeed),
    }),
    'specialization-mode1.aes': packSpecialization(files, key, {
      mode: 1,
      random: deterministicRandom(VECTOR.specializationSeed),
    }),
  };
}
