import { createServer } from 'node:net';
import { FramedSocket } from '../src/transports/socket.js';

describe('FramedSocket against a hostile peer', () => {
  test('a peer flooding unasked-for bytes is cut off with a typed LimitError, not buffered without bound', async () => {
    const server = createServer((c) => {
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const flood = (): void => {
        while (c.writable && c.write(chunk)) {
          // keep writing until the socket pushes back
        }
      };
      c.on('drain', flood);
      c.on('error', () => {});
      flood();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const s = await FramedSocket.open('127.0.0.1', port, 'test TPM');
      // Never read: the flood must trip the bound. Then a read reports the typed error.
      await new Promise((r) => setTimeout(r, 300));
      await expect(s.read(10)).rejects.toMatchObject({ code: 'TPM2_TRANSPORT_FLOOD' });
      await s.close();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
