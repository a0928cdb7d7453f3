/**
 * shielding-data: the two operations a provisioning run pays for.
 *
 * 1. `specialization.aes` unpack of 32 MiB of files (mode 2: HMAC-SHA256 over the file, then
 *    AES-256-CBC decryption and clear-data parsing) with @lsvm/shielding-data in-process, side by
 *    side with openssl doing the same two passes (`openssl dgst -hmac` + `openssl enc -d`).
 * 2. Opening a PDK for an RSA-3072 fabric guardian (parse, 4 signature checks, OAEP unwrap, MAC,
 *    AES-256-GCM) in-process, next to `openssl pkeyutl -decrypt` of the same OAEP wrapping — the
 *    single private-key operation that dominates the open.
 *
 * There is no other implementation of these formats to compare with; the peers show how close to
 * the raw primitives the format code stays.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hkdfSync } from 'node:crypto';
// benchmarks/ is not a dependent of @lsvm/shielding-data; import its sources directly (run through tsx).
import {
  createPdk,
  exportGuardian,
  generateGuardian,
  guardianToPem,
  openPdk,
  packSpecialization,
  parsePdk,
  parseSpecializationHeader,
  unpackSpecialization,
} from '../../packages/shielding-data/src/index.js';
import type { BenchCase, BenchContext, Benchmark, Peer } from '../harness.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export const benchmark: Benchmark = {
  name: 'shielding-data',
  description: 'specialization.aes unpack (32 MiB) and PDK open vs the openssl primitives',
  async setup(ctx: BenchContext): Promise<BenchCase[]> {
    const openssl = ctx.which('openssl');
    const key = new Uint8Array(32).map((_, i) => i);

    // 1. specialization.aes with 8 files of 4 MiB.
    const files = Array.from({ length: 8 }, (_, i) => ({
      name: `f${i}.bin`,
      data: new Uint8Array(4 << 20).fill(i + 1),
    }));
    const spec = packSpecialization(files, key);
    const h = parseSpecializationHeader(spec);
    const specPath = join(ctx.dir, 'specialization.aes');
    const macIn = join(ctx.dir, 'mac-input.bin');
    const ct = join(ctx.dir, 'ct.bin');
    writeFileSync(specPath, spec);
    writeFileSync(macIn, Buffer.concat([spec.subarray(0, 52), spec.subarray(h.cipherOffset)]).subarray(0));
    writeFileSync(ct, spec.subarray(h.cipherOffset));
    const macKey = hex(
      new Uint8Array(hkdfSync('sha256', key, new Uint8Array(0), 'lsvm specialization.aes hmac v1', 32)),
    );
    const iv = hex(spec.subarray(h.ivOffset, h.ivOffset + 16));
    const specPeer: Peer = openssl
      ? {
          name: 'openssl dgst -hmac + enc -d',
          runner: {
            kind: 'cmd',
            argv: [
              'sh',
              '-c',
              `"${openssl}" dgst -sha256 -mac HMAC -macopt hexkey:${macKey} "${macIn}" >/dev/null && "${openssl}" enc -d -aes-256-cbc -K ${hex(key)} -iv ${iv} -in "${ct}" -out /dev/null`,
            ],
          },
        }
      : { name: 'openssl', missing: 'openssl not on PATH' };

    // 2. A PDK for an RSA-3072 fabric.
    ctx.log('generating guardians (RSA-3072 fabric)…');
    const owner = generateGuardian('bench owner', { algorithm: 'p256' });
    const fabric = generateGuardian('bench fabric', { algorithm: 'rsa3072' });
    const pdk = createPdk({
      owner,
      guardians: [exportGuardian(fabric)],
      viqs: [],
      secrets: {
        answerFile: { name: 'user-data', data: new Uint8Array(64 << 10).fill(35) },
        files: [],
        credentials: [],
        sshKeys: [],
      },
    });
    const wrapped = join(ctx.dir, 'wrapped.bin');
    const fabricKey = join(ctx.dir, 'fabric.key.pem');
    writeFileSync(wrapped, parsePdk(pdk).keyProtector.wrappings[1]!.wrappedKey);
    writeFileSync(fabricKey, guardianToPem(fabric).encryptionKey!, { mode: 0o600 });
    const pdkPeer: Peer = openssl
      ? {
          name: 'openssl pkeyutl -decrypt (OAEP)',
          runner: {
            kind: 'cmd',
            argv: [
              openssl,
              'pkeyutl',
              '-decrypt',
              '-inkey',
              fabricKey,
              '-pkeyopt',
              'rsa_padding_mode:oaep',
              '-pkeyopt',
              'rsa_oaep_md:sha256',
              '-pkeyopt',
              'rsa_mgf1_md:sha256',
              '-in',
              wrapped,
              '-out',
              '/dev/null',
            ],
          },
        }
      : { name: 'openssl', missing: 'openssl not on PATH' };

    return [
      {
        name: 'specialization.aes unpack, 32 MiB, mode 2',
        bytes: 32 << 20,
        ours: {
          kind: 'fn',
          run: async () => {
            unpackSpecialization(spec, key);
          },
        },
        peers: [specPeer],
      },
      {
        name: 'PDK open, RSA-3072 guardian, 64 KiB answer file',
        bytes: 0,
        ours: {
          kind: 'fn',
          run: async () => {
            openPdk(pdk, fabric);
          },
        },
        peers: [pdkPeer],
      },
    ];
  },
};
