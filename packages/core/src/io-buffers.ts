/**
 * Page-aligned I/O buffers.
 *
 * Why: the kernel copies file data to and from user memory (`copy_to_user`/`copy_from_user`) with
 * `rep movsb` on current x86 CPUs, and on AMD Zen parts with "fast short rep movsb" that copy runs
 * several times slower when the destination starts a few bytes past a 4 KiB page boundary while
 * the source (the page cache) is page-aligned — the same effect glibc bug 30994 describes for
 * user-space `memcpy`. A large `new Uint8Array(n)` lands exactly there in a fresh node process:
 * node allocates it with `calloc`, glibc serves allocations above its mmap threshold (128 KiB at
 * first) with a fresh mapping, and the data starts 16 bytes into its first page. On the 2-core
 * EPYC benchmark machine, reading 2 GiB of page cache in 256 KiB preads cost 1.0–1.4 s of system
 * time into such a buffer and 0.22–0.30 s into a page-aligned one. A long-running process often
 * gets heap memory at some other offset, so the same code was fast or slow depending on what ran
 * before it.
 *
 * The memory of a `WebAssembly.Memory` is mapped by the engine on its own and starts on a page
 * boundary, and its size is a whole number of 64 KiB wasm pages, so carving buffers out of it at
 * multiples of 4 KiB gives page-aligned buffers deterministically — without native code.
 */

import { UnsupportedError, UsageError } from './errors.js';

/** The part of the WebAssembly global this module uses (the DOM lib is not loaded). */
interface WasmMemoryConstructor {
  new (descriptor: {
    initial: number;
    maximum?: number;
    shared?: boolean;
  }): {
    buffer: ArrayBuffer | SharedArrayBuffer;
  };
}

/** Bytes per WebAssembly page (the unit a `WebAssembly.Memory` is sized in). */
const WASM_PAGE = 65536;

/** The alignment given: the x86-64 and arm64 base page size. */
export const IO_BUFFER_ALIGNMENT = 4096;

/** The most bytes one {@link allocIoBuffers} call hands out (a wasm32 memory holds at most 4 GiB). */
export const IO_BUFFERS_MAX_BYTES = 2 ** 32 - WASM_PAGE;

/** Options of {@link allocIoBuffers}. */
export interface IoBufferOptions {
  /**
   * Back the buffers by a `SharedArrayBuffer` (a shared WebAssembly memory), so they can be handed
   * to worker threads without a copy. Default false.
   */
  shared?: boolean;
}

/**
 * Allocates `count` zero-filled buffers of `size` bytes each, one after another in one memory,
 * each starting on a 4 KiB page boundary (consecutive buffers are `size` rounded up to 4 KiB
 * apart, so they never overlap). The buffers stay valid as long as any of them is referenced.
 *
 * Where the engine has no WebAssembly, or refuses the memory (some locked-down browsers, a
 * process out of address space), ordinary typed arrays are returned instead — possibly slower to
 * fill from a file on some CPUs, never wrong. {@link isWasmBacked} tells which one you got.
 *
 * @throws UsageError `BAD_SIZE` when `count` or `size` is not a non-negative safe integer or the
 *   total exceeds {@link IO_BUFFERS_MAX_BYTES}.
 * @throws UnsupportedError `NO_SHARED_MEMORY` when `shared` is asked where neither a shared
 *   WebAssembly memory nor `SharedArrayBuffer` exists (a browser page without cross-origin isolation).
 */
export function allocIoBuffers(count: number, size: number, options: IoBufferOptions = {}): Uint8Array[] {
  if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(size) || size < 0) {
    throw new UsageError('BAD_SIZE', `cannot allocate ${count} I/O buffers of ${size} bytes`);
  }
  const stride = Math.ceil(size / IO_BUFFER_ALIGNMENT) * IO_BUFFER_ALIGNMENT;
  const total = stride * count;
  if (total > IO_BUFFERS_MAX_BYTES) {
    throw new UsageError(
      'BAD_SIZE',
      `${count} I/O buffers of ${size} bytes exceed ${IO_BUFFERS_MAX_BYTES} bytes`,
    );
  }
  const shared = options.shared ?? false;
  if (count === 0) return [];
  const Memory = (globalThis as { WebAssembly?: { Memory?: WasmMemoryConstructor } }).WebAssembly?.Memory;
  if (Memory !== undefined && total > 0) {
    const pages = Math.ceil(total / WASM_PAGE);
    try {
      const { buffer } = new Memory({ initial: pages, maximum: pages, shared });
      wasmBuffers.add(buffer);
      return Array.from({ length: count }, (_, i) => new Uint8Array(buffer, i * stride, size));
    } catch {
      // The engine would not reserve the memory: plain buffers below.
    }
  }
  if (!shared) return Array.from({ length: count }, () => new Uint8Array(size));
  // A browser page that is not cross-origin isolated has no SharedArrayBuffer at all.
  const Shared = (globalThis as { SharedArrayBuffer?: SharedArrayBufferConstructor }).SharedArrayBuffer;
  if (Shared === undefined)
    throw new UnsupportedError('NO_SHARED_MEMORY', 'shared memory is not available here');
  return Array.from({ length: count }, () => new Uint8Array(new Shared(size)));
}

/** The backing memories handed out, to answer {@link isWasmBacked} without keeping them alive. */
const wasmBuffers = new WeakSet<ArrayBuffer | SharedArrayBuffer>();

/**
 * True when `buffer` came from {@link allocIoBuffers}' WebAssembly memory (and so starts on a
 * 4 KiB page boundary), false for the plain fallback or any other array.
 */
export function isWasmBacked(buffer: Uint8Array): boolean {
  return wasmBuffers.has(buffer.buffer) && buffer.byteOffset % IO_BUFFER_ALIGNMENT === 0;
}
