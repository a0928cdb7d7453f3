import { type Server, type Socket, createServer } from 'node:net';
import { describeWithPeers } from '@lsvm/testkit';
import {
  MSSIM,
  MssimTransport,
  SwtpmTransport,
  Tpm,
  type SwtpmInstance,
  TPM_ALG,
  openTcti,
  parsePcrSelection,
  startSwtpm,
} from '../src/index.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * A minimal simulator-protocol front end for swtpm (the server side of the mssim framing), so the
 * same bytes can be driven by tpm2-tools' `mssim` TCTI and by our MssimTransport.
 */
async function mssimBridge(
  swPort: number,
): Promise<{ port: number; signals: number[]; close: () => Promise<void> }> {
  const signals: number[] = [];
  const sockets = new Set<Socket>();
  const reader = (s: Socket) => {
    let buf = Buffer.alloc(0);
    let waiting: { n: number; resolve: (b: Buffer) => void } | undefined;
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (waiting && buf.length >= waiting.n) {
        const w = waiting;
        waiting = undefined;
        const out = buf.subarray(0, w.n);
        buf = buf.subarray(w.n);
        w.resolve(out);
      }
    });
    return (n: number) =>
      new Promise<Buffer>((resolve) => {
        if (buf.length >= n) {
          const out = buf.subarray(0, n);
          buf = buf.subarray(n);
          resolve(out);
        } else waiting = { n, resolve };
      });
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0, 0);
    return b;
  };
  const command: Server = createServer(async (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const read = reader(s);
    const tpm = await SwtpmTransport.connect({ port: swPort });
    s.on('close', () => void tpm.close());
    for (;;) {
      const cmd = (await read(4)).readUInt32BE(0);
      if (cmd === MSSIM.SEND_COMMAND) {
        await read(1);
        const size = (await read(4)).readUInt32BE(0);
        const resp = await tpm.send(new Uint8Array(await read(size)));
        s.write(Buffer.concat([u32(resp.length), resp, u32(0)]));
      } else if (cmd === MSSIM.SESSION_END) {
        s.end();
        return;
      } else s.write(u32(0));
    }
  });
  const platform: Server = createServer(async (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const read = reader(s);
    for (;;) {
      const sig = (await read(4)).readUInt32BE(0);
      signals.push(sig);
      if (sig === MSSIM.SESSION_END) {
        s.end();
        return;
      }
      s.write(u32(0));
    }
  });
  const listen = (server: Server, port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  // The simulator protocol puts the platform port at command port + 1. The command port is
  // ephemeral, and port + 1 may already be taken (by another test's swtpm, say): then both are
  // released and another pair is tried, rather than failing with EADDRINUSE.
  for (let attempt = 1; ; attempt++) {
    await listen(command, 0);
    const port = (command.address() as { port: number }).port;
    try {
      await listen(platform, port + 1);
    } catch (e) {
      await new Promise((r) => command.close(r));
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw e;
      continue;
    }
    return {
      port,
      signals,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise((r) => command.close(r)), new Promise((r) => platform.close(r))]);
      },
    };
  }
}

test('a silent TPM times out with TPM2_TIMEOUT instead of hanging', async () => {
  const conns: Socket[] = [];
  const server = createServer((c) => void conns.push(c));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    const t = await SwtpmTransport.connect({ port, timeoutMs: 200 });
    const tpm = new Tpm(t);
    await expect(tpm.getRandom(4)).rejects.toMatchObject({ code: 'TPM2_TIMEOUT', kind: 'io' });
    await tpm.close();
  } finally {
    for (const c of conns) c.destroy();
    await new Promise((r) => server.close(r));
  }
});

describeWithPeers(['swtpm', 'tpm2_getrandom'], 'transports: swtpm TCP, mssim framing, TCTI strings', () => {
  let sw: SwtpmInstance;
  beforeAll(async () => {
    sw = await startSwtpm();
  });
  afterAll(async () => {
    await sw?.stop();
  });

  test('mssim: tpm2-tools and MssimTransport both work through the simulator framing', async () => {
    const bridge = await mssimBridge(sw.port);
    try {
      // Asynchronous spawn: the bridge runs on this event loop.
      const viaTools = await execFileAsync('tpm2_getrandom', ['8', '--hex'], {
        env: { ...process.env, TPM2TOOLS_TCTI: `mssim:host=127.0.0.1,port=${bridge.port}` },
        timeout: 20_000,
      });
      expect(viaTools.stdout).toMatch(/^[0-9a-f]{16}$/);
      const t = await openTcti(`mssim:host=127.0.0.1,port=${bridge.port}`);
      expect(t).toBeInstanceOf(MssimTransport);
      const tpm = new Tpm(t);
      expect((await tpm.getRandom(40)).length).toBe(40);
      const pcrs = await tpm.pcrRead(parsePcrSelection('sha256:0-9'));
      expect(pcrs.length).toBe(10);
      await tpm.close();
      expect(bridge.signals.slice(0, 2)).toEqual([MSSIM.SIGNAL_POWER_ON, MSSIM.SIGNAL_NV_ON]);
    } finally {
      await bridge.close();
    }
  });

  test('swtpm control channel and concurrent commands over one connection', async () => {
    const t = await SwtpmTransport.connect({ port: sw.port });
    const tpm = new Tpm(t);
    const all = await Promise.all(Array.from({ length: 8 }, () => tpm.getRandom(8)));
    expect(new Set(all.map((b) => Buffer.from(b).toString('hex'))).size).toBe(8);
    const v = await tpm.pcrRead([{ hash: TPM_ALG.SHA256, pcrs: [0] }]);
    expect(v[0]!.value.length).toBe(32);
    // CMD_GET_CAPABILITY on the control channel answers with a result code of 0.
    expect(await t.control(1)).toBe(0);
    await tpm.close();
  });
});
