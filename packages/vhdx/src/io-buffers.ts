/**
 * Page-aligned I/O buffers.
 *
 * Why: on AMD Zen CPUs with "fast short rep movsb" (the benchmark machine is a 2-core EPYC), the
 * kernel's copy into user memory (`copy_to_user`, done with `rep movsb`) runs 4–5× slower when the
 * destination sits 1–31 bytes past a page boundary, relative to the page-aligned page-cache source
 * (glibc bug 30994 describes the same effect in user-space memcpy). That is exactly where a large
 * `new Uint8Array(n)` lands in a fresh node process: node allocates it with calloc, glibc serves
 * allocations of 128 KiB and more with mmap, and the data starts 16 bytes into the first page.
 * Measured here, reading 2 GiB from the page cache in 256 KiB preads: 1.0–1.4 s of system time
 * into such a buffer, 0.22–0.30 s into a page-aligned one (or one 32 bytes or more past the
 * boundary). A long-lived process often gets heap memory at another offset instead, so the same
 * code is fast or slow depending on what ran before it; the memory of a WebAssembly.Memory is
 * page-aligned by construction, which makes the speed deterministic.
 */

/** The minimal shape of the WebAssembly global this module uses (the DOM lib is not loaded). */
interface WasmMemoryConstructor {
  new (descriptor: { initial: number; maximum?: number }): { buffer: ArrayBuffer };
}

const WASM_PAGE = 65536;
const PAGE = 4096;

/**
 * `count` buffers of `size` bytes each, every one starting on a 4 KiB page boundary when `size` is
 * a multiple of 4 KiB (chunk sizes are powers of two of at least 4 KiB). Falls back to ordinary
 * typed arrays where WebAssembly is unavailable (some locked-down browsers): slower on some CPUs,
 * never wrong.
 */
export function allocIoBuffers(count: number, size: number): Uint8Array[] {
  const Memory = (globalThis as { WebAssembly?: { Memory?: WasmMemoryConstructor } }).WebAssembly?.Memory;
  const stride = Math.ceil(size / PAGE) * PAGE;
  const bytes = stride * count;
  if (Memory && count > 0 && size > 0) {
    try {
      const pages = Math.ceil(bytes / WASM_PAGE);
      const { buffer } = new Memory({ initial: pages, maximum: pages });
      return Array.from({ length: count }, (_, i) => new Uint8Array(buffer, i * stride, size));
    } catch {
      // e.g. an engine refusing to reserve WebAssembly memory: use plain buffers.
    }
  }
  return Array.from({ length: count }, () => new Uint8Array(size));
}
