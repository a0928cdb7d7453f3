/**
 * LUKS: (1) unlock of an Argon2id keyslot (256 MiB, 4 passes, 2 lanes) in-process against
 * `cryptsetup open --test-passphrase` on the same image; (2) data-segment decrypt throughput of
 * @lsvm/luks2's LuksDevice at 512- and 4096-byte sectors against one bulk node:crypto AES-256-XTS
 * call per 16 MiB over the same bytes (the fastest Node can go with its own XTS, which cannot
 * change the IV per sector); (3) aes-cbc-essiv:sha256 (the LUKS1 cipher of older boot partitions)
 * read and write, 512-byte sectors, against one bulk node:crypto AES-256-CBC call per 16 MiB in
 * the same direction (one chain over everything: what Node does with no per-sector IVs).
 * `openssl speed -evp aes-256-xts` / `aes-256-cbc` are printed as the CPU's limits.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice, MemoryDevice } from '@lsvm/core';
import {
  LuksDevice,
  SectorCipher,
  formatLuks,
  readLuks,
  unlockLuks,
} from '../../packages/luks2/src/index.js';
import type { BenchCase, Benchmark } from '../harness.js';

const MiB = 1024 * 1024;
const DATA = 256 * MiB;
const CHUNK = 16 * MiB;

export const benchmark: Benchmark = {
  name: 'luks',
  description:
    'LUKS2 Argon2id unlock vs cryptsetup; XTS data-segment decrypt vs bulk node:crypto XTS; CBC-ESSIV read/write vs bulk node:crypto CBC',
  async setup(ctx) {
    const cases: BenchCase[] = [];
    const pass = 'benchmark passphrase';
    const kf = join(ctx.dir, 'kf');
    writeFileSync(kf, pass);

    // (1) unlock
    const img = join(ctx.dir, 'argon.img');
    const cryptsetup = ctx.which('cryptsetup');
    if (cryptsetup) {
      execFileSync('truncate', ['-s', String(17 * MiB), img]);
      execFileSync(cryptsetup, [
        'luksFormat',
        '--batch-mode',
        '--type',
        'luks2',
        '--pbkdf',
        'argon2id',
        '--pbkdf-force-iterations',
        '4',
        '--pbkdf-memory',
        '262144',
        '--pbkdf-parallel',
        '2',
        img,
        kf,
      ]);
    } else {
      ctx.log('cryptsetup missing: formatting the unlock image with @lsvm/luks2 instead');
      const d = await FileDevice.open(img, { create: true, size: 17 * MiB });
      const r = await formatLuks(d, new TextEncoder().encode(pass), {
        kdf: { type: 'argon2id', iterations: 4, memoryKiB: 262144, parallel: 2 },
      });
      r.volumeKey.fill(0);
      await d.close();
    }
    cases.push({
      name: 'unlock argon2id keyslot (256 MiB, 4 passes, 2 lanes)',
      bytes: 0,
      ours: {
        kind: 'fn',
        run: async () => {
          const d = await FileDevice.open(img);
          try {
            const r = await unlockLuks(d, await readLuks(d), new TextEncoder().encode(pass));
            r.volumeKey.fill(0);
          } finally {
            await d.close();
          }
        },
      },
      peers: [
        cryptsetup
          ? {
              name: 'cryptsetup open --test-passphrase',
              runner: { kind: 'cmd', argv: [cryptsetup, 'open', '--test-passphrase', '--key-file', kf, img] },
            }
          : {
              name: 'cryptsetup open --test-passphrase',
              missing: 'cryptsetup not on PATH (Debian cryptsetup-bin)',
            },
      ],
      targets: [
        { peer: 'cryptsetup open --test-passphrase', minRatio: 0.8, note: 'at most 1.25× cryptsetup’s time' },
      ],
    });

    // (2) decrypt throughput, in memory so the disk does not decide
    const key = new Uint8Array(randomBytes(64));
    ctx.log(
      `XTS tweak passes: ${new SectorCipher('aes-xts-plain64', key).usesKernel ? 'WebAssembly SIMD kernel' : 'JavaScript (no wasm SIMD, or LSVM_XTS_KERNEL=js)'}`,
    );
    const backing = new MemoryDevice(DATA);
    for (let o = 0; o < DATA; o += MiB) backing.bytes.set(randomBytes(4096), o);
    const target = new Uint8Array(CHUNK);
    const bulk = {
      name: 'bulk node:crypto aes-256-xts (one call per 16 MiB)',
      runner: {
        kind: 'fn' as const,
        run: async () => {
          for (let o = 0; o < DATA; o += CHUNK) {
            const d = createDecipheriv('aes-256-xts', key, Buffer.alloc(16));
            d.update(backing.bytes.subarray(o, o + CHUNK));
          }
        },
      },
    };
    for (const [sectorSize, minRatio] of [
      [4096, 0.9],
      [512, 0.6],
    ] as const) {
      const dev = new LuksDevice(
        backing,
        { offset: 0, size: DATA, sectorSize, ivTweak: 0n, encryption: 'aes-xts-plain64' },
        key,
        { readOnly: true },
      );
      cases.push({
        name: `LuksDevice read, aes-xts-plain64, ${sectorSize}-byte sectors, 16 MiB requests, one thread`,
        bytes: DATA,
        ours: {
          kind: 'fn',
          run: async () => {
            for (let o = 0; o < DATA; o += CHUNK) await dev.readInto(target, o);
          },
        },
        peers: [bulk],
        targets: [{ peer: bulk.name, minRatio }],
      });
    }
    {
      const dev = new LuksDevice(
        backing,
        { offset: 0, size: DATA, sectorSize: 4096, ivTweak: 0n, encryption: 'aes-xts-plain64' },
        key,
        { readOnly: true, threads: 2 },
      );
      cases.push({
        name: 'LuksDevice read, aes-xts-plain64, 4096-byte sectors, 16 MiB requests, 2 threads (both cores)',
        bytes: DATA,
        ours: {
          kind: 'fn',
          run: async () => {
            for (let o = 0; o < DATA; o += CHUNK) await dev.readInto(target, o);
          },
        },
        peers: [bulk],
        targets: [{ peer: bulk.name, minRatio: 1.0 }],
      });
    }
    // (3) CBC-ESSIV, both directions, 64 MiB (the per-sector path was ~35 MB/s before batching).
    {
      const cbcKey = key.subarray(0, 32);
      const CBC_DATA = 64 * MiB;
      const cbcBacking = new MemoryDevice(CBC_DATA);
      cbcBacking.bytes.set(backing.bytes.subarray(0, CBC_DATA));
      const dev = new LuksDevice(
        cbcBacking,
        { offset: 0, size: CBC_DATA, sectorSize: 512, ivTweak: 0n, encryption: 'aes-cbc-essiv:sha256' },
        cbcKey,
      );
      const source = backing.bytes.subarray(0, CHUNK);
      const bulkCbc = (enc: boolean) => ({
        name: `bulk node:crypto aes-256-cbc ${enc ? 'encrypt' : 'decrypt'} (one call per 16 MiB)`,
        runner: {
          kind: 'fn' as const,
          run: async () => {
            for (let o = 0; o < CBC_DATA; o += CHUNK) {
              const c = enc
                ? createCipheriv('aes-256-cbc', cbcKey, Buffer.alloc(16))
                : createDecipheriv('aes-256-cbc', cbcKey, Buffer.alloc(16));
              c.setAutoPadding(false).update(cbcBacking.bytes.subarray(o, o + CHUNK));
            }
          },
        },
      });
      const dec = bulkCbc(false);
      cases.push({
        name: 'LuksDevice read, aes-cbc-essiv:sha256, 512-byte sectors, 16 MiB requests',
        bytes: CBC_DATA,
        ours: {
          kind: 'fn',
          run: async () => {
            for (let o = 0; o < CBC_DATA; o += CHUNK) await dev.readInto(target, o);
          },
        },
        peers: [dec],
        targets: [{ peer: dec.name, minRatio: 0.8 }],
      });
      const encPeer = bulkCbc(true);
      cases.push({
        name: 'LuksDevice write, aes-cbc-essiv:sha256, 512-byte sectors, 16 MiB requests',
        bytes: CBC_DATA,
        ours: {
          kind: 'fn',
          run: async () => {
            for (let o = 0; o < CBC_DATA; o += CHUNK) await dev.write(o, source);
          },
        },
        peers: [encPeer],
        targets: [{ peer: encPeer.name, minRatio: 0.8 }],
      });
    }
    const openssl = ctx.which('openssl');
    if (openssl) {
      for (const alg of ['aes-256-xts', 'aes-256-cbc']) {
        try {
          const out = execFileSync(openssl, ['speed', '-seconds', '1', '-bytes', '16384', '-evp', alg], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          });
          const m = new RegExp(`${alg}\\s+([\\d.]+)k`, 'i').exec(out);
          if (m)
            ctx.log(
              `limit: openssl speed -evp ${alg} (16 KiB blocks) = ${(Number(m[1]) / 1000).toFixed(0)} MB/s`,
            );
        } catch (e) {
          ctx.log(`openssl speed failed: ${(e as Error).message}`);
        }
      }
    }
    return cases;
  },
};
