import { runCli } from './program.js';

// The `lsvm` binary: real process streams, then exit with the code runCli returns.
// (No top-level await: the CJS build of this file must load too.)
void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  },
}).then((code) => {
  process.exitCode = code;
});
