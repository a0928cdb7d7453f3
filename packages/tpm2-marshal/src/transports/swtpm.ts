import { IoError, LimitError } from '@lsvm/core';
import { HEADER_SIZE, MAX_MESSAGE_SIZE } from '../command.js';
import { FramedSocket } from './socket.js';
import { SerialQueue, type TpmTransport } from './transport.js';

/** swtpm control-channel commands (swtpm's `tpm_ioctl.h`, the CMD_* values). */
export const SWTPM_CTRL = {
  GET_CAPABILITY: 1,
  INIT: 2,
  SHUTDOWN: 3,
  STOP: 14,
} as const;

/** Reads one TPM response frame (header, then the size it declares). */
export async function readTpmFrame(s: FramedSocket): Promise<Uint8Array> {
  const head = await s.read(HEADER_SIZE);
  const size = head.readUInt32BE(2);
  if (size < HEADER_SIZE || size > MAX_MESSAGE_SIZE)
    throw new LimitError('TPM2_RESPONSE_SIZE', `TPM response declares ${size} bytes`, {
      structure: 'TPM response',
    });
  const rest = size > HEADER_SIZE ? await s.read(size - HEADER_SIZE) : Buffer.alloc(0);
  const out = new Uint8Array(size);
  out.set(head, 0);
  out.set(rest, HEADER_SIZE);
  return out;
}

/**
 * swtpm's TCP server (`swtpm socket --server type=tcp,port=P`): raw TPM commands on the data
 * socket, no framing; optional control socket (`--ctrl type=tcp,port=C`) for init and shutdown.
 * The same protocol tpm2-tss's `swtpm` TCTI speaks.
 */
export class SwtpmTransport implements TpmTransport {
  private readonly q = new SerialQueue();

  private constructor(
    private readonly data: FramedSocket,
    private readonly host: string,
    private readonly ctrlPort: number | undefined,
  ) {}

  /** Connects to swtpm's data port; `ctrlPort` defaults to port + 1 as tpm2-tss assumes. */
  static async connect(options: {
    host?: string;
    port: number;
    ctrlPort?: number;
    timeoutMs?: number;
  }): Promise<SwtpmTransport> {
    const host = options.host ?? '127.0.0.1';
    const data = await FramedSocket.open(host, options.port, 'swtpm');
    if (options.timeoutMs !== undefined) data.timeoutMs = options.timeoutMs;
    return new SwtpmTransport(data, host, options.ctrlPort ?? options.port + 1);
  }

  send(command: Uint8Array): Promise<Uint8Array> {
    return this.q.run(async () => {
      this.data.write(command);
      return readTpmFrame(this.data);
    });
  }

  /**
   * Sends one control command on a fresh control connection and returns its u32 result (0 =
   * success). CMD_INIT takes a u32 flags word; CMD_SHUTDOWN none.
   */
  async control(cmd: number, payload: Uint8Array = new Uint8Array(0)): Promise<number> {
    if (this.ctrlPort === undefined) throw new IoError('TPM2_TRANSPORT', 'swtpm: no control port');
    const c = await FramedSocket.open(this.host, this.ctrlPort, 'swtpm control');
    try {
      const msg = Buffer.alloc(4 + payload.length);
      msg.writeUInt32BE(cmd, 0);
      msg.set(payload, 4);
      c.write(msg);
      return await c.u32();
    } finally {
      await c.close();
    }
  }

  /** CMD_INIT: powers the TPM on (it then needs TPM2_Startup unless started with startup-clear). */
  async init(): Promise<void> {
    const rc = await this.control(SWTPM_CTRL.INIT, new Uint8Array(4));
    if (rc !== 0) throw new IoError('TPM2_TRANSPORT', `swtpm CMD_INIT failed with 0x${rc.toString(16)}`);
  }

  /** CMD_SHUTDOWN: makes swtpm save state and exit. */
  async shutdown(): Promise<void> {
    const rc = await this.control(SWTPM_CTRL.SHUTDOWN);
    if (rc !== 0) throw new IoError('TPM2_TRANSPORT', `swtpm CMD_SHUTDOWN failed with 0x${rc.toString(16)}`);
  }

  close(): Promise<void> {
    return this.data.close();
  }
}
