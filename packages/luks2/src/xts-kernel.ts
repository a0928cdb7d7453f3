import { XTS_KERNEL_WASM_BASE64 } from './xts-kernel-wasm.js';

/**
 * The XTS tweak kernel: a 1 KiB WebAssembly SIMD module (source: `wasm/xts-kernel.wat`) doing
 * the two tweak passes of XTS around one reused AES-ECB context, on pieces small enough to stay
 * in the CPU's L2 cache between the passes. JavaScript XOR on 32-bit words with the tweak
 * doubling in between runs at a fraction of AES-NI's speed; the kernel's 128-bit XOR and
 * interleaved doubling chains keep the tweak work well below the AES time.
 *
 * Everything here is plain functions over plain objects so that the worker threads
 * (xts-workers.ts) can be built from the very same source text.
 */

/**
 * The few WebAssembly API members used here, typed locally: the project compiles without the DOM
 * library, which is where TypeScript declares the `WebAssembly` namespace.
 */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => XtsKernelModule;
  Instance: new (module: XtsKernelModule, imports: object) => { exports: unknown };
}

/** A compiled kernel module (a `WebAssembly.Module`, which worker threads can receive). */
export type XtsKernelModule = object;

/** Exports of the kernel module (see the .wat for the exact contracts). */
export interface XtsKernelExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** First tweak pass: XOR `len` bytes at `data` with T ⊗ α^j and store the tweaks at `tw`. */
  tweak_in(data: number, len: number, t0: number, sectorSize: number, tw: number): void;
  /** Second tweak pass: XOR `len` bytes at `data` with those at `tw`. */
  xor(data: number, tw: number, len: number): void;
}

/**
 * One kernel instance and its memory layout: data somewhere in [0, 4096 + cap) (see
 * {@link xtsKernelPiece}), the tweak stream at `4096 + cap`, the initial tweaks (16 bytes per
 * sector) at `4096 + 2·cap`. `cap` is the largest piece it takes.
 */
export interface XtsKernelState {
  x: XtsKernelExports;
  cap: number;
  mem: Uint8Array;
}

/**
 * Bytes per piece: data, its tweak stream and AES's output must fit in L2 together (512 KiB per
 * core here) and each ECB call must be big enough that node:crypto's per-call cost stays small.
 * Measured on the reference machine with one reused ECB context: 16 KiB ~2.3 GB/s, 64 KiB ~3.1,
 * 256 KiB ~2.6, one 16 MiB call ~0.85 (fresh output pages, nothing left in cache).
 */
export const XTS_PIECE = 64 * 1024;

let compiled: XtsKernelModule | null | undefined;

/**
 * The compiled kernel module, or undefined when it cannot be used: WebAssembly SIMD missing
 * (every Node ≥ 16.4 has it), a big-endian host (wasm memory is little-endian, node:crypto's
 * buffers are host order), or `LSVM_XTS_KERNEL=js` in the environment (forces the portable
 * JavaScript path, e.g. to compare both).
 */
export function xtsKernelModule(): XtsKernelModule | undefined {
  if (compiled === undefined) {
    compiled = null;
    const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (littleEndian && process.env.LSVM_XTS_KERNEL !== 'js' && wasm) {
      try {
        const bytes = Buffer.from(XTS_KERNEL_WASM_BASE64, 'base64');
        if (wasm.validate(bytes)) compiled = new wasm.Module(bytes);
      } catch {
        compiled = null;
      }
    }
  }
  return compiled ?? undefined;
}

/** A fresh kernel instance with room for pieces of `cap` bytes. */
export function createXtsKernel(module: XtsKernelModule, cap: number): XtsKernelState {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly!;
  const x = new wasm.Instance(module, {}).exports as XtsKernelExports;
  const k: XtsKernelState = { x, cap: 0, mem: new Uint8Array(x.memory.buffer) };
  xtsKernelReserve(k, cap);
  return k;
}

/** Grows the kernel's memory so pieces of `bytes` (whole 512-byte units) fit. */
export function xtsKernelReserve(k: XtsKernelState, bytes: number): void {
  if (bytes <= k.cap) return;
  // slack + data + tweak stream + 16 bytes of initial tweak per 512-byte unit (the smallest sector)
  const need = 4096 + 2 * bytes + bytes / 32;
  const have = k.x.memory.buffer.byteLength;
  if (need > have) k.x.memory.grow(Math.ceil((need - have) / 65536));
  k.cap = bytes;
  // growing detaches the old view
  k.mem = new Uint8Array(k.x.memory.buffer);
}

/**
 * XTS of one piece: `src` (whole sectors of `sectorSize` bytes) with the sectors' initial tweaks
 * `t0` (E_K2(IV), 16 bytes each) and `aes` the AES-ECB pass with K1 (encrypt or decrypt).
 * Returns a view of the result inside the kernel's memory, valid until the next call. `src` is
 * not modified; it may be the destination the caller copies the result back to.
 *
 * `dstOffset` is the byteOffset the caller will copy the result to. The data is placed half a
 * page away from it (modulo 4096): when source and destination of a copy sit at nearly the same
 * offset within their pages, with the destination a few bytes ahead, every load of the copy
 * waits on a store it only seems to depend on (4K aliasing). Measured here: a 64 KiB copy out of
 * a page-aligned wasm region into a large buffer ran at 0.5 GB/s instead of 3 GB/s.
 */
export function xtsKernelPiece(
  k: XtsKernelState,
  src: Uint8Array,
  t0: Uint8Array,
  sectorSize: number,
  aes: (block: Uint8Array) => Uint8Array,
  dstOffset: number,
): Uint8Array {
  const len = src.length;
  if (len > k.cap) xtsKernelReserve(k, len);
  const m = k.mem;
  const tw = 4096 + k.cap;
  const t0At = tw + k.cap;
  const d = ((dstOffset % 4096) + 2048) & 4080;
  m.set(t0, t0At);
  m.set(src, d);
  k.x.tweak_in(d, len, t0At, sectorSize, tw);
  m.set(aes(m.subarray(d, d + len)), d);
  k.x.xor(d, tw, len);
  return m.subarray(d, d + len);
}
