// Self-test target with a planted bug: a TypeError when the first byte is 0x42.
export function fuzz(data: Buffer): void {
  if (data.length > 0 && data[0] === 0x42) {
    const o: { f?: () => void } = {};
    o.f!();
  }
}
