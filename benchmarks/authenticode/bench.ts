/**
 * Authenticode: the SHA-256 Authenticode digest of a large PE image (≥ 512 MiB) with
 * @lsvm/pe-authenticode, side by side with `pesign -h` (the same digest) and
 * `openssl dgst -sha256` over the same file (one plain SHA-256 stream: the ceiling, since an
 * Authenticode digest is one SHA-256 stream over nearly the whole file).
 *
 * Ours runs in-process (what @lsvm/provisioning pays) and as the `lsvm authenticode digest` CLI
 * (which pays node + tsx start-up from sources, a fraction of a second). The image is written
 * once in the scratch directory: a PE32+ header and one 512 MiB section of pseudo-random data.
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDevice } from '@lsvm/core';
// benchmarks/ is not a dependent of @lsvm/pe-authenticode; import its sources directly (run through tsx).
import {
  authenticodeDigestDevice,
  extractSignature,
  parseAuthenticodeSignature,
  parsePe,
} from '../../packages/pe-authenticode/src/index.js';
import type { BenchCase, BenchContext, Benchmark, Peer } from '../harness.js';

const SECTION = 512 * 1024 * 1024;
const HEADERS = 0x400;

/** A PE32+ header with one section of SECTION bytes at HEADERS. */
function header(): Uint8Array {
  const b = new Uint8Array(HEADERS);
  const v = new DataView(b.buffer);
  b.set([0x4d, 0x5a]);
  v.setUint32(0x3c, 0x80, true);
  v.setUint32(0x80, 0x4550, true);
  v.setUint16(0x84, 0x8664, true);
  v.setUint16(0x86, 1, true); // one section
  v.setUint16(0x94, 240, true); // SizeOfOptionalHeader
  v.setUint16(0x96, 0x2022, true);
  const o = 0x98;
  v.setUint16(o, 0x20b, true);
  v.setUint32(o + 32, 0x1000, true);
  v.setUint32(o + 36, 0x200, true);
  v.setUint32(o + 56, 0x1000 + SECTION, true);
  v.setUint32(o + 60, HEADERS, true);
  v.setUint16(o + 68, 10, true);
  v.setUint32(o + 108, 16, true);
  const s = o + 240;
  b.set(new TextEncoder().encode('.data'), s);
  v.setUint32(s + 8, SECTION, true);
  v.setUint32(s + 12, 0x1000, true);
  v.setUint32(s + 16, SECTION, true);
  v.setUint32(s + 20, HEADERS, true);
  v.setUint32(s + 36, 0xc0000040, true);
  return b;
}

async function writeImage(path: string): Promise<number> {
  const out = createWriteStream(path);
  const write = (b: Uint8Array): Promise<void> =>
    new Promise((res, rej) => {
      out.write(b, (e) => (e ? rej(e) : res()));
    });
  await write(header());
  // xorshift-filled 16 MiB block, varied per chunk so the file is not one repeated pattern.
  const chunk = new Uint32Array(4 * 1024 * 1024);
  let x = 0x9e3779b9;
  for (let done = 0; done < SECTION; done += chunk.byteLength) {
    for (let i = 0; i < chunk.length; i += 64) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk.fill(x >>> 0, i, i + 64);
    }
    await write(new Uint8Array(chunk.buffer.slice(0)));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return HEADERS + SECTION;
}

function peers(ctx: BenchContext, file: string): Peer[] {
  const pesign = ctx.which('pesign');
  const openssl = ctx.which('openssl');
  return [
    openssl
      ? { name: 'openssl dgst -sha256', runner: { kind: 'cmd', argv: [openssl, 'dgst', '-sha256', file] } }
      : { name: 'openssl dgst -sha256', missing: 'openssl not on PATH' },
    pesign
      ? { name: 'pesign -h', runner: { kind: 'cmd', argv: [pesign, '-h', '-d', 'sha256', '-i', file] } }
      : { name: 'pesign -h', missing: 'pesign not on PATH (pesign)' },
  ];
}

/** Debian's signed shim: two Authenticode signatures (Microsoft UEFI CA 2011 and 2023), ~9.6 KB each. */
const SHIM_SIGNED = '/usr/lib/shim/shimx64.efi.signed';

/**
 * Decoding the signatures of a real image: both of shim's PKCS#7 blobs through
 * parseAuthenticodeSignature (asn1js decode, certificates, SignerInfo, RFC 3161 timestamps
 * checked), side by side with `sbverify --list`, which decodes the same two signatures with
 * OpenSSL (its time includes process start-up, a few milliseconds).
 */
function signatureCase(ctx: BenchContext): BenchCase | undefined {
  if (!existsSync(SHIM_SIGNED)) {
    ctx.log(`${SHIM_SIGNED} missing (Debian shim-signed): signature decode case skipped`);
    return undefined;
  }
  const image = new Uint8Array(readFileSync(SHIM_SIGNED));
  const count = parsePe(image).certificateTable?.entries.length ?? 0;
  const blobs = Array.from({ length: count }, (_, i) => extractSignature(image, i));
  const sbverify = ctx.which('sbverify');
  return {
    name: `library: decode shim's ${count} signatures`,
    bytes: blobs.reduce((n, b) => n + b.length, 0),
    ours: {
      kind: 'fn',
      run: async () => {
        for (const b of blobs) parseAuthenticodeSignature(b);
      },
    },
    peers: [
      sbverify
        ? { name: 'sbverify --list', runner: { kind: 'cmd', argv: [sbverify, '--list', SHIM_SIGNED] } }
        : { name: 'sbverify --list', missing: 'sbverify not on PATH (sbsigntool)' },
    ],
  };
}

export const benchmark: Benchmark = {
  name: 'authenticode',
  description:
    'SHA-256 Authenticode digest of a 512 MiB PE: @lsvm/pe-authenticode vs openssl dgst and pesign -h; ' +
    "decoding shim's signatures vs sbverify --list",
  async setup(ctx) {
    const file = join(ctx.dir, 'big.efi');
    ctx.log('writing a 512 MiB PE image…');
    const size = await writeImage(file);
    const cases: BenchCase[] = [
      {
        name: 'library: authenticodeDigestDevice, 512 MiB section',
        bytes: size,
        ours: {
          kind: 'fn',
          run: async () => {
            const dev = await FileDevice.open(file, { readOnly: true });
            try {
              await authenticodeDigestDevice(dev, { algorithm: 'sha256' });
            } finally {
              await dev.close();
            }
          },
        },
        peers: peers(ctx, file),
        targets: [
          { peer: 'openssl dgst -sha256', minRatio: 0.8, note: 'one SHA-256 stream is the ceiling' },
          { peer: 'pesign -h', minRatio: 1.0 },
        ],
      },
      {
        name: 'CLI: lsvm authenticode digest, 512 MiB section',
        bytes: size,
        ours: { kind: 'cmd', argv: ctx.lsvm('authenticode', 'digest', file) },
        // No throughput target: from sources the CLI pays tsx transpiling every group at start-up
        // (seconds on a busy machine), which says nothing about the digest itself.
        peers: peers(ctx, file),
        maxRssBytes: 256 * 1024 * 1024,
      },
    ];
    const signatures = signatureCase(ctx);
    if (signatures) cases.unshift(signatures);
    return cases;
  },
};
