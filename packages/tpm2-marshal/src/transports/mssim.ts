import { IoError } from '@lsvm/core';
import { FramedSocket } from './socket.js';
import { readTpmFrame } from './swtpm.js';
import { SerialQueue, type TpmTransport } from './transport.js';

/**
 * The Microsoft / IBM simulator protocol (the reference implementation's `TcpServer.c`, and
 * tpm2-tss's `mssim` TCTI). Command port: `TPM_SEND_COMMAND` (u32 8), locality (u8), size (u32),
 * command; answered by size (u32), response, and a u32 zero acknowledgement. Platform port (by
 * convention command port + 1): u32 signals such as POWER_ON (1) and NV_ON (11), each answered by
 * a u32 zero.
 */
export const MSSIM = {
  SIGNAL_POWER_ON: 1,
  SIGNAL_POWER_OFF: 2,
  SEND_COMMAND: 8,
  SIGNAL_NV_ON: 11,
  SIGNAL_NV_OFF: 12,
  SESSION_END: 20,
  STOP: 21,
} as const;

export class MssimTransport implements TpmTransport {
  private readonly q = new SerialQueue();

  private constructor(
    private readonly cmd: FramedSocket,
    private readonly platform: FramedSocket,
    private readonly locality: number,
  ) {}

  /** Connects both ports. `powerUp` sends POWER_ON then NV_ON (what tpm2-tss does on first use). */
  static async connect(options: {
    host?: string;
    port: number;
    platformPort?: number;
    locality?: number;
    powerUp?: boolean;
    /** Read timeout per answer, milliseconds (default 120 s). */
    timeoutMs?: number;
  }): Promise<MssimTransport> {
    const host = options.host ?? '127.0.0.1';
    const cmd = await FramedSocket.open(host, options.port, 'mssim');
    const platform = await FramedSocket.open(
      host,
      options.platformPort ?? options.port + 1,
      'mssim platform',
    );
    if (options.timeoutMs !== undefined) {
      cmd.timeoutMs = options.timeoutMs;
      platform.timeoutMs = options.timeoutMs;
    }
    const t = new MssimTransport(cmd, platform, options.locality ?? 0);
    if (options.powerUp ?? true) {
      await t.signal(MSSIM.SIGNAL_POWER_ON);
      await t.signal(MSSIM.SIGNAL_NV_ON);
    }
    return t;
  }

  /** Sends one platform signal and checks its acknowledgement. */
  signal(sig: number): Promise<void> {
    return this.q.run(async () => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(sig, 0);
      this.platform.write(b);
      const ack = await this.platform.u32();
      if (ack !== 0) throw new IoError('TPM2_TRANSPORT', `mssim signal ${sig} answered ${ack}`);
    });
  }

  send(command: Uint8Array): Promise<Uint8Array> {
    return this.q.run(async () => {
      const head = Buffer.alloc(9);
      head.writeUInt32BE(MSSIM.SEND_COMMAND, 0);
      head.writeUInt8(this.locality, 4);
      head.writeUInt32BE(command.length, 5);
      this.cmd.write(Buffer.concat([head, command]));
      const size = await this.cmd.u32();
      const resp = await readTpmFrame(this.cmd);
      if (resp.length !== size)
        throw new IoError(
          'TPM2_TRANSPORT',
          `mssim size ${size} disagrees with the response's ${resp.length}`,
        );
      const ack = await this.cmd.u32();
      if (ack !== 0) throw new IoError('TPM2_TRANSPORT', `mssim command acknowledgement ${ack}`);
      return resp;
    });
  }

  async close(): Promise<void> {
    try {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(MSSIM.SESSION_END, 0);
      this.cmd.write(b);
      this.platform.write(b);
    } catch {
      // already gone
    }
    await Promise.all([this.cmd.close(), this.platform.close()]);
  }
}
