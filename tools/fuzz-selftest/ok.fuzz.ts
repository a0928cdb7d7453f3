// Self-test target: a well-behaved parser — only LsvmErrors escape.
import { ByteReader } from '../../packages/core/src/index.js';

export function fuzz(data: Buffer): void {
  const r = new ByteReader(data, { structure: 'self-test record' });
  const n = r.u16();
  r.bytesView(n, 'payload');
}
