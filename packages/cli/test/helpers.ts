import { type CliIo, runCli } from '../src/index.js';

/** Runs the CLI in-process with captured streams. */
export async function lsvm(
  args: string[],
  options: { stdin?: Uint8Array; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string; stdoutBytes: Buffer }> {
  const out: Buffer[] = [];
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string | Uint8Array) => out.push(Buffer.from(s)) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => options.stdin ?? new Uint8Array(0),
    env: options.env ?? {},
  };
  const code = await runCli(args, io);
  const stdoutBytes = Buffer.concat(out);
  return { code, stdout: stdoutBytes.toString('utf8'), stderr, stdoutBytes };
}
