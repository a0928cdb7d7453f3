import { type Socket, connect } from 'node:net';
import { IoError, LimitError } from '@lsvm/core';

/** Most bytes held unread; TPM responses are at most a few KiB (TPM2_MAX_RESPONSE_SIZE is 4096 on most TPMs). */
const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * A TCP connection with an exact-length read primitive, shared by the swtpm and mssim transports.
 * Bytes arrive in arbitrary chunks; `read(n)` resolves once `n` are buffered.
 */
export class FramedSocket {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private error: Error | undefined;

  private constructor(
    private readonly sock: Socket,
    private readonly what: string,
  ) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      // A TPM answers what it is asked; a peer that streams unasked-for bytes is hostile or broken.
      // Bound what we hold rather than buffer it without limit.
      if (this.buf.length > MAX_BUFFERED_BYTES) {
        this.buf = Buffer.alloc(0);
        fail(
          new LimitError(
            'TPM2_TRANSPORT_FLOOD',
            `${what}: peer sent more than ${MAX_BUFFERED_BYTES} unread bytes`,
          ),
        );
        sock.destroy();
        return;
      }
      this.pump();
    });
    const fail = (e: Error): void => {
      this.error ??= e;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.error);
    };
    sock.on('error', (e) => fail(new IoError('TPM2_TRANSPORT', `${what}: ${e.message}`, { cause: e })));
    sock.on('close', () => fail(new IoError('TPM2_TRANSPORT', `${what}: connection closed`)));
  }

  /** Connects to host:port. */
  static open(host: string, port: number, what: string, timeoutMs = 10_000): Promise<FramedSocket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      const t = setTimeout(() => {
        s.destroy();
        reject(new IoError('TPM2_TRANSPORT', `${what}: connect to ${host}:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        s.setNoDelay(true);
        resolve(new FramedSocket(s, what));
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(
          new IoError('TPM2_TRANSPORT', `${what}: cannot connect to ${host}:${port}: ${e.message}`, {
            cause: e,
          }),
        );
      });
    });
  }

  private pump(): void {
    const w = this.waiter;
    if (!w || this.buf.length < w.n) return;
    const out = this.buf.subarray(0, w.n);
    this.buf = this.buf.subarray(w.n);
    this.waiter = undefined;
    w.resolve(Buffer.from(out));
  }

  write(b: Uint8Array): void {
    if (this.error) throw this.error;
    this.sock.write(b);
  }

  /**
   * Resolves with exactly `n` bytes. A peer silent for `timeoutMs` (default 120 s: an RSA-4096
   * key generation on a slow TPM takes tens of seconds) fails with `TPM2_TIMEOUT` and closes the
   * connection, since a late answer would desynchronise the stream.
   */
  read(n: number, timeoutMs = this.timeoutMs): Promise<Buffer> {
    if (this.waiter) return Promise.reject(new IoError('TPM2_TRANSPORT', `${this.what}: concurrent read`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.resolve !== done) return;
        this.waiter = undefined;
        this.error ??= new IoError('TPM2_TIMEOUT', `${this.what}: no answer within ${timeoutMs} ms`);
        this.sock.destroy();
        reject(this.error);
      }, timeoutMs);
      timer.unref();
      const done = (b: Buffer): void => {
        clearTimeout(timer);
        resolve(b);
      };
      this.waiter = {
        n,
        resolve: done,
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (this.buf.length >= n) this.pump();
      else if (this.error) {
        this.waiter = undefined;
        clearTimeout(timer);
        reject(this.error);
      }
    });
  }

  /** Default read timeout in milliseconds. */
  timeoutMs = 120_000;

  async u32(): Promise<number> {
    return (await this.read(4)).readUInt32BE(0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.sock.destroyed) return resolve();
      this.sock.once('close', () => resolve());
      this.sock.end();
      setTimeout(() => {
        this.sock.destroy();
        resolve();
      }, 500).unref();
    });
  }
}
