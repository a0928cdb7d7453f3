import { type FileHandle, open } from 'node:fs/promises';
import { IoError } from '@lsvm/core';
import { HEADER_SIZE, MAX_MESSAGE_SIZE } from '../command.js';
import { SerialQueue, type TpmTransport } from './transport.js';

/**
 * A Linux TPM character device: `/dev/tpmrm0` (the kernel resource manager, recommended) or
 * `/dev/tpm0`. The kernel driver takes one whole command per write(2) and returns one whole
 * response per read(2).
 */
export class DeviceTransport implements TpmTransport {
  private readonly q = new SerialQueue();
  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
  ) {}

  static async open(path = '/dev/tpmrm0'): Promise<DeviceTransport> {
    try {
      return new DeviceTransport(await open(path, 'r+'), path);
    } catch (e) {
      throw new IoError('TPM2_TRANSPORT', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  send(command: Uint8Array): Promise<Uint8Array> {
    return this.q.run(async () => {
      const w = await this.fh.write(command, 0, command.length, null);
      if (w.bytesWritten !== command.length)
        throw new IoError(
          'TPM2_TRANSPORT',
          `${this.path}: short write (${w.bytesWritten} of ${command.length})`,
        );
      const buf = new Uint8Array(MAX_MESSAGE_SIZE);
      const r = await this.fh.read(buf, 0, buf.length, null);
      if (r.bytesRead < HEADER_SIZE)
        throw new IoError('TPM2_TRANSPORT', `${this.path}: short response (${r.bytesRead} bytes)`);
      return buf.slice(0, r.bytesRead);
    });
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
