import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '@lsvm/testkit';
import type { SwtpmInstance } from '../src/index.js';

/** Runs a tpm2-tools command against the suite's swtpm; returns the raw result. */
export function tools(sw: SwtpmInstance, cmd: string, args: string[], input?: string | Uint8Array) {
  return run(cmd, args, {
    env: { ...process.env, TPM2TOOLS_TCTI: sw.tcti },
    ...(input !== undefined ? { input } : {}),
  });
}

/** Like {@link tools} but throws with stderr on failure. */
export function toolsOk(sw: SwtpmInstance, cmd: string, args: string[], input?: string | Uint8Array): string {
  const r = tools(sw, cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
export const readBytes = (dir: string, f: string): Uint8Array => new Uint8Array(readFileSync(join(dir, f)));
export const writeBytes = (dir: string, f: string, b: Uint8Array): void => writeFileSync(join(dir, f), b);

/** True when `needle` occurs in `hay`. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
}
