import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError } from '@lsvm/core';
import { TpmError } from './rc.js';
import { Tpm } from './tpm.js';
import { SwtpmTransport } from './transports/swtpm.js';

/** A running software TPM started by {@link startSwtpm}. */
export interface SwtpmInstance {
  /** Data port on 127.0.0.1 (the control port is port + 1, as tpm2-tss expects). */
  port: number;
  ctrlPort: number;
  /** TCTI string for tpm2-tools: `swtpm:host=127.0.0.1,port=P`. */
  tcti: string;
  stateDir: string;
  /** Opens a client connection. swtpm serves one connection at a time: close it before tpm2-tools run. */
  connect(): Promise<Tpm>;
  /** Stops this swtpm (by its own child handle) and removes its state directory. */
  stop(): Promise<void>;
}

function freePortPair(): Promise<number> {
  const tryOnce = (): Promise<number | undefined> =>
    new Promise((resolve) => {
      const a = createServer();
      a.once('error', () => resolve(undefined));
      a.listen(0, '127.0.0.1', () => {
        const p = (a.address() as { port: number }).port;
        const b = createServer();
        b.once('error', () => a.close(() => resolve(undefined)));
        b.listen(p + 1, '127.0.0.1', () => b.close(() => a.close(() => resolve(p < 65534 ? p : undefined))));
      });
    });
  return (async () => {
    for (let i = 0; i < 20; i++) {
      const p = await tryOnce();
      if (p !== undefined) return p;
    }
    throw new IoError('SWTPM_NO_PORT', 'no free loopback port pair');
  })();
}

async function waitConnectable(port: number, child: ChildProcess, deadline: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new IoError('SWTPM_EXITED', `swtpm exited with ${child.exitCode}`);
    try {
      const t = await SwtpmTransport.connect({ port });
      await t.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new IoError('SWTPM_TIMEOUT', 'swtpm did not start listening');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts `swtpm socket --tpm2` on two free loopback ports with a fresh temporary state directory
 * and `--flags not-need-init,startup-clear` (so it is ready for commands at once). Used by tests,
 * examples and the demo; the instance is stopped through its own child-process handle.
 */
export async function startSwtpm(o: { swtpmPath?: string; timeoutMs?: number } = {}): Promise<SwtpmInstance> {
  const stateDir = mkdtempSync(join(tmpdir(), 'lsvm-swtpm-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePortPair();
    const child = spawn(
      o.swtpmPath ?? 'swtpm',
      [
        'socket',
        '--tpm2',
        '--server',
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl',
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        '--tpmstate',
        `dir=${stateDir}`,
        '--flags',
        'not-need-init,startup-clear',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (e) =>
        reject(new IoError('SWTPM_SPAWN', `cannot run swtpm: ${e.message}`, { cause: e })),
      ),
    );
    try {
      await Promise.race([waitConnectable(port, child, Date.now() + (o.timeoutMs ?? 10_000)), spawnError]);
    } catch (e) {
      lastError = new IoError('SWTPM_START', `${(e as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`, {
        cause: e,
      });
      if (child.exitCode === null) child.kill('SIGKILL');
      continue;
    }
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(stateDir, { recursive: true, force: true });
    };
    return {
      port,
      ctrlPort: port + 1,
      tcti: `swtpm:host=127.0.0.1,port=${port}`,
      stateDir,
      connect: async () => new Tpm(await SwtpmTransport.connect({ port })),
      stop,
    };
  }
  rmSync(stateDir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new IoError('SWTPM_START', 'swtpm did not start');
}

/**
 * A VM reboot on a swtpm: power cycle through the control channel (CMD_INIT), then
 * TPM2_Startup(CLEAR). PCRs go back to zero; seeds, persistent objects and NV stay — what a guest
 * sees after a reboot. With `resetLockout` (default true) the dictionary-attack counter is cleared
 * as an owner would, since lsvmload's sealed object is DA-protected and boot tests provoke
 * authorization failures on purpose. Returns a connected client; close it when done.
 */
export async function rebootSwtpm(
  sw: Pick<SwtpmInstance, 'port'>,
  o: { resetLockout?: boolean } = {},
): Promise<Tpm> {
  const t = await SwtpmTransport.connect({ port: sw.port });
  await t.init();
  const tpm = new Tpm(t);
  try {
    await tpm.startup(true);
  } catch (e) {
    // A swtpm started with startup-clear may already be initialised.
    if (!(e instanceof TpmError && e.code === 'TPM2_RC_INITIALIZE')) throw e;
  }
  if (o.resetLockout ?? true) await tpm.dictionaryAttackLockReset();
  return tpm;
}
