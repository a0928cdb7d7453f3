/**
 * A way to reach a TPM: one whole command in, one whole response out. Implementations serialise
 * calls themselves, so a client may issue commands concurrently without interleaving bytes.
 */
export interface TpmTransport {
  /** Sends a marshalled command and resolves with the marshalled response. */
  send(command: Uint8Array): Promise<Uint8Array>;
  /** Releases the connection or device. */
  close(): Promise<void>;
}

/** Runs async jobs one at a time (a TPM processes one command at a time). */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.tail.then(job, job);
    this.tail = p.catch(() => undefined);
    return p;
  }
}
