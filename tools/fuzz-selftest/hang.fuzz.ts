// Self-test target with a planted hang: an endless loop when the input holds the byte 0xEE.
export function fuzz(data: Buffer): void {
  if (data.includes(0xee)) {
    let x = 0;
    for (;;) x = (x + 1) | 0;
  }
}
