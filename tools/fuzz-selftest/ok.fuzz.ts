// Self-test target: a well-behaved parser — only LsvmErrors escape.
import { ByteReader } from '../../packages/core/src/index.js';

export function fuzz(data: Buffer): void {
  constructBufferFactory();
  const r = new ByteReader(data, { structure: 'self-test record' });
  const n = r.u16();
  r.bytesView(n, 'payload');
}

// Libraries call Buffer factories with `new` (cbor-x does): the allocation guard must allow it.
export function constructBufferFactory(): Buffer {
  const Factory = Buffer.allocUnsafeSlow as unknown as new (n: number) => Buffer;
  return new Factory(16);
}
