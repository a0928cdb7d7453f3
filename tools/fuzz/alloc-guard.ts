/**
 * Catches huge allocations inside a fuzz worker. Typed-array and Buffer allocations are external
 * memory: they neither show in the V8 heap limit nor (being lazily zeroed) in RSS, so a parser that
 * trusts a length field and allocates 4 GiB would pass unnoticed. The guard wraps the global
 * constructors and Buffer factories and records any single allocation above the bound; the runner
 * reports it even if the target caught the exception.
 */

export interface AllocGuard {
  /** Size of the first oversized allocation since the last reset, or 0. */
  violation(): number;
  reset(): void;
}

export class HugeAllocationError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`allocation of ${bytes} bytes exceeds the fuzzing bound of ${limit} bytes`);
    this.name = 'HugeAllocationError';
  }
}

export function installAllocGuard(limit: number): AllocGuard {
  let violation = 0;
  const check = (bytes: number): void => {
    if (bytes > limit) {
      if (violation === 0) violation = bytes;
      throw new HugeAllocationError(bytes, limit);
    }
  };
  const g = globalThis as unknown as Record<string, unknown>;
  const typed = [
    'Int8Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'Float32Array',
    'Float64Array',
    'BigInt64Array',
    'BigUint64Array',
  ];
  for (const name of typed) {
    const Ctor = g[name] as { BYTES_PER_ELEMENT: number } & (new (...a: unknown[]) => unknown);
    const bpe = Ctor.BYTES_PER_ELEMENT;
    g[name] = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') check(args[0] * bpe);
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  for (const name of ['ArrayBuffer', 'SharedArrayBuffer']) {
    const Ctor = g[name] as new (...a: unknown[]) => unknown;
    g[name] = new Proxy(Ctor, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') check(args[0]);
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  const B = Buffer as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
    const orig = B[name]!.bind(Buffer);
    // A plain function, not an arrow: some libraries (cbor-x) call `new Buffer.allocUnsafeSlow(n)`,
    // which works because the returned Buffer replaces the constructed object.
    B[name] = function guardedBufferFactory(size: unknown, ...rest: unknown[]) {
      if (typeof size === 'number') check(size);
      return orig(size, ...rest);
    };
  }
  return {
    violation: () => violation,
    reset: () => {
      violation = 0;
    },
  };
}
