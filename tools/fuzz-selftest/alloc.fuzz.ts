// Self-test target with a planted huge allocation: it trusts a 32-bit length field.
export function fuzz(data: Buffer): void {
  if (data.length < 4) return;
  const n = data.readUInt32LE(0);
  const buf = new Uint8Array(n);
  buf[0] = 1;
}
