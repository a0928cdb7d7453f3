import {
  type Cipher,
  type Decipher,
  createCipheriv,
  createDecipheriv,
  createHash,
  getHashes,
} from 'node:crypto';
import { UnsupportedError, UsageError, zeroize } from '@lsvm/core';
import {
  XTS_PIECE,
  type XtsKernelState,
  createXtsKernel,
  xtsKernelModule,
  xtsKernelPiece,
} from './xts-kernel.js';

/**
 * Sector ciphers of dm-crypt as LUKS names them: `aes-xts-plain64`, `aes-cbc-essiv:sha256`,
 * `aes-cbc-plain`, `aes-cbc-plain64`, `aes-ecb` (LUKS1 spec §A "cipher and mode", dm-crypt's
 * IV generators).
 *
 * Every mode is built on one AES-ECB context per key, reused for every request: Node gives no way
 * to re-key or re-IV a cipher object, and creating one per 512-byte sector costs more than the AES
 * itself. XTS is computed here from ECB (IEEE 1619 §5.3: C = E_K1(P ⊕ T) ⊕ T, T = E_K2(IV) · α^j),
 * which also sidesteps two OpenSSL refusals of Node's `aes-*-xts`: keys whose halves are equal
 * (legal in LUKS, e.g. an all-zero test key) and one update over 16 MiB. The tweak passes run in
 * the WebAssembly SIMD kernel (xts-kernel.ts) on 64 KiB pieces, or in portable JavaScript
 * ({@link xorTweaks}) where the kernel is unavailable.
 */

/** The parsed cipher specification. */
export interface CipherSpec {
  /** Block cipher, `aes`. */
  cipher: string;
  /** `xts`, `cbc` or `ecb`. */
  mode: 'xts' | 'cbc' | 'ecb';
  /** IV generator: `plain`, `plain64`, `plain64be`, `essiv`, `null`, or `none` for ECB. */
  iv: 'plain' | 'plain64' | 'plain64be' | 'essiv' | 'null' | 'none';
  /** Hash of the ESSIV generator (`sha256`). */
  ivHash?: string;
  /** The specification as written. */
  text: string;
}

function unsupported(spec: string, why: string): never {
  throw new UnsupportedError('LUKS_UNSUPPORTED_CIPHER', `unsupported cipher ${JSON.stringify(spec)}: ${why}`);
}

/**
 * Parses a cipher specification: LUKS2's `encryption` field, or LUKS1's cipher name and mode
 * joined with `-`.
 * @throws UnsupportedError `LUKS_UNSUPPORTED_CIPHER` naming the cipher for anything unsupported
 *   (twofish, serpent, lrw, `capi:` syntax, …).
 */
export function parseCipherSpec(text: string): CipherSpec {
  if (text.startsWith('capi:')) unsupported(text, 'the kernel crypto API (capi:) syntax is not supported');
  const m = /^([a-z0-9_]+)-([a-z0-9]+)(?:-([a-z0-9]+)(?::([a-z0-9-]+))?)?$/.exec(text);
  if (!m) unsupported(text, 'not of the form cipher-mode[-iv[:hash]]');
  const [, cipher, mode, iv, ivHash] = m;
  if (cipher !== 'aes') unsupported(text, `block cipher ${cipher} is not supported (only aes)`);
  if (mode !== 'xts' && mode !== 'cbc' && mode !== 'ecb')
    unsupported(text, `mode ${mode} is not supported (only xts, cbc, ecb)`);
  if (mode === 'ecb') {
    if (iv !== undefined) unsupported(text, 'ecb takes no IV generator');
    return { cipher, mode, iv: 'none', text };
  }
  if (iv === undefined) unsupported(text, `${mode} needs an IV generator`);
  if (iv === 'essiv') {
    if (ivHash === undefined) unsupported(text, 'essiv needs a hash (essiv:sha256)');
    if (!getHashes().includes(ivHash)) unsupported(text, `hash ${ivHash} is not available`);
    return { cipher, mode, iv, ivHash, text };
  }
  if (ivHash !== undefined) unsupported(text, `IV generator ${iv} takes no hash`);
  if (iv !== 'plain' && iv !== 'plain64' && iv !== 'plain64be' && iv !== 'null')
    unsupported(text, `IV generator ${iv} is not supported`);
  return { cipher, mode, iv, text };
}

/** Key sizes (bytes) valid for a mode: XTS needs two AES keys. */
export function validKeySizes(spec: CipherSpec): number[] {
  return spec.mode === 'xts' ? [32, 48, 64] : [16, 24, 32];
}

class Ecb {
  private readonly enc: Cipher;
  private readonly dec: Decipher;
  constructor(key: Uint8Array) {
    const name = `aes-${key.length * 8}-ecb`;
    this.enc = createCipheriv(name, key, null).setAutoPadding(false);
    this.dec = createDecipheriv(name, key, null).setAutoPadding(false);
  }
  /** AES-ECB encryption of whole blocks; the context carries no state between calls. */
  encrypt(data: Uint8Array): Uint8Array {
    return this.enc.update(data);
  }
  decrypt(data: Uint8Array): Uint8Array {
    return this.dec.update(data);
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/**
 * Bytes per ECB call outside the kernel (other modes, and XTS in JavaScript). Small enough that
 * the tweak pass, AES and the second tweak pass run on data still in the CPU cache, and that
 * Node's per-call output buffer is recycled by malloc instead of being freshly mapped (and
 * page-faulted) each time: 256 KiB is about twice as fast as 16 MiB.
 */
const CHUNK = 256 * 1024;

/** Bytes per native CBC decryption call (cache-sized: the output is copied back while cached). */
const CBC_DECRYPT_PIECE = 64 * 1024;

/** Sectors encrypted side by side by CBC encryption: 8 KiB per ECB call. */
const CBC_ROW_SECTORS = 512;

/** Bytes whose initial XTS tweaks are computed in one ECB call on the kernel path. */
const KERNEL_BATCH = 1024 * 1024;

/** Which implementation of the XTS tweak passes a {@link SectorCipher} uses. */
export type XtsKernelChoice = 'auto' | 'wasm' | 'js';

/**
 * An initialised sector cipher: one key, any number of sectors. `encrypt`/`decrypt` work in
 * place on whole data units of `sectorSize` bytes; the IV of the unit at index i is
 * `firstIv + i * (sectorSize / ivUnit)` — dm-crypt counts IVs in 512-byte sectors even for larger
 * encryption sectors (no `iv_large_sectors` in LUKS).
 */
export class SectorCipher {
  readonly spec: CipherSpec;
  readonly keySize: number;
  private readonly k1: Ecb;
  private readonly k2: Ecb | undefined;
  private readonly essiv: Ecb | undefined;
  /** Reused by ivBlocks: each IV kind writes the same byte positions, the rest stay zero. */
  private ivScratch = new Uint8Array(0);
  /** Reused by cbcEncrypt: one block of every sector, the input of one ECB call. */
  private cbcRow = new Uint32Array(0);
  /** CBC only: the key, for the native per-piece decryption (zeroed by destroy). */
  private readonly cbcKey: Uint8Array | undefined;
  private readonly kernel: XtsKernelState | undefined;
  private readonly k1Encrypt: (b: Uint8Array) => Uint8Array;
  private readonly k1Decrypt: (b: Uint8Array) => Uint8Array;

  /**
   * @param options.kernel XTS only: `wasm` uses the WebAssembly SIMD kernel (UnsupportedError
   *   when this runtime cannot), `js` the portable JavaScript passes, `auto` (default) the kernel
   *   when available. Both compute identical bytes; the choice is about speed.
   */
  constructor(spec: CipherSpec | string, key: Uint8Array, options: { kernel?: XtsKernelChoice } = {}) {
    this.spec = typeof spec === 'string' ? parseCipherSpec(spec) : spec;
    if (!validKeySizes(this.spec).includes(key.length))
      throw new UnsupportedError(
        'LUKS_UNSUPPORTED_KEY_SIZE',
        `${this.spec.text} with a ${key.length * 8}-bit key is not supported`,
      );
    if (!LITTLE_ENDIAN_HOST)
      throw new UnsupportedError('LUKS_BIG_ENDIAN_HOST', 'big-endian hosts are not supported');
    this.keySize = key.length;
    if (this.spec.mode === 'xts') {
      const half = key.length / 2;
      // Copies (never Buffer#slice, which is a view): they are zeroed below.
      const a = new Uint8Array(key.subarray(0, half));
      const b = new Uint8Array(key.subarray(half));
      this.k1 = new Ecb(a);
      this.k2 = new Ecb(b);
      zeroize(a, b);
    } else {
      this.k1 = new Ecb(key);
      if (this.spec.mode === 'cbc') this.cbcKey = new Uint8Array(key);
    }
    const k1 = this.k1;
    this.k1Encrypt = (b) => k1.encrypt(b);
    this.k1Decrypt = (b) => k1.decrypt(b);
    const choice = options.kernel ?? 'auto';
    if (this.spec.mode === 'xts' && choice !== 'js') {
      const module = xtsKernelModule();
      if (module) this.kernel = createXtsKernel(module, XTS_PIECE);
      else if (choice === 'wasm')
        throw new UnsupportedError(
          'LUKS_XTS_KERNEL_UNAVAILABLE',
          'the WebAssembly SIMD XTS kernel is not available in this runtime',
        );
    }
    if (this.spec.iv === 'essiv') {
      // ESSIV: IV = E_salt(sector), salt = H(whole volume key) (dm-crypt crypt_iv_essiv_*).
      const salt = new Uint8Array(createHash(this.spec.ivHash!).update(key).digest());
      if (![16, 24, 32].includes(salt.length))
        unsupported(this.spec.text, `ESSIV hash output of ${salt.length} bytes is not an AES key size`);
      this.essiv = new Ecb(salt);
      zeroize(salt);
    }
  }

  /** Decrypts whole sectors in place. */
  decrypt(data: Uint8Array, firstIv: bigint, sectorSize: number): void {
    this.run(data, firstIv, sectorSize, false);
  }

  /** Encrypts whole sectors in place. */
  encrypt(data: Uint8Array, firstIv: bigint, sectorSize: number): void {
    this.run(data, firstIv, sectorSize, true);
  }

  /** Whether XTS runs through the WebAssembly kernel. */
  get usesKernel(): boolean {
    return this.kernel !== undefined;
  }

  /** Drops key copies and plaintext held in JS memory (the OpenSSL contexts are released by GC). */
  destroy(): void {
    zeroize(this.cbcKey, this.kernel?.mem, new Uint8Array(this.cbcRow.buffer));
  }

  /**
   * XTS through the kernel, one piece of at most {@link XTS_PIECE} bytes (whole sectors) whose
   * initial tweaks `t0` are already computed ({@link xtsInitialTweaks}). Returns a view of the
   * result in the kernel's memory, valid until the next call; `data` is left unchanged;
   * `dstOffset` is the byteOffset the result will be copied to. For the worker pool, which
   * hands the calling thread pieces of a larger request.
   * @internal
   */
  xtsKernelPiece(
    data: Uint8Array,
    t0: Uint8Array,
    sectorSize: number,
    enc: boolean,
    dstOffset: number,
  ): Uint8Array {
    if (!this.kernel) throw new UsageError('LUKS_NOT_XTS', 'no XTS kernel in this cipher');
    const aes = enc ? this.k1Encrypt : this.k1Decrypt;
    return xtsKernelPiece(this.kernel, data, t0, sectorSize, aes, dstOffset);
  }

  private run(data: Uint8Array, firstIv: bigint, sectorSize: number, enc: boolean): void {
    if (sectorSize % 512 !== 0 || sectorSize < 512 || data.length % sectorSize !== 0)
      throw new UsageError(
        'LUKS_BAD_SECTOR_REQUEST',
        `${data.length} bytes are not whole ${sectorSize}-byte sectors`,
      );
    if (this.kernel) {
      this.runKernel(this.kernel, data, firstIv, sectorSize, enc);
      return;
    }
    // CBC encryption makes one ECB call per block position of the sectors in a chunk: enough
    // sectors per chunk keep each call large enough that its overhead stays small.
    const bytes = this.spec.mode === 'cbc' && enc ? Math.max(CHUNK, CBC_ROW_SECTORS * sectorSize) : CHUNK;
    const perChunk = Math.max(sectorSize, bytes - (bytes % sectorSize));
    for (let off = 0; off < data.length; off += perChunk) {
      const part = data.subarray(off, Math.min(data.length, off + perChunk));
      this.runChunk(part, firstIv + BigInt(off / 512), sectorSize, enc);
    }
  }

  /**
   * XTS through the kernel: the initial tweaks of up to {@link KERNEL_BATCH} bytes in one ECB
   * call with K2 (one call per 64 KiB piece cost more than the tweaks themselves at 4096-byte
   * sectors), then the kernel piece by piece.
   */
  private runKernel(
    kernel: XtsKernelState,
    data: Uint8Array,
    firstIv: bigint,
    sectorSize: number,
    enc: boolean,
  ): void {
    const aes = enc ? this.k1Encrypt : this.k1Decrypt;
    const piece = Math.max(sectorSize, XTS_PIECE - (XTS_PIECE % sectorSize));
    const batch = Math.max(piece, KERNEL_BATCH - (KERNEL_BATCH % piece));
    for (let off = 0; off < data.length; off += batch) {
      const part = data.subarray(off, Math.min(data.length, off + batch));
      const ivs = this.ivBlocks(firstIv + BigInt(off / 512), part.length / sectorSize, sectorSize / 512);
      const t0 = this.k2!.encrypt(ivs);
      for (let p = 0; p < part.length; p += piece) {
        const sub = part.subarray(p, Math.min(part.length, p + piece));
        const tweaks = t0.subarray((p / sectorSize) * 16, ((p + sub.length) / sectorSize) * 16);
        sub.set(xtsKernelPiece(kernel, sub, tweaks, sectorSize, aes, sub.byteOffset));
      }
    }
  }

  private runChunk(data: Uint8Array, firstIv: bigint, sectorSize: number, enc: boolean): void {
    const sectors = data.length / sectorSize;
    const step = sectorSize / 512;
    switch (this.spec.mode) {
      case 'ecb': {
        const out = enc ? this.k1.encrypt(data) : this.k1.decrypt(data);
        data.set(out);
        return;
      }
      case 'xts': {
        const tweaks = this.k2!.encrypt(this.ivBlocks(firstIv, sectors, step));
        xorTweaks(data, data, tweaks, sectorSize);
        // The ECB output is a fresh buffer: the second tweak pass writes straight back into
        // `data`, saving a copy.
        xorTweaks(enc ? this.k1.encrypt(data) : this.k1.decrypt(data), data, tweaks, sectorSize);
        return;
      }
      case 'cbc': {
        const ivs = this.ivBlocks(firstIv, sectors, step);
        if (enc) {
          this.cbcEncrypt(data, ivs, sectorSize);
          return;
        }
        // Decryption in cache-sized pieces, each one native CBC decryption chained across the
        // piece's sectors with the first sector's IV: every block comes out right except the
        // first of each later sector, which got D(C) ⊕ (the previous sector's last ciphertext
        // block) instead of D(C) ⊕ (its own IV) — fixed up with 16 bytes of XOR per sector.
        const name = `aes-${this.keySize * 8}-cbc`;
        const piece = Math.max(sectorSize, CBC_DECRYPT_PIECE - (CBC_DECRYPT_PIECE % sectorSize));
        for (let off = 0; off < data.length; off += piece) {
          const part = data.subarray(off, Math.min(data.length, off + piece));
          const first = off / sectorSize;
          const out = createDecipheriv(name, this.cbcKey!, ivs.subarray(first * 16, first * 16 + 16))
            .setAutoPadding(false)
            .update(part);
          for (let b = sectorSize, v = (first + 1) * 16; b < part.length; b += sectorSize, v += 16)
            for (let k = 0; k < 16; k++) out[b + k]! ^= part[b - 16 + k]! ^ ivs[v + k]!;
          part.set(out);
        }
        return;
      }
    }
  }

  /**
   * CBC encryption of whole sectors in place. C_j = E(P_j ⊕ C_{j-1}) is sequential within a
   * sector but independent across sectors, so block j of every sector goes through AES-ECB in
   * one call (a row of the sectors-by-blocks matrix): `sectorSize / 16` calls per request instead
   * of one cipher context per sector, which cost more than the AES itself.
   */
  private cbcEncrypt(data: Uint8Array, ivs: Uint8Array, sectorSize: number): void {
    const sectors = data.length / sectorSize;
    const d32 = words(data) ?? words(new Uint8Array(data))!;
    const wps = sectorSize >>> 2;
    if (this.cbcRow.length < sectors * 4) this.cbcRow = new Uint32Array(sectors * 4);
    const row = this.cbcRow;
    const rowBytes = new Uint8Array(row.buffer, 0, sectors * 16);
    // The previous ciphertext block of every sector (C_{-1} = the IV), copied as the ECB output
    // buffers need not be 4-byte aligned.
    let prev = words(ivs) ?? words(new Uint8Array(ivs))!;
    for (let j = 0; j < wps; j += 4) {
      for (let s = 0, b = j, r = 0; s < sectors; s++, b += wps, r += 4) {
        row[r] = d32[b]! ^ prev[r]!;
        row[r + 1] = d32[b + 1]! ^ prev[r + 1]!;
        row[r + 2] = d32[b + 2]! ^ prev[r + 2]!;
        row[r + 3] = d32[b + 3]! ^ prev[r + 3]!;
      }
      const out = this.k1.encrypt(rowBytes);
      const o32 = words(out) ?? words(new Uint8Array(out))!;
      for (let s = 0, b = j, r = 0; s < sectors; s++, b += wps, r += 4) {
        d32[b] = o32[r]!;
        d32[b + 1] = o32[r + 1]!;
        d32[b + 2] = o32[r + 2]!;
        d32[b + 3] = o32[r + 3]!;
      }
      prev = o32;
    }
    if (d32.buffer !== data.buffer || d32.byteOffset !== data.byteOffset)
      data.set(new Uint8Array(d32.buffer, d32.byteOffset, data.length));
  }

  /**
   * XTS only: the initial tweak T_0 = E_K2(IV) of each of `sectors` sectors starting at IV
   * `firstIv` — what a worker needs, with K1, to process a range on its own.
   */
  xtsInitialTweaks(firstIv: bigint, sectors: number, sectorSize: number): Uint8Array {
    if (this.spec.mode !== 'xts') throw new UsageError('LUKS_NOT_XTS', 'not an XTS cipher');
    return this.k2!.encrypt(this.ivBlocks(firstIv, sectors, sectorSize / 512));
  }

  /**
   * The 16-byte IV input of each sector (before encryption by K2 for XTS), in a scratch buffer
   * valid until the next call.
   */
  private ivBlocks(firstIv: bigint, sectors: number, step: number): Uint8Array {
    if (this.ivScratch.length < sectors * 16) this.ivScratch = new Uint8Array(sectors * 16);
    const out = this.ivScratch.subarray(0, sectors * 16);
    const iv = this.spec.iv;
    if (iv === 'null') return out;
    // The 64-bit sector number as two 32-bit halves in plain numbers: one BigInt operation per
    // sector would cost more than the AES of a 512-byte sector. dm-crypt's counter wraps at 2^64.
    const first = firstIv & 0xffffffffffffffffn;
    let lo = Number(first & 0xffffffffn);
    let hi = Number(first >> 32n);
    const dv = new DataView(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < sectors; i++) {
      if (iv === 'plain') dv.setUint32(i * 16, lo, true);
      else if (iv === 'plain64be') {
        dv.setUint32(i * 16 + 8, hi, false);
        dv.setUint32(i * 16 + 12, lo, false);
      } else {
        dv.setUint32(i * 16, lo, true);
        dv.setUint32(i * 16 + 4, hi, true);
      }
      lo += step;
      if (lo > 0xffffffff) {
        lo -= 0x100000000;
        hi = (hi + 1) >>> 0;
      }
    }
    return this.essiv ? this.essiv.encrypt(out) : out;
  }
}

/** A Uint32Array view of `b`, or undefined when `b` is not 4-byte aligned. */
export function words(b: Uint8Array): Uint32Array | undefined {
  return b.byteOffset % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2) : undefined;
}

/**
 * dst = src ⊕ T for every 16-byte block of every sector, where T_j = T_0 · α^j and T_0 is the
 * sector's entry in `t0`. Multiplication by α in GF(2^128) is a 128-bit left shift of the
 * little-endian block with 0x87 fed back (IEEE 1619 §5.2). `src` and `dst` may be the same.
 */
export function xorTweaks(src: Uint8Array, dst: Uint8Array, t0: Uint8Array, sectorSize: number): void {
  const s32 = words(src) ?? words(new Uint8Array(src))!;
  const d32 = words(dst);
  const out = d32 ?? new Uint32Array(dst.length >>> 2);
  const t = words(t0) ?? words(new Uint8Array(t0))!;
  const wordsPerSector = sectorSize >>> 2;
  const sectors = src.length / sectorSize;
  for (let s = 0; s < sectors; s++) {
    let w0 = t[s * 4]!;
    let w1 = t[s * 4 + 1]!;
    let w2 = t[s * 4 + 2]!;
    let w3 = t[s * 4 + 3]!;
    const end = (s + 1) * wordsPerSector;
    for (let i = s * wordsPerSector; i < end; i += 4) {
      out[i] = s32[i]! ^ w0;
      out[i + 1] = s32[i + 1]! ^ w1;
      out[i + 2] = s32[i + 2]! ^ w2;
      out[i + 3] = s32[i + 3]! ^ w3;
      const carry = w3 >>> 31;
      w3 = (w3 << 1) | (w2 >>> 31);
      w2 = (w2 << 1) | (w1 >>> 31);
      w1 = (w1 << 1) | (w0 >>> 31);
      w0 = (w0 << 1) ^ (carry * 0x87);
    }
  }
  if (!d32) dst.set(new Uint8Array(out.buffer));
}
